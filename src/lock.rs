//! One apply at a time per project: an OS file lock under `$JACKIN_HOME/locks/`.
//!
//! The kernel releases the lock when its holder exits, however it exits, so a crashed apply
//! never leaves a stale lock. The holder writes its pid into the file so a waiter can name it.
//! Lock files are 0600 and opened without following a symlink: a planted link is refused,
//! never written through.

use crate::error::{Code, Coded};
use crate::paths::OwnFileError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
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
    #[error("refusing to use lock file {path}: it {problem}")]
    Unsafe { path: PathBuf, problem: String },
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
            LockError::Unsafe { .. } => Code::E044,
            LockError::Io { .. } => Code::E040,
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            LockError::Busy { .. } => "wait for it to finish, or raise --lock-timeout".into(),
            LockError::Unsafe { path, .. } => format!(
                "remove {} (jackin makes a new one, 0600); nothing was written through it",
                path.display()
            ),
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
    let unsafe_file = |problem: String| LockError::Unsafe {
        path: path.to_path_buf(),
        problem,
    };
    if let Some(dir) = path.parent() {
        crate::paths::create_private_dir_all(dir).map_err(io)?;
    }
    let (mut file, meta) = crate::paths::open_own_file(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600),
    )
    .map_err(|e| match e {
        OwnFileError::Untrusted(problem) => unsafe_file(problem),
        OwnFileError::Io(e) => io(e),
    })?;
    // 0600 whatever the umask (and for lock files an older jackin made 0644).
    if meta.mode() & 0o7777 != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
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

    #[test]
    fn a_new_lock_file_is_0600_in_a_0700_dir() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/p.lock");
        let _held = acquire(&path, "p", Duration::ZERO).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("locks")), 0o700);
    }

    #[test]
    fn a_lock_file_symlink_is_refused_and_its_target_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("locks");
        std::fs::create_dir(&locks).unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, b"keep me").unwrap();
        let path = locks.join("p.lock");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = acquire(&path, "p", Duration::ZERO).unwrap_err();
        let text = crate::error::render(&err);
        assert!(
            text.starts_with(&format!(
                "error[E044]: refusing to use lock file {}: it is a symlink\n",
                path.display()
            )),
            "{text}"
        );
        assert!(text.contains("→ what to try: remove "), "{text}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    }

    #[test]
    fn a_fifo_where_the_lock_file_should_be_is_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.lock");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        let err = acquire(&path, "p", Duration::ZERO).unwrap_err();
        assert!(
            err.to_string().ends_with("it is not a regular file"),
            "{err}"
        );
    }
}
