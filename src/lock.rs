//! One apply at a time per project: an OS file lock under `$JACKIN_HOME/locks/`.
//!
//! The kernel releases the lock when its holder exits, however it exits, so a crashed apply
//! never leaves a stale lock. The holder writes its pid into the file so a waiter can name it.

use crate::error::{Code, Coded};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another jackin apply (pid {pid}) holds the lock for project {project}; gave up after {waited}s")]
    Busy {
        project: String,
        pid: String,
        waited: u64,
    },
    #[error("cannot open lock file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Coded for LockError {
    fn code(&self) -> Code {
        match self {
            LockError::Busy { .. } => Code::E030,
            LockError::Io { .. } => Code::E040,
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            LockError::Busy { .. } => "wait for it to finish, or raise --lock-timeout".into(),
            LockError::Io { .. } => "check that $JACKIN_HOME is writable".into(),
        })
    }
}

/// Held for as long as it lives.
#[derive(Debug)]
pub struct ProjectLock {
    _file: File,
}

/// How often a waiter retries; the wait itself is bounded by `timeout`.
const RETRY: Duration = Duration::from_millis(50);

pub fn acquire(path: &Path, project: &str, timeout: Duration) -> Result<ProjectLock, LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if start.elapsed() < timeout => std::thread::sleep(RETRY),
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Err(LockError::Busy {
                    project: project.to_owned(),
                    pid: pid.trim().to_owned(),
                    waited: timeout.as_secs(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    write!(file, "{}", std::process::id()).map_err(io)?;
    Ok(ProjectLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_fails_naming_the_first_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/p.lock");
        let held = acquire(&path, "p", Duration::ZERO).unwrap();
        let err = acquire(&path, "p", Duration::ZERO).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        acquire(&path, "p", Duration::ZERO).expect("released on drop");
    }
}
