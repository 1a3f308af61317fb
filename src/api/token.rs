//! The local API's token: 32 random bytes as 64 hex characters in
//! `DIR/api.token`, mode 0600 (the Syncthing API-key model). Whoever can read
//! the data directory can drive the node; nobody else can, even on the same
//! machine, because the API also binds loopback only.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use rand::RngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The API token file's name in the data directory.
pub const FILE: &str = "api.token";

/// Why the token could not be read or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("cannot read or create the API token {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: io::Error,
    },
    #[error(
        "the API token {path} is malformed (expected 64 hex characters); delete it to make a new one"
    )]
    Malformed { path: std::path::PathBuf },
}

/// A bearer token for the local API.
#[derive(Clone)]
pub struct Token(Zeroizing<String>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// The token's text, for an `Authorization: Bearer` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compare with a presented token in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// Read the token, creating it (0600) if it does not exist yet.
    pub fn load_or_create(dir: &Path) -> Result<Token, TokenError> {
        let path = dir.join(FILE);
        let io_err = |source| TokenError::Io {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            let mut raw = Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(raw.as_mut());
            let text = Zeroizing::new(format!("{}\n", hex::encode(raw.as_ref())));
            let mut opts = OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            match opts.open(&path) {
                Ok(mut f) => {
                    f.write_all(text.as_bytes()).map_err(io_err)?;
                    f.sync_all().map_err(io_err)?;
                }
                // Another process created it first: read theirs.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        Token::load(dir)
    }

    /// Read an existing token.
    pub fn load(dir: &Path) -> Result<Token, TokenError> {
        let path = dir.join(FILE);
        let text = Zeroizing::new(fs::read_to_string(&path).map_err(|source| TokenError::Io {
            path: path.clone(),
            source,
        })?);
        let t = text.trim();
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TokenError::Malformed { path });
        }
        Ok(Token(Zeroizing::new(t.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600_and_compared_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let a = Token::load_or_create(dir.path()).unwrap();
        let b = Token::load_or_create(dir.path()).unwrap();
        assert!(a.matches(b.as_str()));
        assert!(!a.matches(&b.as_str()[1..]));
        assert!(!a.matches(""));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_malformed_token_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE), "nope\n").unwrap();
        assert!(matches!(
            Token::load(dir.path()),
            Err(TokenError::Malformed { .. })
        ));
    }
}
