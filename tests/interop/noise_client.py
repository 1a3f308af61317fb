#!/usr/bin/env python3
"""An independent cairn/1 client, written from docs/PROTOCOL.md alone.

It uses the `noiseprotocol` package (not snow) to complete the
Noise_XX_25519_ChaChaPoly_BLAKE2s handshake with a running `cairn daemon`,
checks the daemon's identity payload (Ed25519 signature over
"cairn-noise-key:" || its Noise static key, and NodeId = BLAKE3(identity key)),
sends its own identity payload, then sends yamux Ping frames inside Noise
transport messages and waits for their ACKs.

Exit status 0 and one JSON line on stdout on success; a non-zero status and a
reason on stderr otherwise. With --bad-signature it sends a forged identity
signature in message 3 and proves the daemon closes the connection without
answering.
"""

import argparse
import base64
import json
import os
import socket
import struct
import sys

import blake3
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives import serialization
from cryptography.exceptions import InvalidSignature
from noise.connection import Keypair, NoiseConnection

PROTOCOL = b"Noise_XX_25519_ChaChaPoly_BLAKE2s"
PROLOGUE = b"cairn/1"
SIG_CONTEXT = b"cairn-noise-key:"
MAX_NOISE = 65535
YAMUX_PING = 2
FLAG_SYN = 1
FLAG_ACK = 2


def fail(msg):
    print(f"interop: {msg}", file=sys.stderr)
    sys.exit(1)


def raw(key):
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def node_id_text(identity_public):
    digest = blake3.blake3(identity_public).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by the daemon")
        buf += chunk
    return bytes(buf)


def send_frame(sock, msg):
    if len(msg) > MAX_NOISE:
        fail("frame too large")
    sock.sendall(struct.pack(">H", len(msg)) + bytes(msg))


def recv_frame(sock):
    (n,) = struct.unpack(">H", recv_exact(sock, 2))
    return recv_exact(sock, n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True, help="host:port of the daemon")
    ap.add_argument("--node-id", required=True, help="the daemon's NodeId (base32)")
    ap.add_argument("--pings", type=int, default=3)
    ap.add_argument("--bad-signature", action="store_true")
    args = ap.parse_args()

    host, port = args.addr.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)

    noise_static = x25519.X25519PrivateKey.generate()
    identity = ed25519.Ed25519PrivateKey.generate()
    static_private = noise_static.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )

    conn = NoiseConnection.from_name(PROTOCOL)
    conn.set_as_initiator()
    conn.set_keypair_from_private_bytes(Keypair.STATIC, static_private)
    conn.set_prologue(PROLOGUE)
    conn.start_handshake()

    # -> e
    send_frame(sock, conn.write_message(b""))
    # <- e, ee, s, es  + identity payload
    payload = bytes(conn.read_message(recv_frame(sock)))
    if len(payload) < 96:
        fail(f"identity payload is {len(payload)} bytes, expected at least 96")
    remote_identity, signature = payload[:32], payload[32:96]
    remote_static = conn.noise_protocol.handshake_state.rs.public_bytes
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(remote_identity).verify(
            signature, SIG_CONTEXT + remote_static
        )
    except InvalidSignature:
        fail("the daemon's identity signature does not verify")
    got_id = node_id_text(remote_identity)
    if got_id != args.node_id:
        fail(f"the daemon proved NodeId {got_id}, expected {args.node_id}")

    # -> s, se  + our identity payload
    our_sig = identity.sign(SIG_CONTEXT + raw(noise_static.public_key()))
    if args.bad_signature:
        our_sig = bytes([our_sig[0] ^ 1]) + our_sig[1:]
    send_frame(sock, conn.write_message(raw(identity.public_key()) + our_sig))
    if not conn.handshake_finished:
        fail("handshake did not finish after message 3")

    if args.bad_signature:
        try:
            ping = struct.pack(">BBHII", 0, YAMUX_PING, FLAG_SYN, 0, 1)
            send_frame(sock, conn.encrypt(ping))
            while True:
                conn.decrypt(recv_frame(sock))
                # Any answer after a forged signature is a failure of the daemon.
                fail("the daemon answered a peer whose identity signature is forged")
        except TimeoutError:
            fail("the daemon neither answered nor closed the connection within 10 s")
        except (ConnectionError, OSError) as e:
            print(json.dumps({"rejected": True, "reason": type(e).__name__}))
            return

    # yamux inside Noise: the yamux byte stream is cut into Noise messages.
    pending = {}
    for i in range(args.pings):
        opaque = int.from_bytes(os.urandom(4), "big")
        pending[opaque] = i
        header = struct.pack(">BBHII", 0, YAMUX_PING, FLAG_SYN, 0, opaque)
        send_frame(sock, conn.encrypt(header))

    stream = bytearray()
    answered = 0
    while pending:
        stream += conn.decrypt(recv_frame(sock))
        while len(stream) >= 12:
            version, ftype, flags, stream_id, length = struct.unpack(">BBHII", stream[:12])
            if version != 0:
                fail(f"yamux version {version}")
            body = length if ftype == 0 else 0  # only Data frames carry a body
            if len(stream) < 12 + body:
                break
            del stream[: 12 + body]
            if ftype == YAMUX_PING and flags & FLAG_ACK:
                if length not in pending:
                    fail(f"ping ACK for an opaque value never sent: {length}")
                del pending[length]
                answered += 1
    print(json.dumps({"node_id": got_id, "pings_answered": answered}))


if __name__ == "__main__":
    main()
