//! Keyed fingerprints (`hmac:3f9a1c2b`) and content hashing.
//!
//! Raw SHA-256 of a secret file would let anyone holding a plan test guesses offline, so
//! everything shown to users (plans, JSON, labels) is an HMAC under a per-install key kept in
//! `$JACKIN_HOME/key` (0600). Raw hashes stay in the 0600 ledger, where the stat fast path and
//! three-way rules need them.

use crate::error::{Code, Coded};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("cannot read or create the fingerprint key {path}: {source}")]
pub struct KeyError {
    path: String,
    source: std::io::Error,
}

impl Coded for KeyError {
    fn code(&self) -> Code {
        Code::E040
    }
    fn hint(&self) -> Option<String> {
        Some("check that $JACKIN_HOME is writable by the user running jackin".into())
    }
}

#[derive(Clone)]
pub struct Fingerprinter {
    key: Vec<u8>,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter(<key>)")
    }
}

impl Fingerprinter {
    /// Load the per-install key, creating it (0600, random) on first use.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let err = |source| KeyError {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(path) {
            Ok(key) if key.len() >= 32 => return Ok(Fingerprinter { key }),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let dir = path.parent().expect("key path has a parent");
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut key = vec![0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .map_err(err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
        tmp.write_all(&key).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        // Two first runs racing: keep whichever key landed first.
        match tmp.persist_noclobber(path) {
            Ok(_) => Ok(Fingerprinter { key }),
            Err(_) => Ok(Fingerprinter {
                key: std::fs::read(path).map_err(err)?,
            }),
        }
    }

    /// A fixed key, for tests.
    pub fn with_key(key: &[u8]) -> Self {
        Fingerprinter { key: key.to_vec() }
    }

    /// `hmac:` + 8 hex chars of HMAC-SHA256(key, data).
    pub fn of(&self, data: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("hmac takes any key");
        mac.update(data);
        let out = mac.finalize().into_bytes();
        format!("hmac:{}", hex::encode(&out[..4]))
    }
}

/// Lowercase hex SHA-256 of a byte slice.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_keyed_and_short() {
        let a = Fingerprinter::with_key(b"a");
        let b = Fingerprinter::with_key(b"b");
        let fp = a.of(b"secret");
        assert!(fp.starts_with("hmac:") && fp.len() == 13, "{fp}");
        assert_ne!(fp, b.of(b"secret"));
        assert!(!sha256_hex(b"secret").starts_with(&fp[5..]));
    }

    #[test]
    fn key_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/key");
        let first = Fingerprinter::load_or_create(&path).unwrap();
        let second = Fingerprinter::load_or_create(&path).unwrap();
        assert_eq!(first.of(b"x"), second.of(b"x"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
