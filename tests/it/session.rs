//! `jackin exec`, `logs` and `attach` against real containers (SPEC §6): what the operator
//! sees on their terminal, the exit code, and that nothing but this project's containers is
//! ever opened. `attach` and `exec` on a terminal run on a pseudo-terminal the test owns
//! ([`Pty`]: jackin gets its slave side as stdin/stdout/stderr and controlling terminal,
//! through util-linux `setsid -c`), so the tests can type, resize the window and read `stty -g`.

use crate::common::*;
use std::process::Child;
use std::time::{Duration, Instant};

const LIVENESS: Duration = Duration::from_secs(60);

/// Role `smith` (the agent image, kimi with model `m1`, run as the image's `agent` user,
/// uid 1000) and role `jones`; workspace `ws` declares `smith` with `instance` TOML lines
/// under it.
fn state(sb: &Sandbox, ws: &str, instance: &str) -> String {
    format!(
        r#"version = 1
project = "{project}"

[roles.smith]
image = "{image}"
agents = ["kimi"]
user = "agent"

[roles.smith.kimi]
model = "m1"

[roles.jones]
image = "{image}"
agents = ["codex"]

[workspaces.{ws}]
workdir = "/workspace"

[workspaces.{ws}.roles.smith]
{instance}
"#,
        project = sb.project(),
        image = agent_image(),
    )
}

/// Apply a one-instance state; returns the container's name.
fn applied(sb: &Sandbox, ws: &str, instance: &str) -> String {
    sb.write("jackin.toml", state(sb, ws, instance));
    sb.jackin(&["apply"]).expect_ok();
    let c = format!("jk-{ws}-smith");
    assert!(container_running(&c), "{c} should run after apply");
    c
}

/// The fake agent prints its name and arguments when it starts (scripts/agent-image.sh).
const STARTED: &str = "kimi\n--yolo\n--model\nm1\n";

/// `jackin exec WS -- sh -c SCRIPT`.
fn exec_sh(sb: &Sandbox, ws: &str, script: &str) -> Run {
    sb.jackin(&["exec", ws, "--", "sh", "-c", script])
}

fn wait_for_agent_start(c: &str) {
    wait_until("the agent printed its arguments", LIVENESS, || {
        plain(&docker(&["logs", c])).contains(STARTED)
    });
}

// ---------------------------------------------------------------------------
// exec
// ---------------------------------------------------------------------------

#[test]
fn exec_prints_the_commands_output_and_exits_with_its_code() {
    let sb = Sandbox::new();
    let ws = sb.workspace("ex");
    applied(&sb, &ws, "");
    let run = exec_sh(&sb, &ws, "echo hi; echo oops >&2; exit 7");
    run.expect_code(7);
    assert_eq!(
        run.stdout, "hi\n",
        "stdout is the command's, untouched: {run:?}"
    );
    assert!(run.stderr.contains("oops"), "{run:?}");
    // WS/ROLE names the same instance.
    let run = sb.jackin(&["exec", &format!("{ws}/smith"), "--", "true"]);
    run.expect_ok();
}

#[test]
fn exec_runs_as_the_containers_user_with_its_env_and_workdir() {
    let sb = Sandbox::new();
    let ws = sb.workspace("exu");
    applied(
        &sb,
        &ws,
        "[workspaces.{WS}.roles.smith.env]\nGREETING = \"hello from the state file\"\n"
            .replace("{WS}", &ws)
            .as_str(),
    );
    let run = exec_sh(&sb, &ws, "id -u; echo \"$GREETING\"; pwd");
    run.expect_ok();
    assert_eq!(
        run.stdout, "1000\nhello from the state file\n/workspace\n",
        "{run:?}"
    );
}

#[test]
fn exec_forwards_stdin_and_defaults_to_a_login_shell() {
    let sb = Sandbox::new();
    let ws = sb.workspace("exi");
    applied(&sb, &ws, "");
    let run = sb.jackin_input(&["exec", &ws, "--", "cat"], b"piped through\n");
    run.expect_ok();
    assert_eq!(run.stdout, "piped through\n", "{run:?}");
    // No command: `sh -l`, reading the script from stdin.
    let run = sb.jackin_input(&["exec", &ws], b"echo \"shell as $(id -un)\"; exit 5\n");
    run.expect_code(5);
    assert_eq!(run.stdout, "shell as agent\n", "{run:?}");
}

