//! Input limits on state files (SPEC §2 "Input limits"): a regular file, at most
//! [`MAX_BYTES`], nesting at most [`MAX_DEPTH`] levels deep.
//!
//! A state file may come from a repository jackin does not control (CI linting a pull
//! request, `watch` following a checkout), so reading it must never hang on a FIFO, stream
//! a device forever, or hand a parser input that costs more than linear time: a parser's own
//! limits arrive too late (serde_yaml's recursion limit fired only after libyaml had spent
//! time quadratic in the depth). The size and file-type checks run here before reading;
//! depth is checked before TOML is parsed (`depth.rs`) and, with alias expansion, by the one
//! linear pass that reads YAML (`read_yaml.rs`).

use super::error::{Kind, Place, Problem};
use super::load::io_reason;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Largest state file accepted. Real state files are a few kilobytes; the bound keeps a
/// mistaken or hostile file (a log, a generated blob) from exhausting memory.
pub(crate) const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// Deepest nesting accepted: the top-level table is level 0 and every table, array,
/// mapping or sequence inside adds one. A real state file nests about 6 deep; the bound
/// keeps every later step (parsers, serde, source maps) within a small constant per byte.
pub(crate) const MAX_DEPTH: usize = 64;

/// Most values a YAML file may expand to through aliases. Every value takes at least two
/// bytes, so a file within [`MAX_BYTES`] reaches this only through aliases: it stops
/// "billion laughs" files whose expansion would exhaust memory, and nothing else.
pub(crate) const MAX_YAML_VALUES: u64 = MAX_BYTES;

/// Why a state file was not read.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    Io(std::io::Error),
    /// What it is instead ("a FIFO", "a directory", …).
    NotRegular(&'static str),
    /// Its size when known up front; `None` when it grew past the limit while being read.
    TooLarge(Option<u64>),
    NotUtf8,
}

impl From<std::io::Error> for ReadFailure {
    fn from(e: std::io::Error) -> Self {
        ReadFailure::Io(e)
    }
}

impl ReadFailure {
    /// The operator-facing problem for the file shown as `shown`.
    pub(crate) fn problem(&self, shown: &Path) -> (Kind, Problem) {
        let name = shown.display();
        match self {
            ReadFailure::Io(e) => (
                Kind::NotFound,
                Problem::new(Place::File(shown.to_owned()), io_reason(e)),
            ),
            ReadFailure::NotUtf8 => (
                Kind::NotFound,
                Problem::new(Place::File(shown.to_owned()), "cannot read: not UTF-8 text"),
            ),
            ReadFailure::NotRegular(what) => (
                Kind::Limit,
                Problem::new(
                    Place::Nowhere,
                    format!("{name} is {what}, not a regular file"),
                )
                .with_hint(
                    "point jackin at a regular file (a symlink to one is fine); FIFOs, \
                         sockets, devices and directories are never read as state files",
                ),
            ),
            ReadFailure::TooLarge(size) => {
                let what = match size {
                    Some(bytes) => format!("is {}", mib(*bytes)),
                    None => "grew past 4 MiB while it was read".to_owned(),
                };
                (
                    Kind::Limit,
                    Problem::new(
                        Place::Nowhere,
                        format!("{name} {what}; state files are limited to 4 MiB"),
                    )
                    .with_hint("split the state into several files in one folder and load them with `-f DIR`"),
                )
            }
        }
    }
}

/// `5.2 MiB`, rounded up so a file just over the limit never reads as `4.0 MiB`.
fn mib(bytes: u64) -> String {
    let tenths = bytes.saturating_mul(10).div_ceil(1024 * 1024);
    format!("{}.{} MiB", tenths / 10, tenths % 10)
}

