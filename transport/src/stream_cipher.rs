//! Per-stream encryption: the stream header, the frame format and the two
//! AEADs a stream may use.
//!
//! Each direction of a data stream has its own random 32-byte key per epoch,
//! delivered over the control stream. Because keys are fresh random values
//! and never reused, the nonce is simply the frame's index within its epoch.
//! The AEADs are ring's (the fastest we measured, see docs/BENCHMARKS.md);
//! ring does not wipe its key schedules, so [`WipedKey`] overwrites the
//! memory of a key the moment it is dropped.
//!
//! Frame: `epoch u32 | length u32 | ciphertext (length) | tag (16)`, the
//! 8-byte head authenticated as associated data.

use ring::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::wiped_key::WipedKey;

/// Bytes before the ciphertext of a frame.
pub const FRAME_HEAD: usize = 8;
/// AEAD tag length.
pub const TAG: usize = 16;
/// Version byte of the stream header.
pub const STREAM_HEADER_VERSION: u8 = 1;
/// Longest protocol name.
pub const MAX_PROTOCOL_LEN: usize = 64;

/// AEAD of a stream direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CipherKind {
    /// ChaCha20-Poly1305 (RFC 8439), wire value 1.
    #[serde(rename = "chacha20-poly1305")]
    ChaCha20Poly1305,
    /// AES-256-GCM, wire value 2.
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
}

impl CipherKind {
    /// Wire value.
    pub fn to_wire(self) -> u8 {
        match self {
            CipherKind::ChaCha20Poly1305 => 1,
            CipherKind::Aes256Gcm => 2,
        }
    }
    /// From the wire value.
    pub fn from_wire(v: u8) -> Option<CipherKind> {
        match v {
            1 => Some(CipherKind::ChaCha20Poly1305),
            2 => Some(CipherKind::Aes256Gcm),
            _ => None,
        }
    }
}

/// Why a stream frame or header was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamFrameError {
    /// Frame longer than the configured maximum.
    #[error("stream frame of {0} bytes exceeds the limit")]
    TooLong(u32),
    /// Authentication failed.
    #[error("stream frame failed to decrypt")]
    Decrypt,
    /// Nonce space of one key exhausted.
    #[error("nonce space exhausted")]
    NonceExhausted,
    /// Unknown header version.
    #[error("unknown stream header version {0}")]
    HeaderVersion(u8),
    /// Protocol name empty, too long or not printable ASCII.
    #[error("bad protocol name")]
    BadProtocol,
}

/// One direction's key for one epoch.
pub struct StreamKey {
    kind: CipherKind,
    epoch: u32,
    counter: u64,
    aead: WipedKey,
}

impl std::fmt::Debug for StreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamKey")
            .field("kind", &self.kind)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

fn nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

impl StreamKey {
    /// A key from raw bytes.
    pub fn new(kind: CipherKind, epoch: u32, key: &[u8; 32]) -> StreamKey {
        let alg = match kind {
            CipherKind::ChaCha20Poly1305 => &CHACHA20_POLY1305,
            CipherKind::Aes256Gcm => &AES_256_GCM,
        };
        // Both algorithms take 32-byte keys, so this cannot fail.
        let unbound = UnboundKey::new(alg, key).unwrap_or_else(|_| unreachable!("32-byte key"));
        StreamKey {
            kind,
            epoch,
            counter: 0,
            aead: WipedKey::new(LessSafeKey::new(unbound)),
        }
    }
    /// A fresh random key, returned with its bytes for sending to the peer.
    pub fn random(kind: CipherKind, epoch: u32) -> (StreamKey, Zeroizing<[u8; 32]>) {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes[..]);
        (StreamKey::new(kind, epoch, &bytes), bytes)
    }
    /// The cipher.
    pub fn kind(&self) -> CipherKind {
        self.kind
    }
    /// The epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Seals `buf[FRAME_HEAD..FRAME_HEAD + len]` in place: writes the head
    /// and appends the tag. `buf` must hold `FRAME_HEAD + len + TAG` bytes.
    /// Returns the frame's total length.
    pub fn seal(&mut self, buf: &mut [u8], len: usize) -> Result<usize, StreamFrameError> {
        if self.counter == u64::MAX {
            return Err(StreamFrameError::NonceExhausted);
        }
        let n = nonce(self.counter);
        self.counter += 1;
        let len32 = u32::try_from(len).map_err(|_| StreamFrameError::TooLong(u32::MAX))?;
        let (head, rest) = buf.split_at_mut(FRAME_HEAD);
        head[..4].copy_from_slice(&self.epoch.to_be_bytes());
        head[4..].copy_from_slice(&len32.to_be_bytes());
        let (body, tail) = rest.split_at_mut(len);
        let tag = self
            .aead
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(n), Aad::from(&*head), body)
            .map_err(|_| StreamFrameError::Decrypt)?;
        tail[..TAG].copy_from_slice(tag.as_ref());
        Ok(FRAME_HEAD + len + TAG)
    }

    /// Opens a frame whose head is `head` and whose ciphertext+tag is `body`,
    /// in place; returns the plaintext length.
    pub fn open(
        &mut self,
        head: &[u8; FRAME_HEAD],
        body: &mut [u8],
    ) -> Result<usize, StreamFrameError> {
        if self.counter == u64::MAX {
            return Err(StreamFrameError::NonceExhausted);
        }
        let Some(len) = body.len().checked_sub(TAG) else {
            return Err(StreamFrameError::Decrypt);
        };
        let (ct, tag) = body.split_at_mut(len);
        let tag = Tag::try_from(&*tag).map_err(|_| StreamFrameError::Decrypt)?;
        let n = nonce(self.counter);
        self.aead
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(n),
                Aad::from(head),
                tag,
                ct,
                0..,
            )
            .map_err(|_| StreamFrameError::Decrypt)?;
        self.counter += 1;
        Ok(len)
    }
}

