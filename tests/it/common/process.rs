//! A finished or running `jackin` process: its exit code and output ([`Run`], [`Spawned`]).

use super::*;
use std::fmt;
use std::io::Read;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
/// The result of one `jackin` run.
#[derive(Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout followed by stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Panics (printing both streams) unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code: {self:?}");
        self
    }

    #[track_caller]
    pub fn expect_ok(&self) -> &Self {
        self.expect_code(0)
    }

    /// Panics unless jackin failed (exit 1) with `error[code]` and stderr says each of `says`.
    #[track_caller]
    pub fn expect_error(&self, code: &str, says: &[&str]) -> &Self {
        self.expect_code(1);
        let headline = format!("error[{code}]");
        let missing: Vec<&str> = std::iter::once(headline.as_str())
            .chain(says.iter().copied())
            .filter(|s| !self.stderr.contains(s))
            .collect();
        assert!(missing.is_empty(), "stderr lacks {missing:?}: {self:?}");
        self
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.code, self.stdout, self.stderr
        )
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Reads a child's stream to the end on a thread, into a shared buffer.
pub(super) fn collect(
    mut stream: impl Read + Send + 'static,
) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buf);
    let handle = std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
    });
    (buf, handle)
}

fn text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

/// A `jackin` process running in the background (e.g. `jackin watch`).
/// Dropping it kills the process.
pub struct Spawned {
    pub(super) child: Child,
    pub(super) stdout: Arc<Mutex<Vec<u8>>>,
    pub(super) stderr: Arc<Mutex<Vec<u8>>>,
    pub(super) readers: Vec<JoinHandle<()>>,
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process printed on stdout so far.
    pub fn stdout(&self) -> String {
        text(&self.stdout)
    }

    /// Everything the process printed on stderr so far.
    pub fn stderr(&self) -> String {
        text(&self.stderr)
    }

    /// stdout followed by stderr, so far.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    /// Waits until the combined output contains `needle`.
    #[track_caller]
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.all().contains(needle) {
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {needle:?} in the output of pid {}:\n\
                     --- stdout ---\n{}\n--- stderr ---\n{}",
                    self.pid(),
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal (e.g. `libc::SIGINT`, `libc::SIGTERM`).
    pub fn signal(&self, sig: i32) {
        signal(self.child.id(), sig);
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the process to exit (panics after `timeout`, killing it).
    #[track_caller]
    pub fn wait(mut self, timeout: Duration) -> Run {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "pid {} did not exit within {timeout:?}:\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.child.id(),
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Run {
            code: exit_code(status),
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
