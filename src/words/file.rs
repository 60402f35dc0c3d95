//! What a file is and whom it belongs to, as jackin's rules speak of it: [`Kind`] (what sits
//! at a name, seen without following it) and [`Owner`] (a uid:gid).

use std::os::unix::fs::FileTypeExt;

/// What sits at a name, seen without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
    Symlink,
    Fifo,
    Socket,
    Device,
}

impl Kind {
    /// The kind of a raw file type (from a `stat` without an std `Metadata`).
    pub fn of_raw(ft: rustix::fs::FileType) -> Kind {
        use rustix::fs::FileType as T;
        match ft {
            T::RegularFile => Kind::File,
            T::Directory => Kind::Directory,
            T::Symlink => Kind::Symlink,
            T::Fifo => Kind::Fifo,
            T::Socket => Kind::Socket,
            _ => Kind::Device,
        }
    }

    pub fn of(ft: std::fs::FileType) -> Kind {
        if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Directory
        } else if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else {
            Kind::Device
        }
    }
}

/// The uid:gid a handoff belongs to: the user the container runs as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    /// The user jackin runs as.
    pub fn current() -> Owner {
        Owner {
            uid: crate::paths::euid(),
            gid: rustix::process::getegid().as_raw(),
        }
    }
}
