//! What wakes the console: keys, the hints `watch` follows (Docker events of the project's
//! containers, the state file(s), host login folders — the same interests, file watcher and
//! event stream), resizes, signals and a slow resync. Everything is awaited: an idle console
//! sleeps in the kernel and never polls the engine.

use super::app::Key;
use crate::reconcile::Context;
use crate::watch::fs::FsWatch;
use crate::watch::interest::Interests;
use crate::watch::{describe, docker, Trigger};
use std::io::Stdin;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::{sleep_until, Instant};

/// A full refresh at least this often, whatever the hints say (they can be lost).
pub const RESYNC: Duration = Duration::from_secs(60);

/// Why the loop woke up.
#[derive(Debug)]
pub enum Wake {
    Keys(Vec<Key>),
    /// Hints worth a refresh, described (`docker stop acme-api-dev`, `host login ~/.codex`).
    Changed(Vec<String>),
    Resize,
    /// SIGTERM, SIGHUP or SIGINT: leave.
    Signal,
}

/// Readiness of the terminal's input, so keys wake the loop like any other hint.
#[allow(
    deprecated,
    reason = "AsyncFd::register is the unsafe replacement (the crate denies unsafe); stdin's descriptor stays open and the same for the life of the process, which is the invariant it asks for"
)]
fn watch_stdin() -> std::io::Result<AsyncFd<Stdin>> {
    AsyncFd::new(std::io::stdin())
}

pub struct Live {
    rx: UnboundedReceiver<Trigger>,
    fs: FsWatch,
    interests: Interests,
    /// Each host's Docker events, followed while this lives (dropping it stops them).
    _followers: docker::Followers,
    /// `None` while the UI is left for a session: the session reads the keys then.
    keys: Option<AsyncFd<Stdin>>,
    signals: [Signal; 4],
    resync_at: Instant,
}

fn sig(kind: SignalKind) -> std::io::Result<Signal> {
    signal(kind)
}

impl Live {
    pub fn start(
        project: &str,
        hosts: &crate::desired::hosts::Hosts,
        interests: Interests,
    ) -> std::io::Result<Self> {
        let (tx, rx) = unbounded_channel();
        let (mut fs, _) = FsWatch::new(tx.clone());
        fs.sync(&interests.watches());
        Ok(Live {
            rx,
            fs,
            interests,
            _followers: docker::Followers::start(project, hosts, docker::ANY_STATE, &tx),
            keys: Some(watch_stdin()?),
            signals: [
                sig(SignalKind::terminate())?,
                sig(SignalKind::hangup())?,
                sig(SignalKind::interrupt())?,
                sig(SignalKind::window_change())?,
            ],
            resync_at: Instant::now() + RESYNC,
        })
    }

    /// Follow what the last refresh read (a new source folder, a new state file).
    pub fn set_interests(&mut self, interests: Interests) {
        if interests != self.interests {
            self.fs.sync(&interests.watches());
            self.interests = interests;
        }
        self.resync_at = Instant::now() + RESYNC;
    }

    /// Stop reading keys (before a session takes the terminal) or start again.
    pub fn keys(&mut self, on: bool) -> std::io::Result<()> {
        self.keys = None;
        if on {
            self.keys = Some(watch_stdin()?);
        }
        Ok(())
    }

