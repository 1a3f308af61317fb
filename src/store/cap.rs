//! Capabilities: the one text form that names and unlocks a stored file or
//! directory, like a Tahoe-LAFS read-cap. Handing a cap over shares the file.
//!
//! Binary form (70 bytes): version (1) | kind | cipher | head block id (32) |
//! head key (32) | checksum (first 3 bytes of BLAKE3 of the preceding 67).
//! Text form: `cairn:` followed by the binary form in lowercase unpadded
//! base32. The checksum turns a typo into "invalid cap" rather than a lookup
//! of a block that does not exist.

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

/// A read capability: which head block, and the key that opens it.
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
    #[error("not a cap: it must start with \"cairn:\"")]
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
}

impl Cap {
    pub fn to_bytes(&self) -> [u8; CAP_LEN] {
        let mut b = [0u8; CAP_LEN];
        b[0] = CAP_VERSION;
        b[1] = self.kind.code();
        b[2] = self.cipher.code();
        b[3..35].copy_from_slice(&self.head.0);
        b[35..67].copy_from_slice(&self.key);
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
        if b[0] != CAP_VERSION {
            return Err(CapError::Version(b[0]));
        }
        let kind = Kind::from_code(b[1]).ok_or(CapError::Field)?;
        let cipher = Cipher::from_code(b[2]).ok_or(CapError::Field)?;
        let mut head = [0u8; 32];
        head.copy_from_slice(&b[3..35]);
        let mut key = [0u8; 32];
        key.copy_from_slice(&b[35..67]);
        Ok(Cap {
            kind,
            cipher,
            head: BlockId(head),
            key,
        })
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
