//! Reading files that someone else controls: the container's handoff and the operator's host
//! login folders.
//!
//! A credential file is kilobytes (claude's `.claude.json` can reach megabytes), so anything
//! over [`MAX_FILE`] is not a credential and is never read: a 1 TiB sparse file costs one
//! `fstat`, not the machine's memory. Contents are hashed as a stream, and reads stop at the
//! cap even when a file grows while it is read. Callers open files non-blocking and without
//! following a final link; the checks here are on the *open handle*, so what was checked is
//! what is read.

mod hasher;

pub use hasher::Hasher;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};

/// The largest file jackin reads from a handoff or a host login (16 MiB).
pub const MAX_FILE: u64 = 16 * 1024 * 1024;

/// Why an open file is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a regular file (the caller's open saw a link, FIFO, socket, device or directory).
    NotRegular(crate::words::Kind),
    /// Larger than [`MAX_FILE`] (or grew past it while being read).
    Oversized,
}

impl Refused {
    /// As an I/O error, for host files (where it means the operator's folder is unusable).
    pub fn into_io(self) -> io::Error {
        io::Error::other(match self {
            Refused::NotRegular(_) => "not a regular file".to_owned(),
            Refused::Oversized => {
                format!("larger than {} MiB: not a credential", MAX_FILE >> 20)
            }
        })
    }
}

/// Open an operator-named file (an env `{ file }`, a state file) for reading: a link the
/// operator made is followed, but a FIFO never blocks and a device is refused by the caller's
/// type check.
pub fn open_host_following(path: &std::path::Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Open a host file for reading: not through a final link, never blocking on a FIFO, and
/// without updating its access time where the kernel lets us (host folders are read-only to
/// jackin, atime included).
pub fn open_host(path: &std::path::Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = |flags| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | flags)
            .open(path)
    };
    match open(libc::O_NOATIME) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(0),
        other => other,
    }
}

/// The open file's type and size, checked before any byte is read.
fn check(file: &File) -> io::Result<Result<std::fs::Metadata, Refused>> {
    let meta = file.metadata()?;
    let kind = crate::words::Kind::of(meta.file_type());
    Ok(if kind != crate::words::Kind::File {
        Err(Refused::NotRegular(kind))
    } else if meta.len() > MAX_FILE {
        Err(Refused::Oversized)
    } else {
        Ok(meta)
    })
}

/// Read a whole regular file of at most [`MAX_FILE`] bytes. A refusal is an I/O error
/// ([`Refused::into_io`]): every reader treats it as one.
pub fn read(file: &mut File) -> io::Result<(Vec<u8>, std::fs::Metadata)> {
    read_checked(file)?.map_err(Refused::into_io)
}

/// [`read`], telling a refusal apart from an I/O error.
pub fn read_checked(file: &mut File) -> io::Result<Result<(Vec<u8>, std::fs::Metadata), Refused>> {
    let meta = match check(file)? {
        Ok(meta) => meta,
        Err(refused) => return Ok(Err(refused)),
    };
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE {
        return Ok(Err(Refused::Oversized));
    }
    Ok(Ok((buf, meta)))
}

/// SHA-256 (lowercase hex) and length of a regular file of at most [`MAX_FILE`] bytes,
/// streamed: memory stays at one buffer whatever the file holds.
pub fn hash(file: &mut File) -> io::Result<Result<(String, u64, std::fs::Metadata), Refused>> {
    let meta = match check(file)? {
        Ok(meta) => meta,
        Err(refused) => return Ok(Err(refused)),
    };
    let mut hasher = Sha256::new();
    let total = io::copy(&mut file.take(MAX_FILE + 1), &mut hasher)?;
    if total > MAX_FILE {
        return Ok(Err(Refused::Oversized));
    }
    Ok(Ok((hex::encode(hasher.finalize()), total, meta)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_sparse_file_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let f = File::create(&path).unwrap();
        f.set_len(1 << 40).unwrap(); // 1 TiB, sparse
        let mut f = File::open(&path).unwrap();
        assert_eq!(hash(&mut f).unwrap().unwrap_err(), Refused::Oversized);
        assert_eq!(
            read_checked(&mut f).unwrap().unwrap_err(),
            Refused::Oversized
        );
    }

    #[test]
    fn small_files_hash_like_sha256sum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let (sha, len, _) = hash(&mut File::open(&path).unwrap()).unwrap().unwrap();
        assert_eq!(len, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_directory_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = File::open(dir.path()).unwrap();
        assert_eq!(
            read_checked(&mut f).unwrap().unwrap_err(),
            Refused::NotRegular(crate::words::Kind::Directory)
        );
    }
}
