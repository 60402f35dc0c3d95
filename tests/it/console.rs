//! `jackin console` end to end (SPEC v3 §6): the real binary on a pseudo-terminal the test
//! owns, its output rendered by a terminal emulator (`vt100`), against the real engine with
//! the busybox agent image. Waits are liveness bounds on what the screen shows, never sleeps
//! used as synchronisation.

use crate::common::*;
use std::process::Child;
use std::time::{Duration, Instant};

const LIVENESS: Duration = Duration::from_secs(60);

/// What the console asks after an action whose output is worth reading.
const PRESS_ENTER: &str = "[press Enter to return to the console]";

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
    /// The terminal's mode before the console started.
    stty: String,
}

impl Console {
    fn open(sb: &Sandbox, rows: u16, cols: u16) -> Console {
        let pty = Pty::open(rows, cols);
        let stty = pty.stty();
        let child = pty.spawn(sb, &["console"]);
        Console {
            pty,
            child,
            term: vt100::Parser::new(rows, cols, 0),
            seen: 0,
            stty,
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
        self.wait_until(&format!("{needles:?}"), |text| {
            needles.iter().all(|n| text.contains(n))
        })
    }

    /// Waits (a liveness bound) until the screen's text satisfies `ok` (`what` says what).
    #[track_caller]
    fn wait_until(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LIVENESS;
        loop {
            let text = self.text();
            if ok(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} on the console:\n{text}\n--- raw ---\n{}",
                self.pty.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where the terminal's output is now: [`Console::wait_written`] looks only after it.
    fn mark(&mut self) -> usize {
        self.text();
        self.seen
    }

    /// Waits (a liveness bound) until everything in `needles` was written on the terminal
    /// after `mark`: what an action prints on the shell's screen, where earlier actions'
    /// output stays.
    #[track_caller]
    fn wait_written(&mut self, mark: usize, needles: &[&str]) {
        let deadline = Instant::now() + LIVENESS;
        loop {
            let out = String::from_utf8_lossy(&self.pty.bytes_from(mark)).into_owned();
            if needles.iter().all(|n| out.contains(n)) {
                self.text();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needles:?} written after the mark:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `container`'s row on the Instances tab says `state`.
    #[track_caller]
    fn wait_for_row(&mut self, container: &str, state: &str) {
        self.wait_until(&format!("{container} {state}"), |text| {
            text.lines()
                .any(|l| l.contains(container) && l.contains(state))
        });
    }

    fn key(&self, bytes: &[u8]) {
        self.pty.type_bytes(bytes);
    }

    /// `q`, then the exit code (a liveness bound on the exit).
    fn quit(self) -> (i32, Vec<u8>) {
        self.key(b"q");
        self.exited()
    }

    /// Its exit code once it exits (a liveness bound on the exit) and all it wrote, after
    /// checking the terminal is left as the shell had it: the alternate screen left and the
    /// cursor shown after the last time they were switched, the mode as before.
    #[track_caller]
    fn exited(mut self) -> (i32, Vec<u8>) {
        let deadline = Instant::now() + LIVENESS;
        let code = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "console did not exit:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let bytes = self.pty.bytes_from(0);
        let raw = String::from_utf8_lossy(&bytes);
        let left = raw
            .rfind("\x1b[?1049l")
            .expect("the alternate screen is left");
        let shown = raw.rfind("\x1b[?25h").expect("the cursor is shown");
        assert!(
            raw.rfind("\x1b[?1049h").unwrap() < left && raw.rfind("\x1b[?25l").unwrap() < shown
        );
        assert_eq!(
            self.pty.stty(),
            self.stty,
            "the terminal's mode is restored"
        );
        (code, bytes)
    }
}

fn started_at(c: &str) -> String {
    inspect(c, "{{.State.StartedAt}}")
}

/// [`state`] applied: a kimi login on the host, workspaces `a` and `b`, their containers.
struct Applied {
    sb: Sandbox,
    login: KimiLogin,
    a: String,
    b: String,
    ca: String,
    cb: String,
}

impl Applied {
    fn new() -> Applied {
        let sb = Sandbox::new();
        let login = sb.kimi_login(".kimi");
        let (a, b) = (sb.workspace("a"), sb.workspace("b"));
        sb.write("jackin.toml", state(&sb, &a, &b));
        sb.jackin(&["apply"]).expect_ok();
        let (ca, cb) = (format!("jk-{a}-smith"), format!("jk-{b}-smith"));
        Applied {
            sb,
            login,
            a,
            b,
            ca,
            cb,
        }
    }
}

fn id(c: &str) -> String {
    inspect(c, "{{.Id}}")
}

#[test]
fn console_shows_instances_auth_scopes_and_live_changes_and_changes_nothing() {
    let Applied {
        sb,
        login,
        b,
        ca,
        cb,
        ..
    } = Applied::new();
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
    login.assert_not_leaked(&String::from_utf8_lossy(&raw));

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

#[test]
fn console_follows_a_start_outside_jackin_and_acts_only_after_y() {
    let Applied {
        sb,
        login,
        a,
        ca,
        cb,
        ..
    } = Applied::new();
    let b_started = started_at(&cb);

    // Wide enough for whole names; `a` is the first row, selected.
    let mut con = Console::open(&sb, 30, 140);
    con.wait_for_row(&ca, "running, up");

    // Stopped, then started again outside jackin: each shows without a key press, and the
    // Events tab says it was Docker's start event that brought the change.
    docker(&["stop", "-t", "1", &ca]);
    con.wait_for_row(&ca, "exited (code ");
    docker(&["start", &ca]);
    con.wait_for_row(&ca, "running, up");
    con.key(b"4");
    con.wait_for(&[&format!("docker start {ca}")]);
    con.key(b"1");

    // `l` leaves the UI for the instance's logs (the fake agent printed its launch), and
    // Enter brings the console back.
    let at = con.mark();
    con.key(b"l");
    con.wait_written(at, &["kimi", "m1", PRESS_ENTER]);
    con.key(b"\r");
    con.wait_for_row(&ca, "running, up");

    // `r` asks first, saying what will happen; `n` and Esc change nothing.
    let a_id = id(&ca);
    let asks = format!("Recreate {a}/smith (apply --replace {a}/smith --target {a}/smith)? y/N");
    for cancel in [&b"n"[..], b"\x1b"] {
        con.key(b"r");
        con.wait_for(&[&asks]);
        con.key(cancel);
        con.wait_for(&["? help  q quit"]);
        assert_eq!(id(&ca), a_id, "a cancelled replace recreates nothing");
    }
    // `y` recreates it, then the console comes back with it running.
    con.key(b"r");
    con.wait_for(&[&asks]);
    let at = con.mark();
    con.key(b"y");
    con.wait_written(at, &["Apply complete!", PRESS_ENTER]);
    con.key(b"\r");
    con.wait_for_row(&ca, "running, up");
    let replaced = id(&ca);
    assert_ne!(replaced, a_id, "replace made a new container");

    // A host login change is pending: `p` asks (with how much), `n` applies nothing, `y`
    // applies it and the Plan tab is then empty.
    std::fs::write(login.dir.join("device_id"), "changed on the host\n").unwrap();
    con.key(b"3");
    con.wait_for(&["changed on host"]);
    let handoff = snapshot(sb.handoff_dir(&ca, "kimi"));
    con.key(b"p");
    con.wait_for(&[
        "Apply the plan shown in tab 3 now (",
        "pending change(s))? y/N",
    ]);
    con.key(b"n");
    con.wait_for(&["? help  q quit", "changed on host"]);
    assert_eq!(
        snapshot(sb.handoff_dir(&ca, "kimi")),
        handoff,
        "nothing copied"
    );
    con.key(b"p");
    con.wait_for(&["Apply the plan shown in tab 3 now ("]);
    let at = con.mark();
    con.key(b"y");
    con.wait_written(at, &["Apply complete!", PRESS_ENTER]);
    con.key(b"\r");
    con.wait_for(&["3 Plan", "No changes"]);
    assert_ne!(
        snapshot(sb.handoff_dir(&ca, "kimi")),
        handoff,
        "the change was copied"
    );
    // With nothing pending `p` asks nothing; the next key clears the word.
    con.key(b"p");
    con.wait_for(&["Nothing to apply: the plan has no changes."]);
    con.key(b"3");
    con.wait_for(&["? help  q quit", "No changes"]);
    assert_eq!(id(&ca), replaced, "apply restarted, not recreated");
    assert_eq!(started_at(&cb), b_started, "b was never touched");

    // ctrl-c while a replace runs (held at the apply lock the test takes, so it is surely
    // still running): the replace finishes, the console ends (no Enter needed) and the
    // terminal is the shell's again (checked by `exited`).
    con.key(b"1");
    con.key(b"r");
    con.wait_for(&[&asks]);
    let lock = std::fs::File::create(sb.lock_path()).unwrap();
    lock.lock().unwrap();
    let at = con.mark();
    con.key(b"y");
    con.wait_written(at, &["\x1b[?1049l"]);
    con.key(b"\x03");
    con.wait_written(at, &["replace: finishing it, then leaving the console"]);
    lock.unlock().unwrap();
    con.wait_written(at, &["Apply complete!"]);
    let (code, raw) = con.exited();
    assert_eq!(code, 0);
    login.assert_not_leaked(&String::from_utf8_lossy(&raw));
    assert_ne!(id(&ca), replaced, "the replace in flight was finished");
    assert!(container_running(&ca));
}
