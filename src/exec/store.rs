//! The handoff store: the only code that writes into `$JACKIN_HOME/data`.
//!
//! Writes are atomic (temp file in the same directory, fsync, rename, fsync the directory),
//! skipped when the bytes are identical, and refused when any path component below `data/`
//! is a symlink (a container could plant one to redirect a write). Directories are 0700,
//! files 0600, whatever the umask.

use crate::ledger::FileStat;
use crate::observed::HandoffError;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

pub struct Store {
    /// `$JACKIN_HOME/data`: everything below it is checked for symlinks.
    data: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HandoffError + '_ {
    move |source| HandoffError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    pub fn new(data: PathBuf) -> Self {
        Store { data }
    }

    /// Create `dir` (under `data/`) and its parents as 0700 directories, refusing symlinks.
    pub fn ensure_dir(&self, dir: &Path) -> Result<(), HandoffError> {
        crate::paths::create_private_dir_all(&self.data).map_err(io(&self.data))?;
        let rel = dir.strip_prefix(&self.data).map_err(|_| HandoffError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other("outside jackin's data directory"),
        })?;
        let mut cur = self.data.clone();
        for comp in rel.components() {
            let Component::Normal(name) = comp else {
                return Err(HandoffError::Symlink(dir.to_path_buf()));
            };
            cur.push(name);
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => return Err(HandoffError::Symlink(cur)),
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(HandoffError::Io {
                        path: cur,
                        source: std::io::Error::other("not a directory"),
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // Something that appeared since the lstat is not trusted: fail, as
                    // mkdir itself would.
                    if !crate::paths::create_private_dir(&cur).map_err(io(&cur))? {
                        return Err(io(&cur)(std::io::ErrorKind::AlreadyExists.into()));
                    }
                }
                Err(e) => return Err(io(&cur)(e)),
            }
        }
        Ok(())
    }

    /// Atomically make `path` hold `bytes` (0600). Returns the file's stat afterwards and
    /// whether it was written (false: identical bytes were already there).
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(FileStat, bool), HandoffError> {
        let dir = path.parent().expect("file has a parent");
        self.ensure_dir(dir)?;
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(HandoffError::Symlink(path.to_path_buf()))
            }
            Ok(m)
                if m.is_file()
                    && m.len() == bytes.len() as u64
                    && std::fs::read(path).map_err(io(path))? == bytes =>
            {
                return Ok((FileStat::of(&m), false));
            }
            _ => {}
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".jackin-")
            .tempfile_in(dir)
            .map_err(io(dir))?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(path))?;
        tmp.write_all(bytes).map_err(io(path))?;
        tmp.as_file().sync_all().map_err(io(path))?;
        tmp.persist(path).map_err(|e| io(path)(e.error))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        let meta = std::fs::symlink_metadata(path).map_err(io(path))?;
        Ok((FileStat::of(&meta), true))
    }

    /// Remove a file (never through a symlinked parent); then drop now-empty parents up to
    /// `stop` (the agent's handoff directory, which itself stays: it is a mount source).
    pub fn remove(&self, path: &Path, stop: &Path) -> Result<(), HandoffError> {
        let dir = path.parent().expect("file has a parent");
        self.ensure_dir(dir)?;
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(path)(e)),
        }
        let mut cur = dir;
        while cur != stop && cur.starts_with(stop) {
            if std::fs::remove_dir(cur).is_err() {
                break; // not empty: container-owned files stay
            }
            cur = cur.parent().expect("below stop");
        }
        Ok(())
    }

    /// `--purge-removed`: delete an instance's whole state directory.
    pub fn purge_instance(&self, dir: &Path) -> Result<(), HandoffError> {
        self.ensure_dir(dir.parent().expect("instance dir has a parent"))?;
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(dir)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn writes_are_0600_in_0700_dirs_and_skip_identical_bytes() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path().join("data"));
        let file = root.path().join("data/c/handoff/kimi/credentials/a.json");
        let (_, wrote) = store.write(&file, b"one").unwrap();
        assert!(wrote);
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        let dir = root.path().join("data/c/handoff/kimi/credentials");
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        let ino = std::fs::metadata(&file).unwrap().ino();
        let (_, wrote) = store.write(&file, b"one").unwrap();
        assert!(!wrote, "identical bytes are not rewritten");
        assert_eq!(std::fs::metadata(&file).unwrap().ino(), ino);
    }

    #[test]
    fn refuses_to_write_through_a_symlinked_directory() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let store = Store::new(root.path().join("data"));
        store
            .ensure_dir(&root.path().join("data/c/handoff"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("data/c/handoff/kimi"))
            .unwrap();
        let err = store
            .write(&root.path().join("data/c/handoff/kimi/config.toml"), b"x")
            .unwrap_err();
        assert!(matches!(err, HandoffError::Symlink(_)), "{err}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn refuses_to_replace_a_symlinked_file() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        std::fs::write(&target, b"host").unwrap();
        let store = Store::new(root.path().join("data"));
        let dir = root.path().join("data/c/handoff/kimi");
        store.ensure_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&target, dir.join("config.toml")).unwrap();
        assert!(matches!(
            store.write(&dir.join("config.toml"), b"x"),
            Err(HandoffError::Symlink(_))
        ));
        assert_eq!(std::fs::read(&target).unwrap(), b"host");
    }
}
