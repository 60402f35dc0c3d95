//! [`Dir`]: one open directory, and every filesystem call jackin makes inside a handoff.
//!
//! The container owns what is inside its handoff directory and may swap any entry for a link,
//! a FIFO or another directory at any moment, including between two of jackin's steps. So no
//! call here takes a path string: each acts on *one name* relative to a directory handle that
//! was itself opened without following links (`openat(O_NOFOLLOW | O_DIRECTORY)`). Descending
//! `credentials/a.json` opens `credentials` as a handle first; if the container has put a link
//! there, the open fails (`ELOOP`/`ENOTDIR`) instead of leaving the tree. Once a handle is open
//! it keeps naming the same directory whatever the container renames afterwards, and a bind
//! mount cannot be renamed out of, so nothing reached through a handle lies outside the mount.
//!
//! Built on `rustix`'s `*at` calls: no `unsafe`, no libc by hand.

pub use crate::words::{Kind, Owner};
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};
use rustix::io::Errno;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

const DIR: OFlags = OFlags::DIRECTORY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::RDONLY);

/// Whether an open failed because the name is not a plain directory (a link, a file, …).
pub fn not_a_directory(e: &io::Error) -> bool {
    matches!(
        Errno::from_io_error(e),
        Some(Errno::LOOP | Errno::NOTDIR | Errno::MLINK)
    )
}

pub fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// What [`Dir::lstat`] saw at a name.
#[derive(Debug, Clone, Copy)]
pub struct Lstat {
    pub kind: Kind,
    pub len: u64,
    pub stat: crate::ledger::FileStat,
}

/// An open directory handle. Everything is relative to it, one name at a time.
#[derive(Debug)]
pub struct Dir(OwnedFd);

impl Dir {
    /// Open one of jackin's own directories by path; its last component is not followed.
    pub fn open(path: &Path) -> io::Result<Dir> {
        Ok(Dir(rfs::open(path, DIR, Mode::empty())?))
    }

    /// The subdirectory `name`; fails with `ELOOP`/`ENOTDIR` when it is anything else.
    pub fn open_dir(&self, name: &[u8]) -> io::Result<Dir> {
        Ok(Dir(rfs::openat(&self.0, name, DIR, Mode::empty())?))
    }

