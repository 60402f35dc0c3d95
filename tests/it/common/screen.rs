//! What an operator sees of a full-screen agent: `jackin attach` on a [`Pty`] the test owns,
//! its output rendered by a terminal emulator (`vt100`), so assertions are on the screen's
//! text (a prompt, a dialog), never on escape sequences.

use super::pty::Pty;
use super::Sandbox;
use std::process::Child;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a real client may take to draw its first screen, or to answer (liveness bounds).
pub const START: Duration = Duration::from_secs(90);
pub const ANSWER: Duration = Duration::from_secs(60);

/// Rows and columns of the operator's terminal.
pub const ROWS: u16 = 40;
pub const COLS: u16 = 120;

/// `jackin attach` to one instance, rendered.
pub struct Screen {
    pty: Pty,
    attach: Child,
    /// The emulator and how many bytes of the terminal's output it has read.
    term: Mutex<(vt100::Parser, usize)>,
}

impl Screen {
    /// Attaches to `instance` (`WS` or `WS/ROLE`) on a new terminal and makes the agent draw
    /// its whole screen: a full-screen client redraws on a window-size change, and the
    /// container's terminal size only changes when someone attaches.
    #[track_caller]
    pub fn attach(sb: &Sandbox, instance: &str) -> Screen {
        let pty = Pty::open(ROWS, COLS - 1);
        let attach = pty.spawn(sb, &["attach", instance]);
        pty.wait_for("detach with ctrl-p ctrl-q");
        pty.resize(ROWS, COLS);
        Screen {
            pty,
            attach,
            term: Mutex::new((vt100::Parser::new(ROWS, COLS, 0), 0)),
        }
    }

    /// The screen's text now: one line per row, trailing blanks trimmed.
    pub fn text(&self) -> String {
        let mut term = self.term.lock().unwrap();
        let (parser, seen) = &mut *term;
        let new = self.pty.bytes_from(*seen);
        *seen += new.len();
        parser.process(&new);
        parser.screen().contents()
    }

    /// Waits until one of `needles` is on the screen; returns its index. Panics with the
    /// screen after `timeout` (a liveness bound, not a timing assertion).
    #[track_caller]
    pub fn wait_for_any(&self, needles: &[&str], timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text();
            if let Some(i) = needles.iter().position(|n| text.contains(n)) {
                return i;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for any of {needles:?} on the screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `needle` is on the screen.
    #[track_caller]
    pub fn wait_for(&self, needle: &str, timeout: Duration) {
        self.wait_for_any(&[needle], timeout);
    }

    /// Types `prompt`, waits until the client shows it (so it is typed, not pasted), then
    /// presses Enter.
    #[track_caller]
    pub fn submit(&self, prompt: &str, timeout: Duration) {
        self.pty.type_bytes(prompt.as_bytes());
        self.wait_for(prompt, timeout);
        self.pty.type_bytes(b"\r");
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.attach.kill();
        let _ = self.attach.wait();
    }
}
