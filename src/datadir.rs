//! The node's data directory: where it is, what it holds, and creating it.
//!
//! Location, first match wins: `--data-dir DIR`, the `CAIRN_HOME` variable,
//! then the XDG data directory (`$XDG_DATA_HOME/cairn`, usually
//! `~/.local/share/cairn`). Any command run on a missing directory creates
//! it, so a new user never has to run `cairn init` by hand; an existing but
//! damaged key file is an error and never a reason to make a new identity.
//!
//! Layout:
//!
//! ```text
//! DIR/                 mode 0700
//!   config.toml        every setting with its default, commented
//!   identity.key       Ed25519 identity secret     (0600, see keyfile)
//!   noise.key          X25519 Noise static secret  (0600)
//!   owner.key          owner secret for convergent encryption (0600)
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rand::RngCore;
use zeroize::Zeroizing;

use crate::config::{Config, ConfigError, DEFAULT_TOML};
use crate::keyfile::{self, KeyFileError, KeyKind};

/// The environment variable that names the data directory.
pub const ENV_HOME: &str = "CAIRN_HOME";

/// Why the data directory could not be opened or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataDirError {
    #[error(
        "no data directory: set --data-dir or CAIRN_HOME (no XDG data directory is known \
         for this user)"
    )]
    NoDefault,
    #[error("cannot create data directory {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "data directory {path} is incomplete: {missing} is missing while other keys exist. \
         Restore it from a backup; refusing to create a new one"
    )]
    Incomplete {
        path: PathBuf,
        missing: &'static str,
    },
}

/// The node's secrets, as loaded from the data directory.
pub struct NodeKeys {
    pub identity: Zeroizing<[u8; 32]>,
    pub noise_static: Zeroizing<[u8; 32]>,
    pub owner_secret: Zeroizing<[u8; 32]>,
}

/// A data directory on disk.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

const KEYS: [(&str, KeyKind); 3] = [
    ("identity.key", KeyKind::Identity),
    ("noise.key", KeyKind::NoiseStatic),
    ("owner.key", KeyKind::OwnerSecret),
];

impl DataDir {
    /// Resolve the location: explicit flag, then `CAIRN_HOME`, then XDG.
    pub fn locate(flag: Option<&Path>) -> Result<DataDir, DataDirError> {
        if let Some(p) = flag {
            return Ok(DataDir::at(p));
        }
        if let Some(p) = std::env::var_os(ENV_HOME).filter(|v| !v.is_empty()) {
            return Ok(DataDir::at(Path::new(&p)));
        }
        let base = dirs::data_dir().ok_or(DataDirError::NoDefault)?;
        Ok(DataDir::at(&base.join("cairn")))
    }

    /// A data directory at an explicit path.
    pub fn at(path: &Path) -> DataDir {
        DataDir {
            root: path.to_owned(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// Path of a file inside the data directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Whether the directory has been initialised (holds an identity key).
    pub fn is_initialised(&self) -> bool {
        self.root.join("identity.key").exists()
    }

    /// Create whatever is missing: the directory (0700), the keys (0600) and
    /// the commented config. Returns true if anything was created.
    ///
    /// A directory that has some keys but not others is refused: that is a
    /// damaged directory, and filling the gap would silently change who the
    /// node is or which files it can read.
    pub fn init(&self) -> Result<bool, DataDirError> {
        let create_err = |source| DataDirError::Create {
            path: self.root.clone(),
            source,
        };
        let mut created = false;
        if !self.root.exists() {
            fs::create_dir_all(&self.root).map_err(create_err)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
                    .map_err(create_err)?;
            }
            created = true;
        }
        let present: Vec<bool> = KEYS
            .iter()
            .map(|(n, _)| self.root.join(n).exists())
            .collect();
        if present.iter().any(|p| *p) {
            if let Some(i) = present.iter().position(|p| !*p) {
                return Err(DataDirError::Incomplete {
                    path: self.root.clone(),
                    missing: KEYS[i].0,
                });
            }
        } else {
            for (name, kind) in KEYS {
                let mut secret = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(secret.as_mut());
                keyfile::create(&self.root.join(name), kind, &secret)?;
            }
            created = true;
        }
        let config = self.config_path();
        if !config.exists() {
            fs::write(&config, DEFAULT_TOML).map_err(create_err)?;
            created = true;
        }
        Ok(created)
    }

    /// Load the node's secrets, checking each key file.
    pub fn keys(&self) -> Result<NodeKeys, DataDirError> {
        let read = |i: usize| keyfile::read(&self.root.join(KEYS[i].0), KEYS[i].1);
        Ok(NodeKeys {
            identity: read(0)?,
            noise_static: read(1)?,
            owner_secret: read(2)?,
        })
    }

    /// Load `config.toml`.
    pub fn config(&self) -> Result<Config, DataDirError> {
        Ok(Config::load(&self.config_path())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_keys_and_config_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::at(&tmp.path().join("home"));
        assert!(dd.init().unwrap());
        let k1 = dd.keys().unwrap();
        assert!(!dd.init().unwrap(), "second init changes nothing");
        let k2 = dd.keys().unwrap();
        assert_eq!(*k1.identity, *k2.identity);
        assert_ne!(*k1.identity, *k1.owner_secret);
        assert_eq!(dd.config().unwrap(), Config::default());
    }

    #[test]
    fn a_missing_key_beside_others_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::at(tmp.path());
        dd.init().unwrap();
        fs::remove_file(tmp.path().join("owner.key")).unwrap();
        assert!(matches!(dd.init(), Err(DataDirError::Incomplete { .. })));
    }

    #[test]
    fn a_corrupt_identity_is_an_error_not_a_new_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::at(tmp.path());
        dd.init().unwrap();
        let path = tmp.path().join("identity.key");
        let mut bytes = fs::read(&path).unwrap();
        bytes[20] ^= 0x40;
        fs::write(&path, &bytes).unwrap();
        assert!(!dd.init().unwrap());
        assert!(matches!(
            dd.keys(),
            Err(DataDirError::Key(KeyFileError::Corrupt { .. }))
        ));
        assert_eq!(
            fs::read(&path).unwrap(),
            bytes,
            "the damaged file is left as it was"
        );
    }
}
