//! Convergent encryption of chunks and manifests.
//!
//! The key of a chunk is the BLAKE3 hash of its plaintext keyed with a secret
//! derived from the owner's secret: the same owner encrypting the same bytes
//! gets the same ciphertext (so it dedupes), while anyone without the secret
//! can neither derive the key nor confirm a guess of the content. Because a
//! key is only ever used for one plaintext, the AEAD nonce can be fixed (all
//! zero) without nonce reuse across different messages: sealing the same
//! plaintext twice under its key gives the same ciphertext, and no key ever
//! seals two different plaintexts (both callers in `add.rs` derive the key
//! from the very bytes they seal, [`Convergence::key_for`]).
//!
//! That is why plain AES-256-GCM (ring's, code 3) is safe here and is the
//! default: it reads about five times faster than AES-256-GCM-SIV (whose
//! RustCrypto POLYVAL was the largest single cost of a fetch from peers, see
//! docs/BENCHMARKS.md), and a fetch decrypts every byte. AES-256-GCM-SIV and
//! XChaCha20-Poly1305 stay readable and configurable (the cipher is
//! recorded per chunk).
//!
//! [`Cipher::Plain`] is the "no encryption" marker of public shares (`cairn
//! add --public`): it seals and opens as the identity, carries no key and no
//! tag, and cannot be chosen in the configuration (serde skips it), so a
//! private add can never select it; only the public add path writes it and
//! the reader checks that a cap and every chunk under it agree on it.

use aes_gcm_siv::Aes256GcmSiv;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit};
use ring::aead;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Length of the AEAD authentication tag both ciphers append.
pub const TAG_LEN: usize = 16;

/// The AEAD a chunk is sealed with (recorded per chunk, so it can change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cipher {
    /// XChaCha20-Poly1305, code 1.
    Xchacha20Poly1305,
    /// AES-256-GCM-SIV, code 2.
    Aes256GcmSiv,
    /// AES-256-GCM (ring), code 3; safe with a fixed nonce only because
    /// every key seals exactly one plaintext (module docs).
    Aes256Gcm,
    /// No encryption (public shares), code 0. Not a configurable cipher.
    #[serde(skip)]
    Plain,
}

impl Cipher {
    pub fn code(self) -> u8 {
        match self {
            Cipher::Xchacha20Poly1305 => 1,
            Cipher::Aes256GcmSiv => 2,
            Cipher::Aes256Gcm => 3,
            Cipher::Plain => 0,
        }
    }

    /// Whether this is the no-encryption marker of public shares.
    pub fn is_plain(self) -> bool {
        self == Cipher::Plain
    }

    /// Bytes sealing adds to a plaintext: the AEAD tag, or 0 for `Plain`.
    pub fn overhead(self) -> usize {
        match self {
            Cipher::Plain => 0,
            _ => TAG_LEN,
        }
    }

    pub fn from_code(c: u8) -> Option<Cipher> {
        match c {
            1 => Some(Cipher::Xchacha20Poly1305),
            2 => Some(Cipher::Aes256GcmSiv),
            3 => Some(Cipher::Aes256Gcm),
            0 => Some(Cipher::Plain),
            _ => None,
        }
    }

    /// Encrypt `plain` under `key`; the result is `plain.len() +
    /// self.overhead()` long (`Plain` returns the bytes as they are).
    pub fn seal(self, key: &[u8; 32], plain: &[u8]) -> Vec<u8> {
        let out = match self {
            Cipher::Plain => return plain.to_vec(),
            Cipher::Xchacha20Poly1305 => {
                XChaCha20Poly1305::new(key.into()).encrypt(&[0u8; 24].into(), plain)
            }
            Cipher::Aes256GcmSiv => Aes256GcmSiv::new(key.into()).encrypt(&[0u8; 12].into(), plain),
            Cipher::Aes256Gcm => {
                let mut out = Vec::with_capacity(plain.len() + TAG_LEN);
                out.extend_from_slice(plain);
                return match gcm_key(key).seal_in_place_append_tag(
                    aead::Nonce::assume_unique_for_key([0u8; 12]),
                    aead::Aad::empty(),
                    &mut out,
                ) {
                    Ok(()) => out,
                    // Only a plaintext beyond GCM's 64 GiB limit fails.
                    Err(_) => Vec::new(),
                };
            }
        };
        // Encryption of an in-memory buffer below 64 GiB cannot fail.
        out.unwrap_or_default()
    }

