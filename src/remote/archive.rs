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
    /// Seconds since the epoch: with the size, how a purge tells the file it saw from one the
    /// container put there since.
    pub mtime: u64,
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

/// Read the engine's tar for one path: skip metadata entries (PAX, GNU long names) but keep a
/// PAX `size`, which is the only size of a file over 8 GiB (its ustar field then says 0), judge
/// the first real header, and read the body only when it is a regular file within the cap. The
/// stream is dropped (the connection closed) as soon as the answer is known, so a FIFO or a
/// 1 TiB sparse file costs one header.
pub async fn read_first<S, E>(mut stream: S) -> Result<Result<Found, String>, E>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut buf: Vec<u8> = Vec::new();
    let mut at = 0usize; // offset of the next header in buf
    let mut pax_size: Option<u64> = None;
    loop {
        if !fill(&mut stream, &mut buf, at + 512).await? {
            return Ok(Err("the engine's tar ended before an entry".into()));
        }
        let h = tar::Header::from_byte_slice(&buf[at..at + 512]);
        let size = match h.entry_size() {
            Ok(s) => s,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let entry_type = h.entry_type();
        let Some(kind) = kind_of(entry_type) else {
            // metadata entry (PAX records, GNU long name): small, read whole, then skipped
            let body = at + 512;
            let next = body + size.div_ceil(512) as usize * 512;
            if next > 4 << 20 || !fill(&mut stream, &mut buf, next).await? {
                return Ok(Err("oversized or cut tar metadata before the entry".into()));
            }
            if entry_type.is_pax_local_extensions() {
                let records = &buf[body..body + size as usize];
                pax_size = pax_size_of(records).or(pax_size);
            }
            at = next;
            continue;
        };
        let header = Header {
            kind,
            size: pax_size.unwrap_or(size),
            mode: h.mode().unwrap_or(0),
            uid: h.uid().unwrap_or(u64::MAX),
            gid: h.gid().unwrap_or(u64::MAX),
            mtime: h.mtime().unwrap_or(0),
        };
        return judge(header, &mut buf, at + 512, &mut stream).await;
    }
}

/// The `size` record of a PAX header, if any.
fn pax_size_of(records: &[u8]) -> Option<u64> {
    tar::PaxExtensions::new(records)
        .filter_map(Result::ok)
        .find(|e| e.key_bytes() == b"size")
        .and_then(|e| e.value().ok()?.parse().ok())
}

/// Read chunks until `buf` holds `len` bytes; false when the stream ends first.
async fn fill<S, E>(stream: &mut S, buf: &mut Vec<u8>, len: usize) -> Result<bool, E>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    while buf.len() < len {
        match stream.next().await {
            Some(chunk) => buf.extend_from_slice(&chunk?),
            None => return Ok(false),
        }
    }
    Ok(true)
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
    if !fill(stream, buf, end).await? {
        return Ok(Err("the engine's tar ended inside the file".into()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(tar: Vec<u8>, chunk: usize) -> impl Stream<Item = Result<Bytes, ()>> + Unpin {
        let parts: Vec<Result<Bytes, ()>> = tar
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures_util::stream::iter(parts)
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(f)
    }

    #[test]
    fn a_file_is_read_whole_across_small_chunks() {
        let tar = build(&["d".into()], "d/f", b"hello", 7, 8).expect("tar");
        // the dir entry comes first in a put tar; a read tar starts at the file
        let file_only = build(&[], "f", b"hello", 7, 8).expect("tar");
        let found = run(read_first(stream(file_only, 3)))
            .expect("stream")
            .expect("tar");
        let Found::File { header, bytes, .. } = found else {
            panic!("{found:?}")
        };
        assert_eq!(
            (bytes.as_slice(), header.mode, header.uid),
            (&b"hello"[..], 0o600, 7)
        );
        let dir = run(read_first(stream(tar, 512)))
            .expect("stream")
            .expect("tar");
        assert!(matches!(
            dir,
            Found::Refused {
                why: Refused::NotRegular(Kind::Directory),
                ..
            }
        ));
    }

    #[test]
    fn a_pax_size_wins_and_an_oversized_body_is_never_awaited() {
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([("size", &b"1099511627776"[..])])
            .expect("pax");
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(0);
        b.append_data(&mut h, "huge", std::io::empty())
            .expect("entry");
        let tar = b.into_inner().expect("tar");
        let found = run(read_first(stream(tar, 100)))
            .expect("stream")
            .expect("tar");
        let Found::Refused { header, why } = found else {
            panic!("{found:?}")
        };
        assert_eq!((header.size, why), (1 << 40, Refused::Oversized));
    }

    #[test]
    fn a_cut_stream_is_an_error_not_a_short_file() {
        let mut tar = build(&[], "f", &[1u8; 2000], 0, 0).expect("tar");
        tar.truncate(512 + 1000);
        let got = run(read_first(stream(tar, 512))).expect("stream");
        assert!(got.is_err(), "{got:?}");
    }
}
