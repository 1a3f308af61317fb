//! Secret key files: one 32-byte secret per file, written with mode 0600.
//!
//! A key file must never be silently replaced: losing the identity key means
//! becoming another node, and losing the owner secret means losing access to
//! every file the owner stored. So the format carries a magic, a version, the
//! kind of key and a checksum, and any file that does not check out is a hard,
//! named error instead of a reason to generate a fresh key.
//!
//! Format (76 bytes, version 1):
//!
//! ```text
//! magic    10 bytes  "cairn-key\0"
//! version   1 byte   0x01
//! kind      1 byte   0x01 ed25519 identity, 0x02 x25519 noise static, 0x03 owner secret
//! secret   32 bytes
//! check    32 bytes  BLAKE3(magic || version || kind || secret)
//! ```

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

const MAGIC: &[u8; 10] = b"cairn-key\0";
const VERSION: u8 = 1;
const FILE_LEN: usize = 10 + 1 + 1 + 32 + 32;

/// What a key file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The node's Ed25519 identity secret.
    Identity,
    /// The node's X25519 Noise static secret.
    NoiseStatic,
    /// The owner's secret that keys convergent encryption of stored files.
    OwnerSecret,
}

impl KeyKind {
    fn code(self) -> u8 {
        match self {
            KeyKind::Identity => 1,
            KeyKind::NoiseStatic => 2,
            KeyKind::OwnerSecret => 3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            KeyKind::Identity => "ed25519 identity key",
            KeyKind::NoiseStatic => "x25519 noise static key",
            KeyKind::OwnerSecret => "owner secret",
        }
    }
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("key file {path} already exists; refusing to overwrite a key")]
    Exists { path: PathBuf },
    #[error(
        "key file {path} is corrupt ({reason}); refusing to continue. Restore it from a \
         backup, or move it away to create a new key (a new identity key makes this a \
         different node)"
    )]
    Corrupt { path: PathBuf, reason: &'static str },
    #[error("key file {path} holds a {found}, expected a {expected}")]
    WrongKind {
        path: PathBuf,
        expected: KeyKind,
        found: &'static str,
    },
    #[error("key file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}")]
    Permissions { path: PathBuf, mode: u32 },
}

fn checksum(head: &[u8]) -> blake3::Hash {
    blake3::hash(head)
}

/// Encode a secret into the key file format.
pub fn encode(kind: KeyKind, secret: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(FILE_LEN));
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind.code());
    out.extend_from_slice(secret);
    let check = checksum(&out);
    out.extend_from_slice(check.as_bytes());
    out
}

/// Decode a key file's bytes, checking magic, version, kind and checksum.
pub fn decode(
    path: &Path,
    kind: KeyKind,
    bytes: &[u8],
) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let corrupt = |reason| KeyFileError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    if bytes.len() != FILE_LEN {
        return Err(corrupt("wrong length"));
    }
    let (head, check) = bytes.split_at(FILE_LEN - 32);
    if &head[..10] != MAGIC {
        return Err(corrupt("not a cairn key file"));
    }
    if head[10] != VERSION {
        return Err(corrupt("unknown key file version"));
    }
    if checksum(head).as_bytes() != check {
        return Err(corrupt("checksum mismatch"));
    }
    if head[11] != kind.code() {
        let found = match head[11] {
            1 => "ed25519 identity key",
            2 => "x25519 noise static key",
            3 => "owner secret",
            _ => "key of unknown kind",
        };
        return Err(KeyFileError::WrongKind {
            path: path.to_owned(),
            expected: kind,
            found,
        });
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    secret.copy_from_slice(&head[12..44]);
    Ok(secret)
}

/// Read a key file, refusing files that others can read.
pub fn read(path: &Path, kind: KeyKind) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path).map_err(|source| KeyFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let bytes = Zeroizing::new(fs::read(path).map_err(|source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    })?);
    decode(path, kind, &bytes)
}

/// Create a new key file with mode 0600. Fails if the file exists.
///
/// The file is written to a temporary name, fsynced and renamed into place, so
/// a crash leaves either no key file or a complete one.
pub fn create(path: &Path, kind: KeyKind, secret: &[u8; 32]) -> Result<(), KeyFileError> {
    let write_err = |source| KeyFileError::Write {
        path: path.to_owned(),
        source,
    };
    if path.exists() {
        return Err(KeyFileError::Exists {
            path: path.to_owned(),
        });
    }
    let tmp = path.with_extension("key.tmp");
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(&tmp).map_err(write_err)?;
    file.write_all(&encode(kind, secret)).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    drop(file);
    // A hard link fails if the target exists, so two racing `init`s cannot
    // overwrite each other's key.
    fs::hard_link(&tmp, path).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            KeyFileError::Exists {
                path: path.to_owned(),
            }
        } else {
            write_err(source)
        }
    })?;
    let _ = fs::remove_file(&tmp);
    if let Some(Ok(d)) = path.parent().map(fs::File::open) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        create(&path, KeyKind::Identity, &[7u8; 32]).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(*read(&path, KeyKind::Identity).unwrap(), [7u8; 32]);
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        create(&path, KeyKind::OwnerSecret, &[1u8; 32]).unwrap();
        let err = create(&path, KeyKind::OwnerSecret, &[2u8; 32]).unwrap_err();
        assert!(matches!(err, KeyFileError::Exists { .. }));
        assert_eq!(*read(&path, KeyKind::OwnerSecret).unwrap(), [1u8; 32]);
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let path = Path::new("x.key");
        let good = encode(KeyKind::NoiseStatic, &[9u8; 32]);
        for i in 0..good.len() * 8 {
            let mut bad = good.to_vec();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(decode(path, KeyKind::NoiseStatic, &bad).is_err(), "bit {i}");
        }
    }

    #[test]
    fn truncated_file_is_corrupt() {
        let good = encode(KeyKind::Identity, &[3u8; 32]);
        let err = decode(Path::new("k"), KeyKind::Identity, &good[..40]).unwrap_err();
        assert!(matches!(err, KeyFileError::Corrupt { .. }));
    }

    #[test]
    fn wrong_kind_is_named() {
        let good = encode(KeyKind::Identity, &[3u8; 32]);
        let err = decode(Path::new("k"), KeyKind::OwnerSecret, &good).unwrap_err();
        assert!(matches!(err, KeyFileError::WrongKind { .. }));
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        create(&path, KeyKind::Identity, &[1u8; 32]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read(&path, KeyKind::Identity).unwrap_err();
        assert!(matches!(err, KeyFileError::Permissions { .. }));
    }
}
