//! A pseudo-terminal the tests own: jackin (`attach`, `exec`) gets its slave side as stdin,
//! stdout, stderr and controlling terminal (through util-linux `setsid -c`), so a test can
//! type, resize the window, read `stty -g` and everything written on it.

use super::Sandbox;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a terminal may take to show what a test waits for.
pub const LIVENESS: Duration = Duration::from_secs(60);

/// A TTY's output with its CR LF line ends made plain.
pub fn plain(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// The master side of a pseudo-terminal, with everything jackin wrote on it collected.
pub struct Pty {
    master: File,
    slave: PathBuf,
    /// Held open so reading the master blocks instead of failing (EIO) while no process
    /// has the slave side.
    _slave_held: OwnedFd,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    pub fn open(rows: u16, cols: u16) -> Pty {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let slave = PathBuf::from(
            ptsname(&master, Vec::new())
                .expect("ptsname")
                .into_string()
                .unwrap(),
        );
        let _slave_held = open_slave(&slave);
        let pty = Pty {
            master: File::from(master),
            slave,
            _slave_held,
            out: Arc::default(),
        };
        pty.resize(rows, cols);
        let mut reader = pty.master.try_clone().unwrap();
        let out = Arc::clone(&pty.out);
        // Ends with the test process.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                out.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        pty
    }

    /// A new handle of the slave side.
    pub fn slave_fd(&self) -> OwnedFd {
        open_slave(&self.slave)
    }

    /// Changing the size raises SIGWINCH in the terminal's foreground process group.
    pub fn resize(&self, rows: u16, cols: u16) {
        let size = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&self.master, size).expect("TIOCSWINSZ");
    }

    /// What a user types.
    pub fn type_bytes(&self, bytes: &[u8]) {
        (&self.master).write_all(bytes).expect("write to the pty");
    }

    pub fn output(&self) -> String {
        plain(&String::from_utf8_lossy(&self.out.lock().unwrap()))
    }

    /// The bytes written on the terminal from offset `from` on (for a terminal emulator).
    pub fn bytes_from(&self, from: usize) -> Vec<u8> {
        let out = self.out.lock().unwrap();
        out.get(from..).unwrap_or_default().to_vec()
    }

    #[track_caller]
    pub fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + LIVENESS;
        while !self.output().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?} on the terminal:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its mode, as `stty -g` prints it.
    pub fn stty(&self) -> String {
        let out = std::process::Command::new("stty")
            .arg("-F")
            .arg(&self.slave)
            .arg("-g")
            .output()
            .expect("run stty");
        assert!(out.status.success(), "stty -F: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// `jackin ARGS` with this terminal as its stdin, stdout, stderr and controlling terminal.
    pub fn spawn(&self, sb: &Sandbox, args: &[&str]) -> Child {
        sb.command(&["setsid", "-w", "-c"], args, &[])
            .stdin(Stdio::from(self.slave_fd()))
            .stdout(Stdio::from(self.slave_fd()))
            .stderr(Stdio::from(self.slave_fd()))
            .spawn()
            .expect("spawn jackin on the pty")
    }
}

/// The slave side, never as the test's own controlling terminal.
pub fn open_slave(path: &std::path::Path) -> OwnedFd {
    use rustix::fs::{open, Mode, OFlags};
    open(
        path,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("open the pty's slave side")
}
