//! The tar side of the archive endpoints: a small tar built in memory for a put, and a
//! streamed, capped reading of the engine's tar for a read.

use crate::bounded::{Refused, MAX_FILE};
use crate::words::Kind;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// The lstat facts of one entry, from its tar header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// What a read found at a managed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Absent,
    /// A regular file of at most [`MAX_FILE`] bytes, with its SHA-256 (lowercase hex).
    File {
        header: Header,
        bytes: Vec<u8>,
        sha256: String,
    },
    /// Something jackin does not read: a link, FIFO, device, directory or oversized file.
    /// Nothing past its header was read.
    Refused {
        header: Header,
        why: Refused,
    },
}

/// A tar of `dirs` (0700, in order) and one regular file (0600), all owned by `uid:gid`.
pub fn build(
    dirs: &[String],
    file: &str,
    contents: &[u8],
    uid: u64,
    gid: u64,
) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for d in dirs {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        set_common(&mut h, 0o700, uid, gid, 0);
        b.append_data(&mut h, d, std::io::empty())?;
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    set_common(&mut h, 0o600, uid, gid, contents.len() as u64);
    b.append_data(&mut h, file, contents)?;
    b.into_inner()
}

fn set_common(h: &mut tar::Header, mode: u32, uid: u64, gid: u64, size: u64) {
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(gid);
    h.set_size(size);
    h.set_mtime(0);
}

fn kind_of(t: tar::EntryType) -> Option<Kind> {
    Some(match t {
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        tar::EntryType::Directory => Kind::Directory,
        tar::EntryType::Symlink | tar::EntryType::Link => Kind::Symlink,
        tar::EntryType::Fifo => Kind::Fifo,
        tar::EntryType::Char | tar::EntryType::Block => Kind::Device,
        _ => return None,
    })
}

/// Read the engine's tar for one path: skip metadata entries (PAX, GNU long names), judge the
/// first real header, and read the body only when it is a regular file within the cap. The
/// stream is dropped (the connection closed) as soon as the answer is known, so a FIFO or a
/// 1 TiB sparse file costs one header.
pub async fn read_first<S, E>(mut stream: S) -> Result<Result<Found, String>, E>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut buf: Vec<u8> = Vec::new();
    let mut at = 0usize; // offset of the next header in buf
    loop {
        while buf.len() < at + 512 {
            match stream.next().await {
                Some(chunk) => buf.extend_from_slice(&chunk?),
                None => return Ok(Err("the engine's tar ended before an entry".into())),
            }
        }
        let raw = &buf[at..at + 512];
        let h = tar::Header::from_byte_slice(raw);
        let size = h.entry_size().map_err(|e| e.to_string());
        let size = match size {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let Some(kind) = kind_of(h.entry_type()) else {
            // metadata entry: skip its padded body, which is small (names, PAX records)
            if size > 1 << 20 {
                return Ok(Err("oversized tar metadata entry".into()));
            }
            at += 512 + size.div_ceil(512) as usize * 512;
            if at > 4 << 20 {
                return Ok(Err("too much tar metadata before the entry".into()));
            }
            continue;
        };
        let header = Header {
            kind,
            size,
            mode: h.mode().unwrap_or(0),
            uid: h.uid().unwrap_or(u64::MAX),
            gid: h.gid().unwrap_or(u64::MAX),
        };
        return judge(header, &mut buf, at + 512, &mut stream).await;
    }
}

async fn judge<S, E>(
    header: Header,
    buf: &mut Vec<u8>,
    body: usize,
    stream: &mut S,
) -> Result<Result<Found, String>, E>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    if header.kind != Kind::File {
        let why = Refused::NotRegular(header.kind);
        return Ok(Ok(Found::Refused { header, why }));
    }
    if header.size > MAX_FILE {
        let why = Refused::Oversized;
        return Ok(Ok(Found::Refused { header, why }));
    }
    let end = body + header.size as usize;
    while buf.len() < end {
        match stream.next().await {
            Some(chunk) => buf.extend_from_slice(&chunk?),
            None => return Ok(Err("the engine's tar ended inside the file".into())),
        }
    }
    let bytes = buf[body..end].to_vec();
    use sha2::Digest;
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    Ok(Ok(Found::File {
        header,
        bytes,
        sha256,
    }))
}
