#!/usr/bin/env bash
# The test command: installs what the tests need (scripts/install-test-deps.sh),
# then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
export CAIRN_TEST_PYTHON="$PWD/target/test-venv/bin/python"
cargo test --workspace --locked "$@"