/// The whole text of one state file, within the limits on what is read.
///
/// The path is checked before opening so a device is never even opened (opening some has
/// effects: a tape rewinds, a watchdog arms); the open is non-blocking so a FIFO swapped in
/// meanwhile cannot hang it, and the open handle is checked again, since that is what is read.
pub(crate) fn read_state_file(path: &Path) -> Result<String, ReadFailure> {
    regular(&std::fs::metadata(path)?)?;
    let file = crate::bounded::open_host_following(path)?;
    let len = checked_len(&file)?;
    let bytes = read_bounded(file, len)?;
    String::from_utf8(bytes).map_err(|_| ReadFailure::NotUtf8)
}

/// The size of an open state file, if it is a regular file within [`MAX_BYTES`].
fn checked_len(file: &File) -> Result<u64, ReadFailure> {
    let meta = file.metadata()?;
    regular(&meta)?;
    if meta.len() > MAX_BYTES {
        return Err(ReadFailure::TooLarge(Some(meta.len())));
    }
    Ok(meta.len())
}

/// Reads at most one byte more than [`MAX_BYTES`]: that byte proves the file too large
/// (it grew since it was measured) without reading, or holding, the rest.
fn read_bounded(file: File, expected: u64) -> Result<Vec<u8>, ReadFailure> {
    let mut bytes = Vec::with_capacity(expected.min(MAX_BYTES) as usize + 1);
    file.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(ReadFailure::TooLarge(None));
    }
    Ok(bytes)
}

fn regular(meta: &Metadata) -> Result<(), ReadFailure> {
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    };
    Err(ReadFailure::NotRegular(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::os::unix::fs::OpenOptionsExt;

    fn message(failure: &ReadFailure) -> String {
        failure.problem(Path::new("jackin.toml")).1.to_string()
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("jackin.toml");
        crate::manifest::tests::mkfifo(&fifo);
        let err = read_state_file(&fifo).unwrap_err();
        assert_eq!(message(&err), "jackin.toml is a FIFO, not a regular file");
        assert_eq!(err.problem(&fifo).0, Kind::Limit);
    }

    /// The handle is checked on its own, so a FIFO swapped in after the path check (a race
    /// the path check cannot see) is still refused.
    #[test]
    fn the_open_handle_is_checked_not_just_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f");
        crate::manifest::tests::mkfifo(&fifo);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        assert!(matches!(
            checked_len(&file),
            Err(ReadFailure::NotRegular("a FIFO"))
        ));
    }

    #[test]
    fn devices_and_directories_are_refused_and_links_to_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let err = read_state_file(&zero).unwrap_err();
        assert_eq!(
            message(&err),
            "jackin.toml is a character device, not a regular file"
        );
        let err = read_state_file(dir.path()).unwrap_err();
        assert_eq!(
            message(&err),
            "jackin.toml is a directory, not a regular file"
        );

        let real = dir.path().join("real.toml");
        std::fs::write(&real, "version = 1\n").unwrap();
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(read_state_file(&link).unwrap(), "version = 1\n");
    }

    #[test]
    fn a_file_over_4_mib_is_refused_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 5 * 1024 * 1024 + 200 * 1024]).unwrap();
        let err = read_state_file(&big).unwrap_err();
        assert_eq!(
            message(&err),
            "jackin.toml is 5.2 MiB; state files are limited to 4 MiB"
        );
        let exact = dir.path().join("exact.toml");
        std::fs::write(&exact, vec![b'#'; MAX_BYTES as usize]).unwrap();
        assert_eq!(read_state_file(&exact).unwrap().len(), MAX_BYTES as usize);
    }

    /// A file that grows after it was measured is cut off one byte past the limit.
    #[test]
    fn reading_stops_one_byte_past_the_limit_whatever_the_size_said() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 2 * MAX_BYTES as usize]).unwrap();
        let err = read_bounded(File::open(&big).unwrap(), 10).unwrap_err();
        assert_eq!(
            message(&err),
            "jackin.toml grew past 4 MiB while it was read; state files are limited to 4 MiB"
        );
    }

    #[test]
    fn sizes_round_up_to_a_tenth() {
        assert_eq!(mib(MAX_BYTES + 1), "4.1 MiB");
        assert_eq!(mib(5 * 1024 * 1024), "5.0 MiB");
    }
}