    /// Make the subdirectory `name` (0700 whatever the umask). `Ok(false)`: it existed.
    pub fn create_dir(&self, name: &[u8]) -> io::Result<bool> {
        match rfs::mkdirat(&self.0, name, Mode::RWXU) {
            Ok(()) => {
                let dir = self.open_dir(name)?;
                rfs::fchmod(&dir.0, Mode::RWXU)?;
                Ok(true)
            }
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// What `name` is, without following it, opening it (`O_PATH`) or touching its content:
    /// a FIFO is not opened for reading, a device not for I/O. `None` when it does not exist.
    /// What sits at `name`, without following it, in one `fstatat(AT_SYMLINK_NOFOLLOW)`: its
    /// kind, size and the stat data the ledger keeps (the hot path of every observe).
    pub fn lstat(&self, name: &[u8]) -> io::Result<Option<Lstat>> {
        match rfs::statat(&self.0, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Lstat {
                kind: Kind::of_raw(rfs::FileType::from_raw_mode(st.st_mode)),
                len: u64::try_from(st.st_size).unwrap_or(0),
                stat: crate::ledger::FileStat {
                    size: u64::try_from(st.st_size).unwrap_or(0),
                    mtime_ns: st.st_mtime * 1_000_000_000 + i64::from(st.st_mtime_nsec as u32),
                    ctime_ns: st.st_ctime * 1_000_000_000 + i64::from(st.st_ctime_nsec as u32),
                    ino: st.st_ino,
                    dev: st.st_dev,
                },
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn stat(&self, name: &[u8]) -> io::Result<Option<std::fs::Metadata>> {
        let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rfs::openat(&self.0, name, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(File::from(fd).metadata()?)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Open `name` for reading: never through a link (`O_NOFOLLOW`), never blocking on a FIFO
    /// (`O_NONBLOCK`), never becoming a controlling terminal. The caller checks the open
    /// handle's type: what was opened is what is read, whatever was there a moment before.
    pub fn open_read(&self, name: &[u8]) -> io::Result<File> {
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        Ok(File::from(rfs::openat(
            &self.0,
            name,
            flags,
            Mode::empty(),
        )?))
    }

    /// A new, empty 0600 file with a random name in this directory (`O_CREAT | O_EXCL`, so a
    /// name the container planted is never reused).
    pub fn create_temp(&self) -> io::Result<(Vec<u8>, File)> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut last = None;
        for _ in 0..16 {
            let name = random_name(".jackin-", ".tmp")?;
            match rfs::openat(&self.0, &name, flags, Mode::RUSR | Mode::WUSR) {
                Ok(fd) => {
                    let file = File::from(fd);
                    rfs::fchmod(&file, Mode::RUSR | Mode::WUSR)?;
                    return Ok((name, file));
                }
                Err(Errno::EXIST) => last = Some(Errno::EXIST),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.unwrap_or(Errno::EXIST).into())
    }

    /// Atomically replace `to` with `from` (both in this directory). A link, FIFO or file at
    /// `to` is replaced as an entry, never followed; a directory there makes it fail.
    pub fn rename(&self, from: &[u8], to: &[u8]) -> io::Result<()> {
        Ok(rfs::renameat(&self.0, from, &self.0, to)?)
    }

    /// Move `from` to `to` (both in this directory) only when nothing is at `to`, of any
    /// kind: `renameat2(RENAME_NOREPLACE)`. `Ok(false)`: something is there; nothing moved and
    /// `from` is still in place. A filesystem without that flag gets the same guarantee from
    /// `linkat`, which never replaces a name either.
    pub fn rename_noreplace(&self, from: &[u8], to: &[u8]) -> io::Result<bool> {
        match rfs::renameat_with(&self.0, from, &self.0, to, rfs::RenameFlags::NOREPLACE) {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(Errno::INVAL | Errno::NOSYS) => {
                match rfs::linkat(&self.0, from, &self.0, to, AtFlags::empty()) {
                    Ok(()) => {
                        self.remove_file(from)?;
                        Ok(true)
                    }
                    Err(Errno::EXIST) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Move `from` in this directory to `to` in `dest`.
    pub fn rename_into(&self, from: &[u8], dest: &Dir, to: &[u8]) -> io::Result<()> {
        Ok(rfs::renameat(&self.0, from, &dest.0, to)?)
    }

    /// Remove the entry `name` itself (a link is removed, never its target). Fails on a
    /// directory.
    pub fn remove_file(&self, name: &[u8]) -> io::Result<()> {
        Ok(rfs::unlinkat(&self.0, name, AtFlags::empty())?)
    }

    /// Remove the empty subdirectory `name`.
    pub fn remove_dir(&self, name: &[u8]) -> io::Result<()> {
        Ok(rfs::unlinkat(&self.0, name, AtFlags::REMOVEDIR)?)
    }

    pub fn sync(&self) -> io::Result<()> {
        Ok(rfs::fsync(&self.0)?)
    }

    /// Give this directory to `owner` (a no-op when it already is theirs).
    pub fn chown(&self, owner: Owner) -> io::Result<()> {
        chown(&self.0, owner)
    }

    /// Give the entry `name` to `owner` without following it (a link changes as a link).
    pub fn chown_entry(&self, name: &[u8], owner: Owner) -> io::Result<()> {
        let uid = rustix::fs::Uid::from_raw(owner.uid);
        let gid = rustix::fs::Gid::from_raw(owner.gid);
        Ok(rfs::chownat(
            &self.0,
            name,
            Some(uid),
            Some(gid),
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// The names in this directory (not `.`/`..`). Only jackin's own trees are listed: a
    /// handoff's content is looked up by the names the rules know, never listed.
    pub fn names(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut names = Vec::new();
        for entry in rfs::Dir::read_from(&self.0)? {
            let name = entry?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                names.push(name);
            }
        }
        Ok(names)
    }
}

/// `{prefix}{16 random hex digits}{suffix}`: a name the container cannot guess in advance.
pub fn random_name(prefix: &str, suffix: &str) -> io::Result<Vec<u8>> {
    let mut bytes = [0u8; 8];
    rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty())?;
    Ok(format!("{prefix}{}{suffix}", hex::encode(bytes)).into_bytes())
}

/// `fchown` an open file or directory, skipped when it already has that owner (so jackin
/// running as a regular user never needs the privilege for its own files).
pub fn chown(fd: impl std::os::fd::AsFd, owner: Owner) -> io::Result<()> {
    let st = rfs::fstat(&fd)?;
    if st.st_uid == owner.uid && st.st_gid == owner.gid {
        return Ok(());
    }
    let uid = rustix::fs::Uid::from_raw(owner.uid);
    let gid = rustix::fs::Gid::from_raw(owner.gid);
    Ok(rfs::fchown(&fd, Some(uid), Some(gid))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn lstat_sees_what_the_ledger_records_and_never_follows_a_link() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), b"abc").unwrap();
        symlink("/etc/passwd", root.path().join("l")).unwrap();
        let dir = Dir::open(root.path()).unwrap();
        let seen = dir.lstat(b"f").unwrap().unwrap();
        let meta = std::fs::symlink_metadata(root.path().join("f")).unwrap();
        assert_eq!(seen.stat, crate::ledger::FileStat::of(&meta));
        assert_eq!((seen.kind, seen.len), (Kind::File, 3));
        assert_eq!(dir.lstat(b"l").unwrap().unwrap().kind, Kind::Symlink);
        assert!(dir.lstat(b"absent").unwrap().is_none());
    }

    #[test]
    fn a_link_is_never_descended_into_nor_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim"), b"host").unwrap();
        symlink(outside.path(), root.path().join("credentials")).unwrap();
        symlink(outside.path().join("victim"), root.path().join("file")).unwrap();
        let dir = Dir::open(root.path()).unwrap();
        let err = dir.open_dir(b"credentials").unwrap_err();
        assert!(not_a_directory(&err), "{err}");
        assert!(dir.open_read(b"file").is_err());
        let meta = dir.stat(b"file").unwrap().unwrap();
        assert_eq!(Kind::of(meta.file_type()), Kind::Symlink);
        dir.remove_file(b"file").unwrap();
        assert_eq!(
            std::fs::read(outside.path().join("victim")).unwrap(),
            b"host"
        );
    }

    #[test]
    fn a_fifo_is_seen_without_blocking() {
        let root = tempfile::tempdir().unwrap();
        let fifo = root.path().join("f");
        rfs::mknodat(
            rfs::CWD,
            &fifo,
            rfs::FileType::Fifo,
            Mode::RUSR | Mode::WUSR,
            0,
        )
        .unwrap();
        let dir = Dir::open(root.path()).unwrap();
        assert_eq!(
            Kind::of(dir.stat(b"f").unwrap().unwrap().file_type()),
            Kind::Fifo
        );
        let opened = dir.open_read(b"f").unwrap();
        assert_eq!(Kind::of(opened.metadata().unwrap().file_type()), Kind::Fifo);
    }

    #[test]
    fn rename_noreplace_never_replaces_any_kind_of_entry() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim"), b"host").unwrap();
        std::fs::write(root.path().join("file"), b"theirs").unwrap();
        symlink(outside.path().join("victim"), root.path().join("link")).unwrap();
        symlink("/nonexistent", root.path().join("dangling")).unwrap();
        std::fs::create_dir(root.path().join("dir")).unwrap();
        let dir = Dir::open(root.path()).unwrap();
        for to in [&b"file"[..], b"link", b"dangling", b"dir"] {
            let (tmp, _f) = dir.create_temp().unwrap();
            assert!(!dir.rename_noreplace(&tmp, to).unwrap());
            assert!(dir.stat(&tmp).unwrap().is_some(), "the temp file stays");
            dir.remove_file(&tmp).unwrap();
        }
        assert_eq!(std::fs::read(root.path().join("file")).unwrap(), b"theirs");
        assert_eq!(
            std::fs::read(outside.path().join("victim")).unwrap(),
            b"host"
        );
        let (tmp, _f) = dir.create_temp().unwrap();
        assert!(dir.rename_noreplace(&tmp, b"new").unwrap());
        assert!(dir.stat(&tmp).unwrap().is_none());
        assert!(root.path().join("new").is_file());
    }

    #[test]
    fn new_directories_and_temp_files_are_private_whatever_the_umask() {
        let root = tempfile::tempdir().unwrap();
        let dir = Dir::open(root.path()).unwrap();
        assert!(dir.create_dir(b"d").unwrap());
        assert!(!dir.create_dir(b"d").unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root.path().join("d")), 0o700);
        let (name, _f) = dir.create_temp().unwrap();
        let p = root.path().join(std::str::from_utf8(&name).unwrap());
        assert_eq!(mode(&p), 0o600);
    }
}
