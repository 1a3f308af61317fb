//! Capabilities: the one text form that names and unlocks a stored file or
//! directory, like a Tahoe-LAFS read-cap. Handing a cap over shares the file.
//!
//! Binary form (70 bytes): version (1) | kind | cipher | head block id (32) |
//! head key (32) | checksum (first 3 bytes of BLAKE3 of the preceding 67).
//! Text form: `cairn:` followed by the binary form in lowercase unpadded
//! base32. The checksum turns a typo into "invalid cap" rather than a lookup
//! of a block that does not exist.
//!
//! Public shares (`cairn add --public`, plaintext blocks) have caps of their
//! own, so the two can never be taken for one another: binary version 2 with
//! cipher byte 0 ("plain") and an all-zero key field (inside manifests and
//! the roots table, which hold every cap in the 70-byte form), and a short
//! text form without any key, `cairn-pub:` followed by base32 of version (2)
//! | kind | head block id (32) | checksum (first 3 bytes of BLAKE3 of the
//! preceding 34). A version-1 cap with cipher 0, or a version-2 cap with a
//! cipher or a key, is refused.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use serde::{Serialize, Serializer};

use super::block::BlockId;
use super::crypto::Cipher;

/// Version byte of the capability format.
pub const CAP_VERSION: u8 = 1;
/// Length of a cap's binary form.
pub const CAP_LEN: usize = 70;
/// Prefix of a cap's text form.
pub const CAP_PREFIX: &str = "cairn:";
/// Version byte of a public (plaintext) share's cap.
pub const PUBLIC_CAP_VERSION: u8 = 2;
/// Prefix of a public share's cap text form.
pub const PUBLIC_CAP_PREFIX: &str = "cairn-pub:";
/// Length of a public cap's compact binary form (its text form's payload).
pub const PUBLIC_CAP_TEXT_LEN: usize = 37;

/// What a cap points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
}

impl Kind {
    pub fn code(self) -> u8 {
        match self {
            Kind::File => 1,
            Kind::Dir => 2,
        }
    }
    pub fn from_code(c: u8) -> Option<Kind> {
        match c {
            1 => Some(Kind::File),
            2 => Some(Kind::Dir),
            _ => None,
        }
    }
}

/// A read capability: which head block, and the key that opens it. A
/// public share's cap has `cipher` [`Cipher::Plain`] and an all-zero key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cap {
    pub kind: Kind,
    pub cipher: Cipher,
    pub head: BlockId,
    pub key: [u8; 32],
}

/// A string or byte string that is not a cap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapError {
    #[error("not a cap: it must start with \"cairn:\" (or \"cairn-pub:\" for a public share)")]
    Prefix,
    #[error("not a cap: bad base32 text")]
    Encoding,
    #[error("not a cap: {0} bytes, expected 70 (truncated?)")]
    Length(usize),
    #[error("unsupported cap version {0}")]
    Version(u8),
    #[error("not a cap: unknown kind or cipher")]
    Field,
    #[error("not a cap: checksum mismatch (mistyped or truncated?)")]
    Checksum,
    #[error("not a cap: a private cap without a cipher or a public cap with a key")]
    Mixed,
}

impl Cap {
    /// The cap of a public (plaintext) share: no key.
    pub fn public(kind: Kind, head: BlockId) -> Cap {
        Cap {
            kind,
            cipher: Cipher::Plain,
            head,
            key: [0; 32],
        }
    }

    /// Whether this names a public (plaintext) share.
    pub fn is_public(&self) -> bool {
        self.cipher.is_plain()
    }

    pub fn to_bytes(&self) -> [u8; CAP_LEN] {
        let mut b = [0u8; CAP_LEN];
        b[1] = self.kind.code();
        b[2] = self.cipher.code();
        b[3..35].copy_from_slice(&self.head.0);
        if self.is_public() {
            // The key field of a public cap is zero whatever the struct says.
            b[0] = PUBLIC_CAP_VERSION;
        } else {
            b[0] = CAP_VERSION;
            b[35..67].copy_from_slice(&self.key);
        }
        let sum = blake3::hash(&b[..67]);
        b[67..70].copy_from_slice(&sum.as_bytes()[..3]);
        b
    }

