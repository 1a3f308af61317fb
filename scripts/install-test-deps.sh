#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain, on a fresh
# machine, idempotently:
#   - tmux, for the dashboard's end-to-end test (tests/dashboard_tmux.rs);
#   - a Python virtualenv (target/test-venv) with `noiseprotocol` and `blake3`,
#     for the interoperability test against an independent Noise implementation.
# Debian packages are installed with apt-get only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/test-venv
PY_PACKAGES=(noiseprotocol==0.3.1 blake3==1.0.11)

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "install-test-deps: apt-get install ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

if ! command -v tmux >/dev/null 2>&1; then
    echo "install-test-deps: tmux is missing (needed by tests/dashboard_tmux.rs); installing it"
    apt_install tmux
fi

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv
fi

marker="$VENV/.cairn-deps-$(printf '%s ' "${PY_PACKAGES[@]}" | sha256sum | cut -c1-16)"
if [ ! -f "$marker" ]; then
    rm -rf "$VENV"
    mkdir -p target
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
    touch "$marker"
fi
