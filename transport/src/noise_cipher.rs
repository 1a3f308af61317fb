//! The Noise transport phase's cipher (`ChaChaPoly` of
//! `Noise_XX_25519_ChaChaPoly_BLAKE2s`), sealing and opening in place.
//!
//! snow runs the handshake; its transport state would copy every message
//! once more (plaintext into the output before sealing, ciphertext into the
//! output before opening), which cost 13 % of a serving node's CPU in the
//! fetch profile (docs/BENCHMARKS.md). After the handshake the two split
//! keys are taken out of snow and used here with ring's ChaCha20-Poly1305,
//! in the connection's own buffers.
//!
//! Exactly Noise (revision 34) §5.1 and §11.3 with the ChaChaPoly functions
//! of §12.3: the nonce of message `n` (counted from 0 per direction) is 32
//! zero bits followed by `n` as 64 bits little-endian, the associated data is
//! empty, and `Rekey()` replaces the key with the first 32 bytes of
//! `ENCRYPT(k, 2^64 - 1, empty, 32 zero bytes)` without resetting `n`.
//! Tested against snow's own transport state in both directions, across
//! rekeys.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, Tag, UnboundKey};
use zeroize::Zeroizing;

use crate::frame::NOISE_TAG;
use crate::wiped_key::WipedKey;

/// Why a Noise transport message could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoiseCipherError {
    /// The message failed authentication (or is shorter than its tag).
    #[error("noise message failed to decrypt")]
    Decrypt,
    /// 2^64 - 1 messages were sent or received with this cipher state.
    #[error("noise nonce exhausted")]
    NonceExhausted,
    /// The buffer has no room for the tag.
    #[error("no room for the noise tag")]
    NoRoom,
}

/// One direction of a Noise transport: a key and its message counter.
pub struct NoiseCipher {
    key: WipedKey,
    n: u64,
}

impl std::fmt::Debug for NoiseCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseCipher")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

fn ring_key(key: &[u8; 32]) -> WipedKey {
    // A 32-byte key is always valid for ChaCha20-Poly1305.
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, key).expect("32-byte chacha20 key");
    WipedKey::new(LessSafeKey::new(unbound))
}

fn nonce(n: u64) -> Nonce {
    let mut b = [0u8; 12];
    b[4..].copy_from_slice(&n.to_le_bytes());
    Nonce::assume_unique_for_key(b)
}

impl NoiseCipher {
    /// A cipher state holding `key` with its counter at 0.
    pub fn new(key: &[u8; 32]) -> Self {
        NoiseCipher {
            key: ring_key(key),
            n: 0,
        }
    }

    /// Messages sealed or opened so far.
    pub fn messages(&self) -> u64 {
        self.n
    }

    fn next_nonce(&mut self) -> Result<Nonce, NoiseCipherError> {
        // 2^64 - 1 is reserved for Rekey().
        if self.n == u64::MAX {
            return Err(NoiseCipherError::NonceExhausted);
        }
        let n = nonce(self.n);
        self.n += 1;
        Ok(n)
    }

    /// Seals the plaintext `buf[..len]` in place and writes the tag after
    /// it; returns the message length (`len + 16`).
    pub fn seal_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, NoiseCipherError> {
        if buf.len() < len + NOISE_TAG {
            return Err(NoiseCipherError::NoRoom);
        }
        let nonce = self.next_nonce()?;
        let (body, tail) = buf.split_at_mut(len);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::empty(), body)
            .map_err(|_| NoiseCipherError::Decrypt)?;
        tail[..NOISE_TAG].copy_from_slice(tag.as_ref());
        Ok(len + NOISE_TAG)
    }

    /// Opens the message `buf` (ciphertext then tag) in place; the
    /// plaintext is `buf[..returned length]`. A failed message leaves the
    /// counter where it was.
    pub fn open_in_place(&mut self, buf: &mut [u8]) -> Result<usize, NoiseCipherError> {
        let len = buf
            .len()
            .checked_sub(NOISE_TAG)
            .ok_or(NoiseCipherError::Decrypt)?;
        if self.n == u64::MAX {
            return Err(NoiseCipherError::NonceExhausted);
        }
        let (ct, tag) = buf.split_at_mut(len);
        let tag = Tag::try_from(&*tag).map_err(|_| NoiseCipherError::Decrypt)?;
        self.key
            .open_in_place_separate_tag(nonce(self.n), Aad::empty(), tag, ct, 0..)
            .map_err(|_| NoiseCipherError::Decrypt)?;
        self.n += 1;
        Ok(len)
    }

    /// Noise `Rekey()`: the next key is the first 32 bytes of the encryption
    /// of 32 zero bytes under nonce 2^64 - 1; the counter goes on. The old
    /// key is wiped.
    pub fn rekey(&mut self) {
        let mut next = Zeroizing::new([0u8; 32]);
        // Sealing with a valid key cannot fail; the tag is not needed.
        let _tag = self
            .key
            .seal_in_place_separate_tag(nonce(u64::MAX), Aad::empty(), &mut next[..])
            .expect("chacha20-poly1305 seal of 32 bytes");
        self.key = ring_key(&next);
    }
}

/// The two directions of a connection after the handshake.
#[derive(Debug)]
pub struct NoiseKeys {
    /// Seals what this side sends.
    pub send: NoiseCipher,
    /// Opens what this side receives.
    pub recv: NoiseCipher,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::NOISE_PARAMS;