    pub fn from_bytes(b: &[u8]) -> Result<Cap, CapError> {
        if b.len() != CAP_LEN {
            return Err(CapError::Length(b.len()));
        }
        let sum = blake3::hash(&b[..67]);
        if b[67..70] != sum.as_bytes()[..3] {
            return Err(CapError::Checksum);
        }
        if b[0] != CAP_VERSION && b[0] != PUBLIC_CAP_VERSION {
            return Err(CapError::Version(b[0]));
        }
        let kind = Kind::from_code(b[1]).ok_or(CapError::Field)?;
        let cipher = Cipher::from_code(b[2]).ok_or(CapError::Field)?;
        let mut head = [0u8; 32];
        head.copy_from_slice(&b[3..35]);
        let mut key = [0u8; 32];
        key.copy_from_slice(&b[35..67]);
        let public = b[0] == PUBLIC_CAP_VERSION;
        if public != cipher.is_plain() || (public && key != [0; 32]) {
            return Err(CapError::Mixed);
        }
        Ok(Cap {
            kind,
            cipher,
            head: BlockId(head),
            key,
        })
    }
}

impl Cap {
    /// A public cap's compact form: version | kind | head | checksum.
    fn public_text_bytes(&self) -> [u8; PUBLIC_CAP_TEXT_LEN] {
        let mut b = [0u8; PUBLIC_CAP_TEXT_LEN];
        b[0] = PUBLIC_CAP_VERSION;
        b[1] = self.kind.code();
        b[2..34].copy_from_slice(&self.head.0);
        let sum = blake3::hash(&b[..34]);
        b[34..37].copy_from_slice(&sum.as_bytes()[..3]);
        b
    }

    fn from_public_text_bytes(b: &[u8]) -> Result<Cap, CapError> {
        if b.len() != PUBLIC_CAP_TEXT_LEN {
            return Err(CapError::Length(b.len()));
        }
        let sum = blake3::hash(&b[..34]);
        if b[34..37] != sum.as_bytes()[..3] {
            return Err(CapError::Checksum);
        }
        if b[0] != PUBLIC_CAP_VERSION {
            return Err(CapError::Version(b[0]));
        }
        let kind = Kind::from_code(b[1]).ok_or(CapError::Field)?;
        let mut head = [0u8; 32];
        head.copy_from_slice(&b[2..34]);
        Ok(Cap::public(kind, BlockId(head)))
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_public() {
            let text = BASE32_NOPAD
                .encode(&self.public_text_bytes())
                .to_ascii_lowercase();
            return write!(f, "{PUBLIC_CAP_PREFIX}{text}");
        }
        let text = BASE32_NOPAD.encode(&self.to_bytes()).to_ascii_lowercase();
        write!(f, "{CAP_PREFIX}{text}")
    }
}

impl fmt::Debug for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cap({:?}, head {})", self.kind, self.head)
    }
}

impl FromStr for Cap {
    type Err = CapError;
    fn from_str(s: &str) -> Result<Cap, CapError> {
        if let Some(rest) = s.trim().strip_prefix(PUBLIC_CAP_PREFIX) {
            if rest.len() > 2 * PUBLIC_CAP_TEXT_LEN {
                return Err(CapError::Length(rest.len() * 5 / 8));
            }
            let bytes = BASE32_NOPAD
                .decode(rest.to_ascii_uppercase().as_bytes())
                .map_err(|_| CapError::Encoding)?;
            return Cap::from_public_text_bytes(&bytes);
        }
        let rest = s.trim().strip_prefix(CAP_PREFIX).ok_or(CapError::Prefix)?;
        if rest.len() > 2 * CAP_LEN {
            return Err(CapError::Length(rest.len() * 5 / 8));
        }
        let bytes = BASE32_NOPAD
            .decode(rest.to_ascii_uppercase().as_bytes())
            .map_err(|_| CapError::Encoding)?;
        Cap::from_bytes(&bytes)
    }
}