#[test]
fn exec_of_a_stopped_or_missing_instance_is_a_coded_error() {
    let sb = Sandbox::new();
    let ws = sb.workspace("exs");
    let c = applied(&sb, &ws, "");
    docker(&["stop", "-t", "0", &c]);
    let run = sb.jackin(&["exec", &ws, "--", "true"]);
    run.expect_error(
        "E063",
        &["not running", &format!("jackin apply --target {ws}/smith")],
    );

    docker(&["rm", "-f", &c]);
    let run = sb.jackin(&["exec", &ws, "--", "true"]);
    run.expect_error("E062", &[&format!("{c} does not exist")]);
}

#[test]
fn an_unknown_or_ambiguous_instance_names_the_candidates() {
    let sb = Sandbox::new();
    let ws = sb.workspace("sel");
    // Two instances in one workspace: `ws` alone is ambiguous. No Docker is needed to say so.
    let body = state(&sb, &ws, "") + &format!("[workspaces.{ws}.roles.jones]\n");
    sb.write("jackin.toml", body);
    let run = sb.jackin(&["logs", &ws]);
    run.expect_error("E061", &[&format!("candidates: {ws}/jones, {ws}/smith")]);
    let run = sb.jackin(&["exec", &format!("{ws}/smyth")]);
    run.expect_error("E060", &[&format!("did you mean {ws}/smith?")]);
}

#[test]
fn a_container_that_is_not_the_projects_is_never_opened() {
    let sb = Sandbox::new();
    let ws = sb.workspace("nours");
    sb.write("jackin.toml", state(&sb, &ws, ""));
    let c = format!("jk-{ws}-smith");
    // Someone else's container under the instance's name: unmanaged, then another
    // project's. Removed by name at the end (the sandbox only removes its own project's).
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            docker_ok(&["rm", "-f", &self.0]);
        }
    }
    let _cleanup = Remove(c.clone());
    for labels in [
        vec![],
        vec![
            "--label",
            "jackin.managed=true",
            "--label",
            "jackin.project=someoneelse",
        ],
    ] {
        let mut args = vec!["run", "-d", "--name", c.as_str()];
        args.extend(labels.iter().copied());
        args.extend([agent_image(), "sleep", "infinity"]);
        docker(&args);
        for cmd in [
            vec!["exec", ws.as_str(), "--", "touch", "/tmp/opened"],
            vec!["logs", ws.as_str()],
        ] {
            let run = sb.jackin(&cmd);
            run.expect_error("E022", &["not touching it"]);
        }
        assert!(container_running(&c), "the foreign container keeps running");
        assert!(
            !docker_ok(&["exec", &c, "test", "-e", "/tmp/opened"]),
            "nothing ran in the foreign container"
        );
        docker(&["rm", "-f", &c]);
    }
}

// ---------------------------------------------------------------------------
// logs
// ---------------------------------------------------------------------------

#[test]
fn logs_show_what_the_agent_printed_and_tail_keeps_the_last_lines() {
    let sb = Sandbox::new();
    let ws = sb.workspace("lg");
    let c = applied(&sb, &ws, "");
    wait_for_agent_start(&c);
    let run = sb.jackin(&["logs", &ws]);
    run.expect_ok();
    assert_eq!(plain(&run.stdout), STARTED, "{run:?}");
    let run = sb.jackin(&["logs", &ws, "--tail", "1"]);
    run.expect_ok();
    assert_eq!(plain(&run.stdout), "m1\n", "{run:?}");
    // A stopped instance's output is still there.
    docker(&["stop", "-t", "0", &c]);
    let run = sb.jackin(&["logs", &format!("{ws}/smith"), "--tail", "2"]);
    run.expect_ok();
    assert_eq!(plain(&run.stdout), "--model\nm1\n", "{run:?}");
}

#[test]
fn logs_follow_prints_new_output_until_the_container_stops() {
    let sb = Sandbox::new();
    let ws = sb.workspace("lf");
    let c = applied(&sb, &ws, "");
    wait_for_agent_start(&c);
    let follow = sb.jackin_spawn(&["logs", &ws, "--follow", "--tail", "1"], &[]);
    follow.wait_for_output("m1", LIVENESS);
    // Something new on the agent's terminal (a TTY container's /dev/console).
    docker(&[
        "exec",
        "-u",
        "0",
        &c,
        "sh",
        "-c",
        "echo later-line >/dev/console",
    ]);
    follow.wait_for_output("later-line", LIVENESS);
    docker(&["stop", "-t", "0", &c]);
    let run = follow.wait(LIVENESS);
    run.expect_ok();
    assert_eq!(plain(&run.stdout), "m1\nlater-line\n", "{run:?}");
}

