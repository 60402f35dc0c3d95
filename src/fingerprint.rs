//! Keyed fingerprints (`hmac:3f9a1c2b`) and content hashing.
//!
//! Raw SHA-256 of a secret file would let anyone holding a plan test guesses offline, so
//! everything shown to users (plans, JSON, labels) is an HMAC under a per-install key kept in
//! `$JACKIN_HOME/key`: exactly 32 random bytes, 0600, owned by the user. Anything else is
//! refused, never used or regenerated: a short key makes fingerprints guessable offline, and a
//! new one changes every keyed fingerprint (and so every spec hash). Raw hashes stay in the
//! 0600 ledger, where the stat fast path and three-way rules need them.

use crate::error::{Code, Coded};
use crate::paths::OwnFileError;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The key's exact length: one SHA-256 block's worth of randomness.
pub const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key exists but is not one jackin made: never used, never silently replaced.
    #[error("the fingerprint key {path} {problem}; jackin will not use it")]
    Invalid { path: PathBuf, problem: String },
    #[error("cannot read or create the fingerprint key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Coded for KeyError {
    fn code(&self) -> Code {
        match self {
            KeyError::Invalid { .. } => Code::E045,
            KeyError::Io { .. } => Code::E040,
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            KeyError::Invalid { path, .. } => format!(
                "remove {} to make a new key; fingerprints in saved plans will change",
                path.display()
            ),
            KeyError::Io { .. } => {
                "check that $JACKIN_HOME is writable by the user running jackin".into()
            }
        })
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
    /// Load the per-install key, creating it (0600, random) on first use. An existing key
    /// must be exactly [`KEY_LEN`] bytes, a regular file (not a symlink), owned by the
    /// effective uid and mode 0600; anything else is an error, never used or replaced.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let err = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(fp) = Self::load(path)? {
            return Ok(fp);
        }
        let dir = path.parent().expect("key path has a parent");
        crate::paths::create_private_dir_all(dir).map_err(err)?;
        let mut key = vec![0u8; KEY_LEN];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .map_err(err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
        tmp.write_all(&key).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        // Two first runs racing: keep whichever key landed first (checked like any other).
        match tmp.persist_noclobber(path) {
            Ok(_) => {
                // The key's name must survive a crash as surely as its bytes.
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(err)?;
                Ok(Fingerprinter { key })
            }
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load(path)?.ok_or_else(|| err(std::io::ErrorKind::NotFound.into()))
            }
            Err(e) => Err(err(e.error)),
        }
    }

    /// The key at `path`, checked as [`Fingerprinter::load_or_create`] checks it; `None`
    /// when there is none yet (nothing is created).
    pub fn load(path: &Path) -> Result<Option<Self>, KeyError> {
        let invalid = |problem: String| KeyError::Invalid {
            path: path.to_path_buf(),
            problem,
        };
        let err = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let opened = crate::paths::open_own_file(path, std::fs::OpenOptions::new().read(true));
        let (file, meta) = match opened {
            Ok(opened) => opened,
            Err(OwnFileError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None)
            }
            Err(OwnFileError::Io(e)) => return Err(err(e)),
            Err(OwnFileError::Untrusted(problem)) => return Err(invalid(problem)),
        };
        let mode = meta.mode() & 0o7777;
        if mode != 0o600 {
            return Err(invalid(format!(
                "has mode {mode:04o}, not 0600 (others may have read it)"
            )));
        }
        let mut key = Vec::with_capacity(KEY_LEN + 1);
        file.take(KEY_LEN as u64 + 1)
            .read_to_end(&mut key)
            .map_err(err)?;
        if key.len() != KEY_LEN {
            return Err(invalid(format!(
                "is {} bytes long, not {KEY_LEN}",
                meta.len()
            )));
        }
        Ok(Some(Fingerprinter { key }))
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
    use std::os::unix::fs::MetadataExt;

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
        assert_eq!(std::fs::read(&path).unwrap().len(), KEY_LEN);
        let dir_mode = std::fs::metadata(dir.path().join("sub")).unwrap().mode() & 0o7777;
        assert_eq!(dir_mode, 0o700);
    }

    /// A valid key at `dir/key`; returns its path.
    fn made_key(dir: &Path) -> PathBuf {
        let path = dir.join("key");
        Fingerprinter::load_or_create(&path).unwrap();
        path
    }

    /// The refusal as the operator sees it; also checks the key file was left as it was.
    fn refusal(path: &Path) -> String {
        let before = std::fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.ino(), m.len()));
        let err = Fingerprinter::load_or_create(path).unwrap_err();
        let after = std::fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.ino(), m.len()));
        assert_eq!(before, after, "the key was neither replaced nor repaired");
        crate::error::render(&err)
    }

    #[test]
    fn a_truncated_key_is_refused_not_used_or_regenerated() {
        let dir = tempfile::tempdir().unwrap();
        let path = made_key(dir.path());
        let key = std::fs::read(&path).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(5)
            .unwrap();
        let text = refusal(&path);
        let p = path.display();
        assert_eq!(
            text,
            format!(
                "error[E045]: the fingerprint key {p} is 5 bytes long, not 32; jackin will not use it\n  \
                 → what to try: remove {p} to make a new key; fingerprints in saved plans will change\n"
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), &key[..5]);
    }

    #[test]
    fn an_empty_or_too_long_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = made_key(dir.path());
        std::fs::write(&path, b"").unwrap();
        assert!(refusal(&path).contains("is 0 bytes long, not 32"));
        std::fs::write(&path, [7u8; 64]).unwrap();
        assert!(refusal(&path).contains("is 64 bytes long, not 32"));
    }

    #[test]
    fn a_key_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = made_key(dir.path());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = refusal(&path);
        assert!(
            text.starts_with("error[E045]: ") && text.contains("has mode 0644, not 0600"),
            "{text}"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().mode() & 0o7777,
            0o644,
            "not silently repaired"
        );
    }

    #[test]
    fn a_symlinked_key_is_refused_even_when_it_points_at_a_good_key() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let real = made_key(elsewhere.path());
        let path = dir.path().join("key");
        std::os::unix::fs::symlink(&real, &path).unwrap();
        let text = refusal(&path);
        assert!(
            text.contains(&format!("key {} is a symlink", path.display())),
            "{text}"
        );
    }

    #[test]
    fn a_key_owned_by_another_user_is_refused() {
        if crate::paths::euid() != 0 {
            return; // only root can give a file away
        }
        let dir = tempfile::tempdir().unwrap();
        let path = made_key(dir.path());
        std::os::unix::fs::chown(&path, Some(4242), None).unwrap();
        assert!(refusal(&path).contains("is owned by uid 4242, not by you (uid 0)"));
    }

    #[test]
    fn a_directory_where_the_key_should_be_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::create_dir(&path).unwrap();
        assert!(refusal(&path).contains("is not a regular file"));
    }

    #[test]
    fn racing_first_runs_end_with_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let fps: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| Fingerprinter::load_or_create(&path).unwrap().of(b"x")))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let on_disk = Fingerprinter::load_or_create(&path).unwrap().of(b"x");
        assert!(fps.iter().all(|fp| *fp == on_disk), "{fps:?} vs {on_disk}");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp files left behind");
    }
}