impl Serialize for Cap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// From the text form, so reports that carry caps (the local API's answers)
/// read back into the same types.
impl<'de> serde::Deserialize<'de> for Cap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cap, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap() -> Cap {
        Cap {
            kind: Kind::Dir,
            cipher: Cipher::Xchacha20Poly1305,
            head: BlockId([9; 32]),
            key: [4; 32],
        }
    }

    #[test]
    fn text_form_round_trips() {
        let c = cap();
        let t = c.to_string();
        assert!(t.starts_with("cairn:"));
        assert_eq!(t.parse::<Cap>().unwrap(), c);
    }

    #[test]
    fn public_cap_has_its_own_short_text_form_without_a_key() {
        let c = Cap::public(Kind::File, BlockId([9; 32]));
        let t = c.to_string();
        assert!(t.starts_with("cairn-pub:"), "{t}");
        assert_eq!(t.len(), "cairn-pub:".len() + 60);
        let back: Cap = t.parse().unwrap();
        assert_eq!(back, c);
        assert!(back.is_public());
        assert_eq!(back.key, [0; 32]);
        // Binary form (manifests, roots) round-trips too, as version 2.
        let b = c.to_bytes();
        assert_eq!(b[0], PUBLIC_CAP_VERSION);
        assert_eq!(Cap::from_bytes(&b).unwrap(), c);
        // A typo in a public cap is caught by its checksum.
        let mut typo = t.into_bytes();
        let i = typo.len() - 5;
        typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
        assert!(String::from_utf8(typo).unwrap().parse::<Cap>().is_err());
    }

    #[test]
    fn private_and_public_caps_cannot_be_confused() {
        let private = cap();
        let public = Cap::public(Kind::Dir, private.head);
        assert_ne!(private, public);
        assert_ne!(private.to_string(), public.to_string());
        assert!(!private.to_string().parse::<Cap>().unwrap().is_public());
        assert!(public.to_string().parse::<Cap>().unwrap().is_public());
        // The private text payload under the public prefix (and the other
        // way round) is refused, not reinterpreted.
        let priv_payload = private.to_string()["cairn:".len()..].to_owned();
        assert!(format!("cairn-pub:{priv_payload}").parse::<Cap>().is_err());
        let pub_payload = public.to_string()["cairn-pub:".len()..].to_owned();
        assert!(format!("cairn:{pub_payload}").parse::<Cap>().is_err());
        // Binary: version 1 with cipher 0 (plaintext under a private cap),
        // and version 2 with a key or a cipher, are refused.
        let reseal = |mut b: [u8; CAP_LEN]| {
            let sum = blake3::hash(&b[..67]);
            b[67..70].copy_from_slice(&sum.as_bytes()[..3]);
            b
        };
        let mut b = private.to_bytes();
        b[2] = 0;
        assert_eq!(Cap::from_bytes(&reseal(b)), Err(CapError::Mixed));
        let mut b = public.to_bytes();
        b[40] = 1;
        assert_eq!(Cap::from_bytes(&reseal(b)), Err(CapError::Mixed));
        let mut b = public.to_bytes();
        b[2] = 1;
        assert_eq!(Cap::from_bytes(&reseal(b)), Err(CapError::Mixed));
        // A public cap built with a stray key still writes none.
        let mut p = public.clone();
        p.key = [7; 32];
        assert_eq!(p.to_bytes()[35..67], [0; 32]);
    }

    #[test]
    fn private_cap_bytes_are_unchanged() {
        // The version-1 layout, byte for byte.
        let b = cap().to_bytes();
        assert_eq!(b[0], 1);
        assert_eq!(b[1], 2);
        assert_eq!(b[2], 1);
        assert_eq!(b[3..35], [9; 32]);
        assert_eq!(b[35..67], [4; 32]);
    }

    #[test]
    fn truncated_or_mistyped_caps_are_refused() {
        let t = cap().to_string();
        assert!(t[..t.len() - 4].parse::<Cap>().is_err());
        assert_eq!("xyz".parse::<Cap>().unwrap_err(), CapError::Prefix);
        let mut typo = t.clone().into_bytes();
        let i = typo.len() - 10;
        typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(typo.parse::<Cap>().unwrap_err(), CapError::Checksum);
    }
}
