//! `jackin console` end to end (SPEC v3 §6): the real binary on a pseudo-terminal the test
//! owns, its output rendered by a terminal emulator (`vt100`), against the real engine with
//! the busybox agent image. Waits are liveness bounds on what the screen shows, never sleeps
//! used as synchronisation.

use crate::common::*;
use std::process::Child;
use std::time::{Duration, Instant};

const LIVENESS: Duration = Duration::from_secs(60);

/// Two instances of role `smith` (kimi): `a…` takes the global `auth.kimi` (sync from
/// `~/.kimi`), `b…` is set to `ignore` by its workspace×role table.
fn state(sb: &Sandbox, a: &str, b: &str) -> String {
    format!(
        r#"version = 1
project = "{project}"

[auth.kimi]
mode = "sync"

[roles.smith]
image = "{image}"
agents = ["kimi"]

[roles.smith.kimi]
model = "m1"

[workspaces.{a}.roles.smith]

[workspaces.{b}.roles.smith]

[workspaces.{b}.roles.smith.auth.kimi]
mode = "ignore"
"#,
        project = sb.project(),
        image = agent_image(),
    )
}

/// `jackin console` on a terminal, rendered.
struct Console {
    pty: Pty,
    child: Child,
    term: vt100::Parser,
    seen: usize,
}

impl Console {
    fn open(sb: &Sandbox, rows: u16, cols: u16) -> Console {
        let pty = Pty::open(rows, cols);
        let child = pty.spawn(sb, &["console"]);
        Console {
            pty,
            child,
            term: vt100::Parser::new(rows, cols, 0),
            seen: 0,
        }
    }

    fn text(&mut self) -> String {
        let new = self.pty.bytes_from(self.seen);
        self.seen += new.len();
        self.term.process(&new);
        self.term.screen().contents()
    }

    fn resize(&mut self, rows: u16, cols: u16) {
        self.text();
        self.term.screen_mut().set_size(rows, cols);
        self.pty.resize(rows, cols);
    }

    /// Waits (a liveness bound) until every one of `needles` is on the screen at once.
    #[track_caller]
    fn wait_for(&mut self, needles: &[&str]) -> String {
        let deadline = Instant::now() + LIVENESS;
        loop {
            let text = self.text();
            if needles.iter().all(|n| text.contains(n)) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needles:?} on the console:\n{text}\n--- raw ---\n{}",
                self.pty.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn key(&self, bytes: &[u8]) {
        self.pty.type_bytes(bytes);
    }

    /// `q`, then the exit code (a liveness bound on the exit).
    fn quit(mut self) -> (i32, Vec<u8>) {
        self.key(b"q");
        let deadline = Instant::now() + LIVENESS;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st.code().unwrap_or(-1), self.pty.bytes_from(0));
            }
            assert!(
                Instant::now() < deadline,
                "console did not exit:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn started_at(c: &str) -> String {
    inspect(c, "{{.State.StartedAt}}")
}

#[test]
fn console_shows_instances_auth_scopes_and_live_changes_and_changes_nothing() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let (a, b) = (sb.workspace("a"), sb.workspace("b"));
    sb.write("jackin.toml", state(&sb, &a, &b));
    sb.jackin(&["apply"]).expect_ok();
    let (ca, cb) = (format!("jk-{a}-smith"), format!("jk-{b}-smith"));
    let before = (started_at(&ca), started_at(&cb));
    let handoff = snapshot(sb.handoff_dir(&ca, "kimi"));

    let mut con = Console::open(&sb, 24, 80);
    // Opens on the instances, both running (with their uptime) and in sync, on the local
    // host, with the image they run.
    con.wait_for(&[
        "1 Instances",
        "running, up",
        "in sync",
        "LAST SYNC",
        "local",
    ]);
    let repository = agent_image().split(':').next().unwrap();
    con.wait_for(&[repository]);

    // Auth: the mode and the scope that set it, global and workspace×role; wide enough to
    // show the whole scope (the resize is redrawn without a key).
    con.key(b"2");
    con.wait_for(&["sync", "ignore"]);
    con.resize(30, 160);
    let b_scope = format!("workspaces.{b}.roles.smith.auth.kimi");
    con.wait_for(&["auth.kimi", &b_scope, "present"]);

    // A host login change after it opened shows in the Plan tab, without a key press.
    con.key(b"3");
    con.wait_for(&["No changes"]);
    std::fs::write(login.dir.join("device_id"), "changed on the host\n").unwrap();
    con.wait_for(&["changed on host"]);

    // A container stopped outside jackin shows as stopped, with its exit code, without a
    // key press.
    con.key(b"1");
    docker(&["stop", "-t", "1", &ca]);
    con.wait_for(&["exited (code "]);

    let (code, raw) = con.quit();
    assert_eq!(code, 0);
    let raw = String::from_utf8_lossy(&raw);
    let left = raw
        .rfind("\x1b[?1049l")
        .expect("the alternate screen is left");
    let shown = raw.rfind("\x1b[?25h").expect("the cursor is shown");
    assert!(raw.rfind("\x1b[?1049h").unwrap() < left && raw.rfind("\x1b[?25l").unwrap() < shown);
    login.assert_not_leaked(&raw);

    // Looking changed nothing: b kept running untouched, a stayed stopped, no handoff write.
    assert_eq!(started_at(&cb), before.1, "b was not restarted");
    assert!(container_running(&cb));
    assert!(
        !container_running(&ca),
        "the console never starts what was stopped"
    );
    assert_eq!(
        snapshot(sb.handoff_dir(&ca, "kimi")),
        handoff,
        "no handoff file written"
    );
}