// ---------------------------------------------------------------------------
// A pseudo-terminal for jackin
// ---------------------------------------------------------------------------

#[track_caller]
fn wait_exit(child: &mut Child, pty: &Pty) -> i32 {
    let deadline = Instant::now() + LIVENESS;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("jackin did not exit; terminal:\n{}", pty.output());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Type `size` until the agent reports `rows cols`: a resize travels through a signal and
/// an API call, so the first answers may still show the old size.
fn wait_for_size(pty: &Pty, rows: u16, cols: u16) {
    let want = format!("agent size: {rows} {cols}");
    let deadline = Instant::now() + LIVENESS;
    loop {
        pty.type_bytes(b"size\r");
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(2) {
            if pty.output().contains(&want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            Instant::now() < deadline,
            "the agent never saw {rows}x{cols}:\n{}",
            pty.output()
        );
    }
}

/// An instance whose fake agent answers what is typed on its terminal, and `jackin attach`
/// to it running on a new `rows`×`cols` pty (attached once it says how to detach).
fn attached_echo_agent(sb: &Sandbox, base: &str, rows: u16, cols: u16) -> Attached {
    let ws = sb.workspace(base);
    let env = format!("[workspaces.{ws}.roles.smith.env]\nFAKE_AGENT_ECHO = \"1\"\n");
    let c = applied(sb, &ws, &env);
    wait_for_agent_start(&c);
    let pty = Pty::open(rows, cols);
    let before = pty.stty();
    let jackin = pty.spawn(sb, &["attach", &ws]);
    pty.wait_for("detach with ctrl-p ctrl-q");
    Attached {
        ws,
        c,
        pty,
        before,
        jackin,
    }
}

struct Attached {
    ws: String,
    c: String,
    pty: Pty,
    /// The terminal's mode before jackin ran.
    before: String,
    jackin: Child,
}

// ---------------------------------------------------------------------------
// attach
// ---------------------------------------------------------------------------

#[test]
fn attach_sends_keys_to_the_agent_follows_the_window_and_detaches_with_ctrl_p_ctrl_q() {
    let sb = Sandbox::new();
    let mut a = attached_echo_agent(&sb, "at", 33, 101);
    // jackin's terminal is raw while attached: the container's TTY does the echo.
    assert_ne!(
        a.pty.stty(),
        a.before,
        "attach switches the terminal to raw mode"
    );

    a.pty.type_bytes(b"hello through attach\r");
    a.pty.wait_for("agent got: hello through attach");
    // The window size at attach time, then after a resize (SIGWINCH).
    wait_for_size(&a.pty, 33, 101);
    a.pty.resize(44, 120);
    wait_for_size(&a.pty, 44, 120);

    a.pty.type_bytes(&[0x10, 0x11]);
    assert_eq!(wait_exit(&mut a.jackin, &a.pty), 0, "{}", a.pty.output());
    a.pty
        .wait_for(&format!("detached from {}; the agent keeps running", a.c));
    assert_eq!(a.pty.stty(), a.before, "the terminal mode is restored");
    assert!(
        container_running(&a.c),
        "the agent keeps running after a detach"
    );
    assert!(
        plain(&docker(&["logs", &a.c])).contains("agent got: hello through attach"),
        "the agent itself answered"
    );
    // The detach keys never reached the agent: attach again and it still answers.
    let mut again = a.pty.spawn(&sb, &["attach", &format!("{}/smith", a.ws)]);
    a.pty.type_bytes(b"second\r");
    a.pty.wait_for("agent got: second");
    a.pty.type_bytes(&[0x10, 0x11]);
    assert_eq!(wait_exit(&mut again, &a.pty), 0, "{}", a.pty.output());
    assert_eq!(a.pty.stty(), a.before);
}

#[test]
fn attach_restores_the_terminal_when_jackin_is_terminated() {
    let sb = Sandbox::new();
    let mut a = attached_echo_agent(&sb, "ats", 24, 80);
    assert_ne!(a.pty.stty(), a.before);
    signal(a.jackin.id(), libc::SIGTERM);
    assert_eq!(wait_exit(&mut a.jackin, &a.pty), 128 + libc::SIGTERM);
    assert_eq!(
        a.pty.stty(),
        a.before,
        "the terminal mode is restored on SIGTERM"
    );
    assert!(container_running(&a.c));
}

#[test]
fn attach_without_a_terminal_is_refused() {
    let sb = Sandbox::new();
    let ws = sb.workspace("atn");
    let c = applied(&sb, &ws, "");
    let run = sb.jackin(&["attach", &ws]);
    run.expect_error("E064", &["stdin is not a terminal", "jackin logs --follow"]);
    assert!(container_running(&c));
}

#[test]
fn exec_on_a_terminal_gets_a_tty_and_gives_the_terminal_back() {
    let sb = Sandbox::new();
    let ws = sb.workspace("ext");
    applied(&sb, &ws, "");
    let pty = Pty::open(24, 80);
    let before = pty.stty();
    let mut jackin = pty.spawn(
        &sb,
        &[
            "exec",
            &ws,
            "--",
            "sh",
            "-c",
            "test -t 0 && test -t 1 && echo on-a-tty; exit 3",
        ],
    );
    assert_eq!(wait_exit(&mut jackin, &pty), 3, "{}", pty.output());
    pty.wait_for("on-a-tty");
    assert_eq!(pty.stty(), before, "the terminal mode is restored");
}

// ---------------------------------------------------------------------------
// login
// ---------------------------------------------------------------------------

/// kimi synced from the host, codex in `ignore`: the instance's own codex login is its own.
fn login_state(sb: &Sandbox, ws: &str, extra: &str) -> String {
    format!(
        "version = 1\nproject = \"{}\"\n[auth.codex]\nmode = \"ignore\"\n[roles.smith]\nimage = \"{}\"\nagents = [\"kimi\", \"codex\"]\n[workspaces.{ws}.roles.smith]\n{extra}",
        sb.project(),
        agent_image()
    )
}

#[test]
fn login_gives_the_instance_its_own_login_which_apply_and_a_recreate_keep() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace("login");
    let c = format!("jk-{ws}-smith");
    sb.write("jackin.toml", login_state(&sb, &ws, ""));
    sb.jackin(&["apply"]).expect_ok();

    let run = sb.jackin(&["login", &ws, "codex"]);
    run.expect_ok();
    assert!(run.stdout.contains("codex logged in"), "{run:?}");
    let own = sb.handoff_dir(&c, "codex").join("auth.json");
    let login = std::fs::read_to_string(&own).unwrap();
    assert!(login.contains("own-refresh"), "{login}");
    assert_eq!(
        exec(&c, &["stat", "-c", "%u", "/jackin/codex/auth.json"]).trim(),
        exec(&c, &["id", "-u"]).trim(),
        "written by the container's user"
    );
    let started = inspect(&c, "{{.State.StartedAt}}");

    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(run.stdout.contains("No changes."), "{run:?}");
    assert_eq!(inspect(&c, "{{.State.StartedAt}}"), started, "no restart");
    let run = sb.jackin(&["apply", "--replace", &ws]);
    run.expect_ok();
    assert_eq!(
        std::fs::read_to_string(&own).unwrap(),
        login,
        "kept across a recreate"
    );
    assert!(exec(&c, &["cat", "/jackin/codex/auth.json"]).contains("own-refresh"));
}

#[test]
fn login_refuses_where_jackin_would_replace_the_login_and_passes_the_exit_code_on() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace("loginno");
    let c = format!("jk-{ws}-smith");
    let failing = format!("[workspaces.{ws}.env]\nFAKE_LOGIN_EXIT = \"7\"\n");
    sb.write("jackin.toml", login_state(&sb, &ws, &failing));
    sb.jackin(&["apply"]).expect_ok();
    let kimi_before = snapshot(sb.handoff_dir(&c, "kimi"));

    // kimi is synced from the host: its own login would be replaced; nothing runs.
    sb.jackin(&["login", &ws]).expect_error(
        "E066",
        &[
            &format!("kimi of instance {ws}/smith is in auth mode sync (set by default)"),
            &format!("set `mode = \"ignore\"` in [workspaces.{ws}.roles.smith.auth.kimi]"),
        ],
    );
    assert_eq!(snapshot(sb.handoff_dir(&c, "kimi")), kimi_before);
    // An agent the role does not provision.
    sb.jackin(&["login", &ws, "claude"])
        .expect_error("E065", &["its role provisions kimi, codex"]);
    sb.jackin(&["login", &ws, "nonesuch"]).expect_code(2);
    // The login command's exit code is jackin's.
    sb.jackin(&["login", &ws, "codex"]).expect_code(7);
}