    /// Decrypt and authenticate; `None` if the ciphertext or key is wrong.
    pub fn open(self, key: &[u8; 32], sealed: &[u8]) -> Option<Vec<u8>> {
        match self {
            Cipher::Plain => Some(sealed.to_vec()),
            Cipher::Xchacha20Poly1305 => XChaCha20Poly1305::new(key.into())
                .decrypt(&[0u8; 24].into(), sealed)
                .ok(),
            Cipher::Aes256GcmSiv => Aes256GcmSiv::new(key.into())
                .decrypt(&[0u8; 12].into(), sealed)
                .ok(),
            Cipher::Aes256Gcm => self.open_owned(key, sealed.to_vec()),
        }
    }
}

impl Cipher {
    /// [`Cipher::open`] that takes the sealed bytes by value, so AES-256-GCM
    /// decrypts in place instead of copying a whole chunk first.
    pub fn open_owned(self, key: &[u8; 32], mut sealed: Vec<u8>) -> Option<Vec<u8>> {
        if self != Cipher::Aes256Gcm {
            return self.open(key, &sealed);
        }
        let n = gcm_key(key)
            .open_in_place(
                aead::Nonce::assume_unique_for_key([0u8; 12]),
                aead::Aad::empty(),
                &mut sealed,
            )
            .ok()?
            .len();
        sealed.truncate(n);
        Some(sealed)
    }
}

/// ring's AES-256-GCM key for `key` (a 32-byte key is always valid).
fn gcm_key(key: &[u8; 32]) -> aead::LessSafeKey {
    let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, key)
        .unwrap_or_else(|_| unreachable!("AES-256 takes any 32-byte key"));
    aead::LessSafeKey::new(unbound)
}

/// The owner's convergence secret, derived from the owner secret.
#[derive(Clone)]
pub struct Convergence(Zeroizing<[u8; 32]>);

impl Convergence {
    pub fn new(owner_secret: &[u8; 32]) -> Convergence {
        Convergence(Zeroizing::new(blake3::derive_key(
            "cairn store v1 convergent chunk key",
            owner_secret,
        )))
    }

    /// The key a plaintext is encrypted under.
    pub fn key_for(&self, plain: &[u8]) -> [u8; 32] {
        *blake3::keyed_hash(&self.0, plain).as_bytes()
    }
}

impl std::fmt::Debug for Convergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Convergence(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ciphers_round_trip_and_reject_tampering() {
        for c in [
            Cipher::Xchacha20Poly1305,
            Cipher::Aes256GcmSiv,
            Cipher::Aes256Gcm,
        ] {
            let key = [7u8; 32];
            let mut sealed = c.seal(&key, b"hello");
            assert_eq!(sealed.len(), 5 + TAG_LEN);
            assert_eq!(c.open(&key, &sealed).unwrap(), b"hello");
            assert_eq!(c.open_owned(&key, sealed.clone()).unwrap(), b"hello");
            sealed[0] ^= 1;
            assert!(c.open(&key, &sealed).is_none());
            assert!(c.open_owned(&key, sealed.clone()).is_none());
        }
    }

    #[test]
    fn plain_is_the_identity_and_cannot_be_configured() {
        assert_eq!(Cipher::Plain.seal(&[0; 32], b"abc"), b"abc");
        assert_eq!(Cipher::Plain.open(&[0; 32], b"abc").unwrap(), b"abc");
        assert_eq!(Cipher::Plain.overhead(), 0);
        assert_eq!(Cipher::Aes256GcmSiv.overhead(), TAG_LEN);
        #[derive(Deserialize)]
        struct C {
            #[allow(dead_code)]
            cipher: Cipher,
        }
        for name in ["plain", "Plain", "none"] {
            let text = format!("{{\"cipher\":\"{name}\"}}");
            assert!(serde_json::from_str::<C>(&text).is_err(), "{name}");
        }
    }

    #[test]
    fn convergent_keys_depend_on_the_owner_secret() {
        let a = Convergence::new(&[1; 32]);
        let b = Convergence::new(&[2; 32]);
        assert_eq!(a.key_for(b"x"), a.key_for(b"x"));
        assert_ne!(a.key_for(b"x"), b.key_for(b"x"));
    }
}