    /// A finished XX handshake between two snow states; returns the raw
    /// split keys (initiator → responder, responder → initiator) and both
    /// sides' snow transport states.
    fn snow_pair() -> (
        [u8; 32],
        [u8; 32],
        snow::TransportState,
        snow::TransportState,
    ) {
        let params: snow::params::NoiseParams = NOISE_PARAMS.parse().unwrap();
        let ki = snow::Builder::new(params.clone())
            .generate_keypair()
            .unwrap();
        let kr = snow::Builder::new(params.clone())
            .generate_keypair()
            .unwrap();
        let mut i = snow::Builder::new(params.clone())
            .local_private_key(&ki.private)
            .unwrap()
            .build_initiator()
            .unwrap();
        let mut r = snow::Builder::new(params)
            .local_private_key(&kr.private)
            .unwrap()
            .build_responder()
            .unwrap();
        let (mut m, mut p) = ([0u8; 1024], [0u8; 1024]);
        let n = i.write_message(&[], &mut m).unwrap();
        r.read_message(&m[..n], &mut p).unwrap();
        let n = r.write_message(b"two", &mut m).unwrap();
        i.read_message(&m[..n], &mut p).unwrap();
        let n = i.write_message(b"three", &mut m).unwrap();
        r.read_message(&m[..n], &mut p).unwrap();
        let (k1, k2) = i.dangerously_get_raw_split();
        let (r1, r2) = r.dangerously_get_raw_split();
        assert_eq!((k1, k2), (r1, r2), "both sides split alike");
        (
            k1,
            k2,
            i.into_transport_mode().unwrap(),
            r.into_transport_mode().unwrap(),
        )
    }

    #[test]
    fn snow_reads_what_we_seal_and_we_read_what_snow_seals_across_rekeys() {
        let (k1, k2, mut snow_i, mut snow_r) = snow_pair();
        // We are the initiator: send with k1, receive with k2.
        let mut send = NoiseCipher::new(&k1);
        let mut recv = NoiseCipher::new(&k2);
        let mut wire = vec![0u8; 65535];
        let mut plain = vec![0u8; 65535];
        for round in 0..40u32 {
            let len = (round as usize * 1637) % 65519;
            let msg: Vec<u8> = (0..len).map(|x| (x as u32 ^ round) as u8).collect();
            wire[..len].copy_from_slice(&msg);
            let n = send.seal_in_place(&mut wire, len).unwrap();
            let got = snow_r.read_message(&wire[..n], &mut plain).unwrap();
            assert_eq!(&plain[..got], &msg[..], "round {round}: snow opens ours");

            let n = snow_r.write_message(&msg, &mut wire).unwrap();
            let got = recv.open_in_place(&mut wire[..n]).unwrap();
            assert_eq!(&wire[..got], &msg[..], "round {round}: we open snow's");
            if round % 7 == 6 {
                send.rekey();
                snow_r.rekey_incoming();
                recv.rekey();
                snow_r.rekey_outgoing();
            }
        }
        // And as the responder, with snow as the initiator.
        let mut send = NoiseCipher::new(&k2);
        let mut recv = NoiseCipher::new(&k1);
        for round in 0..5u32 {
            wire[..5].copy_from_slice(b"hello");
            let n = send.seal_in_place(&mut wire, 5).unwrap();
            let got = snow_i.read_message(&wire[..n], &mut plain).unwrap();
            assert_eq!(&plain[..got], b"hello", "round {round}");
            let n = snow_i.write_message(b"world", &mut wire).unwrap();
            let got = recv.open_in_place(&mut wire[..n]).unwrap();
            assert_eq!(&wire[..got], b"world");
            send.rekey();
            snow_i.rekey_incoming();
        }
    }

    #[test]
    fn a_flipped_bit_a_replay_or_a_short_message_fails_and_keeps_the_counter() {
        let key = [9u8; 32];
        let mut tx = NoiseCipher::new(&key);
        let mut rx = NoiseCipher::new(&key);
        let mut m = *b"abcdefgh\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
        let n = tx.seal_in_place(&mut m, 8).unwrap();
        let good = m;
        m[3] ^= 1;
        assert_eq!(
            rx.open_in_place(&mut m[..n]),
            Err(NoiseCipherError::Decrypt)
        );
        assert_eq!(rx.messages(), 0);
        assert_eq!(
            rx.open_in_place(&mut [0u8; 15]),
            Err(NoiseCipherError::Decrypt)
        );
        let mut m = good;
        assert_eq!(rx.open_in_place(&mut m[..n]), Ok(8));
        assert_eq!(&m[..8], b"abcdefgh");
        // The same message again is under the wrong nonce now.
        let mut m = good;
        assert_eq!(
            rx.open_in_place(&mut m[..n]),
            Err(NoiseCipherError::Decrypt)
        );
        assert_eq!(
            tx.seal_in_place(&mut [0u8; 20], 5),
            Err(NoiseCipherError::NoRoom)
        );
    }

    #[test]
    fn a_key_after_rekey_opens_nothing_sealed_before() {
        let key = [4u8; 32];
        let mut tx = NoiseCipher::new(&key);
        let mut rx = NoiseCipher::new(&key);
        let mut m = [0u8; 24];
        let n = tx.seal_in_place(&mut m, 8).unwrap();
        rx.rekey();
        assert_eq!(
            rx.open_in_place(&mut m[..n]),
            Err(NoiseCipherError::Decrypt)
        );
    }
}