/// A parsed frame head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    /// Key epoch.
    pub epoch: u32,
    /// Plaintext length.
    pub len: u32,
}

/// Parses a frame head, refusing lengths above `max_len`.
pub fn parse_head(head: &[u8; FRAME_HEAD], max_len: u32) -> Result<FrameHead, StreamFrameError> {
    let epoch = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    if len > max_len {
        return Err(StreamFrameError::TooLong(len));
    }
    Ok(FrameHead { epoch, len })
}

/// Whether a protocol name is acceptable: 1..=64 bytes of `[a-z0-9/._-]`.
pub fn valid_protocol(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= MAX_PROTOCOL_LEN
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"/._-".contains(&b))
}

/// Encodes the stream header: `version (1) | name length (1) | name`.
pub fn encode_header(protocol: &str) -> Result<Vec<u8>, StreamFrameError> {
    if !valid_protocol(protocol) {
        return Err(StreamFrameError::BadProtocol);
    }
    let mut v = Vec::with_capacity(2 + protocol.len());
    v.push(STREAM_HEADER_VERSION);
    v.push(protocol.len() as u8);
    v.extend_from_slice(protocol.as_bytes());
    Ok(v)
}

/// Checks the 2-byte start of a stream header; returns the name length.
pub fn parse_header_start(start: [u8; 2]) -> Result<usize, StreamFrameError> {
    if start[0] != STREAM_HEADER_VERSION {
        return Err(StreamFrameError::HeaderVersion(start[0]));
    }
    let len = usize::from(start[1]);
    if len == 0 || len > MAX_PROTOCOL_LEN {
        return Err(StreamFrameError::BadProtocol);
    }
    Ok(len)
}

/// Validates a protocol name read from the wire.
pub fn parse_protocol(name: &[u8]) -> Result<String, StreamFrameError> {
    let s = std::str::from_utf8(name).map_err(|_| StreamFrameError::BadProtocol)?;
    if !valid_protocol(s) {
        return Err(StreamFrameError::BadProtocol);
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(kind: CipherKind) {
        let (mut tx, bytes) = StreamKey::random(kind, 7);
        let mut rx = StreamKey::new(kind, 7, &bytes);
        for msg in [&b"hello"[..], &[0u8; 3000][..], b""] {
            let mut buf = vec![0u8; FRAME_HEAD + msg.len() + TAG];
            buf[FRAME_HEAD..FRAME_HEAD + msg.len()].copy_from_slice(msg);
            let n = tx.seal(&mut buf, msg.len()).unwrap();
            let head: [u8; 8] = buf[..8].try_into().unwrap();
            assert_eq!(
                parse_head(&head, 1 << 20).unwrap(),
                FrameHead {
                    epoch: 7,
                    len: msg.len() as u32
                }
            );
            let len = rx.open(&head, &mut buf[FRAME_HEAD..n]).unwrap();
            assert_eq!(&buf[FRAME_HEAD..FRAME_HEAD + len], msg);
        }
    }

    #[test]
    fn chacha_frames_round_trip() {
        round_trip(CipherKind::ChaCha20Poly1305);
    }

    #[test]
    fn aes_frames_round_trip() {
        round_trip(CipherKind::Aes256Gcm);
    }

    #[test]
    fn a_key_of_epoch_e_cannot_open_frames_of_epoch_e_plus_2() {
        for kind in [CipherKind::ChaCha20Poly1305, CipherKind::Aes256Gcm] {
            let (_, captured) = StreamKey::random(kind, 4);
            let (mut later, _) = StreamKey::random(kind, 6);
            let mut buf = vec![0u8; FRAME_HEAD + 100 + TAG];
            let n = later.seal(&mut buf, 100).unwrap();
            let head: [u8; 8] = buf[..8].try_into().unwrap();
            let mut thief = StreamKey::new(kind, 6, &captured);
            assert_eq!(
                thief.open(&head, &mut buf[FRAME_HEAD..n]),
                Err(StreamFrameError::Decrypt)
            );
        }
    }

    #[test]
    fn tampered_head_fails_authentication() {
        let (mut tx, bytes) = StreamKey::random(CipherKind::Aes256Gcm, 0);
        let mut rx = StreamKey::new(CipherKind::Aes256Gcm, 0, &bytes);
        let mut buf = vec![0u8; FRAME_HEAD + 10 + TAG];
        let n = tx.seal(&mut buf, 10).unwrap();
        let mut head: [u8; 8] = buf[..8].try_into().unwrap();
        head[3] ^= 1;
        assert!(rx.open(&head, &mut buf[FRAME_HEAD..n]).is_err());
    }

    #[test]
    fn oversized_head_is_refused() {
        let head = [0, 0, 0, 0, 0, 1, 0, 1];
        assert_eq!(
            parse_head(&head, 65536),
            Err(StreamFrameError::TooLong(65537))
        );
    }

    #[test]
    fn header_round_trips_and_rejects_bad_names() {
        let h = encode_header("dht/1").unwrap();
        let len = parse_header_start([h[0], h[1]]).unwrap();
        assert_eq!(parse_protocol(&h[2..2 + len]).unwrap(), "dht/1");
        assert!(encode_header("").is_err());
        assert!(encode_header("DHT").is_err());
        assert!(parse_header_start([2, 3]).is_err());
        assert!(parse_protocol(b"a b").is_err());
    }
}