    /// SIGTERM, SIGHUP or SIGINT (ctrl-c on the terminal while the UI is left).
    pub async fn signal(&mut self) {
        let [term, hup, int, _] = &mut self.signals;
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
            _ = int.recv() => {}
        }
    }

    /// Until Enter or a signal (`true`): the pause after an action's output. Hints that arrive
    /// meanwhile are dropped; the refresh after the action reads everything again.
    pub async fn enter_or_signal(&mut self, ctx: &Context) -> std::io::Result<bool> {
        self.keys(true)?;
        loop {
            match self.next(ctx).await {
                Wake::Signal => return Ok(true),
                Wake::Keys(keys) if keys.contains(&Key::Enter) => return Ok(false),
                _ => {}
            }
        }
    }

    pub async fn next(&mut self, ctx: &Context) -> Wake {
        loop {
            let [term, hup, int, winch] = &mut self.signals;
            tokio::select! {
                _ = term.recv() => return Wake::Signal,
                _ = hup.recv() => return Wake::Signal,
                _ = int.recv() => return Wake::Signal,
                _ = winch.recv() => return Wake::Resize,
                () = sleep_until(self.resync_at) => {
                    return Wake::Changed(vec!["resync".to_owned()]);
                }
                Some(t) = self.rx.recv() => {
                    if let Some(w) = self.changed(ctx, t) {
                        return w;
                    }
                }
                keys = read_keys(self.keys.as_ref()) => {
                    if !keys.is_empty() {
                        return Wake::Keys(keys);
                    }
                }
            }
        }
    }

    /// This hint and any already queued behind it, as one refresh; `None` when none matters.
    fn changed(&mut self, ctx: &Context, first: Trigger) -> Option<Wake> {
        let mut why: Vec<String> = describe(&self.interests, ctx, first).into_iter().collect();
        while let Ok(t) = self.rx.try_recv() {
            why.extend(describe(&self.interests, ctx, t));
        }
        why.dedup();
        (!why.is_empty()).then_some(Wake::Changed(why))
    }
}

/// Wait until the terminal has input, then take every key it holds. The bytes are read here
/// rather than through crossterm's event reader: that reader keeps its own edge-triggered
/// poll, and a resize reported in the same wake-up left a typed key unread until the next one.
/// Only as many bytes as are waiting are read, so the (blocking) descriptor never blocks.
async fn read_keys(fd: Option<&AsyncFd<Stdin>>) -> Vec<Key> {
    let Some(fd) = fd else {
        return std::future::pending().await;
    };
    let Ok(mut ready) = fd.readable().await else {
        return std::future::pending().await;
    };
    let waiting = rustix::io::ioctl_fionread(std::io::stdin()).unwrap_or(0);
    let mut buf = [0u8; 256];
    let want = usize::try_from(waiting).unwrap_or(buf.len()).min(buf.len());
    let n = if want == 0 {
        0
    } else {
        std::io::Read::read(&mut std::io::stdin().lock(), &mut buf[..want]).unwrap_or(0)
    };
    if u64::try_from(n).unwrap_or(u64::MAX) >= waiting {
        ready.clear_ready();
    }
    parse_keys(&buf[..n])
}

/// Raw terminal bytes to keys: printable characters, ctrl-c, Enter, the arrow keys (`ESC [ A`,
/// `ESC O A` in application mode), PgUp and PgDn (`ESC [ 5 ~`, `ESC [ 6 ~`); anything else
/// is `Other`.
pub fn parse_keys(bytes: &[u8]) -> Vec<Key> {
    let mut keys = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let (key, used) = match rest {
            [0x1b, b'[' | b'O', b'A', ..] => (Key::Up, 3),
            [0x1b, b'[' | b'O', b'B', ..] => (Key::Down, 3),
            [0x1b, b'[', b'5', b'~', ..] => (Key::PageUp, 4),
            [0x1b, b'[', b'6', b'~', ..] => (Key::PageDown, 4),
            [0x1b, b'[', ..] => (Key::Other, csi_len(rest)),
            [0x03, ..] => (Key::CtrlC, 1),
            [b'\r' | b'\n', ..] => (Key::Enter, 1),
            [b, ..] if b.is_ascii_graphic() || *b == b' ' => (Key::Char(char::from(*b)), 1),
            _ => (Key::Other, 1),
        };
        keys.push(key);
        i += used;
    }
    keys
}

/// The length of a CSI sequence (`ESC [` parameters, then a final byte 0x40..=0x7e).
fn csi_len(seq: &[u8]) -> usize {
    seq.iter()
        .skip(2)
        .position(|b| (0x40..=0x7e).contains(b))
        .map_or(seq.len(), |p| p + 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_arrows_and_ctrl_c_are_parsed() {
        assert_eq!(
            parse_keys(b"q2\x1b[A\x1bOB\x03\x1b[1;5Cy\r\x1b[5~\x1b[6~"),
            vec![
                Key::Char('q'),
                Key::Char('2'),
                Key::Up,
                Key::Down,
                Key::CtrlC,
                Key::Other,
                Key::Char('y'),
                Key::Enter,
                Key::PageUp,
                Key::PageDown
            ]
        );
    }
}
