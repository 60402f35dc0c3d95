//! End to end against the real Docker engine: `jackin watch` left running while the
//! operator (or the world) changes things. Every wait polls observable state with a
//! deadline; nothing here sleeps for a fixed time or asserts on durations.

use crate::common::*;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// Generous: the machine is shared and Docker operations can be slow under load.
const T: Duration = Duration::from_secs(60);

fn state(sb: &Sandbox, ws: &str, model: &str) -> String {
    kimi_state(sb, ws, model, "", "")
}

fn container(ws: &str) -> String {
    format!("jk-{ws}-smith")
}

/// Replace `path` the way editors and token refreshers do: write a temp file, rename it.
fn write_by_rename(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp-jackin-test");
    fs::write(&tmp, contents).unwrap();
    fs::rename(&tmp, path).unwrap();
}

/// `docker exec`, or `None` while the container is being recreated.
fn try_exec(container: &str, cmd: &[&str]) -> Option<String> {
    let out = std::process::Command::new("docker")
        .arg("exec")
        .arg(container)
        .args(cmd)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn try_inspect(container: &str, template: &str) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", template, container])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn model_inside(c: &str) -> Option<String> {
    try_exec(c, &["cat", "/tmp/agent.args"]).and_then(|a| a.lines().last().map(str::to_owned))
}

/// Rewrite the host's Kimi token by rename (as a token refresher does) and wait until the
/// handoff of container `c` holds it. Returns the new contents.
fn rotate_host_token(sb: &Sandbox, login: &KimiLogin, c: &str, tag: &str) -> String {
    let rotated = format!("{{\"access_token\":\"SECRET-{}-{tag}\"}}\n", sb.project());
    write_by_rename(&login.dir.join("credentials/kimi-code.json"), &rotated);
    let handoff = sb.handoff_dir(c, "kimi").join("credentials/kimi-code.json");
    wait_until("the handoff holds the rotated token", T, || {
        fs::read_to_string(&handoff).is_ok_and(|s| s == rotated)
    });
    rotated
}

/// A Kimi login, a one-instance state file, and `jackin watch` running past its first pass.
fn watching(
    base: &str,
    extra_args: &[&str],
    env: &[(&str, &str)],
) -> (Sandbox, String, Spawned, KimiLogin) {
    watching_with(base, &[], extra_args, env, |sb, ws| {
        state(sb, ws, "kimi-k2")
    })
}

/// Like [`watching`], with the state file `body` writes (it may write other files too) and
/// `jackin watch` started through `wrapper` (empty: directly).
fn watching_with(
    base: &str,
    wrapper: &[&str],
    extra_args: &[&str],
    env: &[(&str, &str)],
    body: impl FnOnce(&Sandbox, &str) -> String,
) -> (Sandbox, String, Spawned, KimiLogin) {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace(base);
    sb.write("jackin.toml", body(&sb, &ws));
    let mut args = vec!["watch", "--debounce-ms", "100"];
    args.extend_from_slice(extra_args);
    let w = sb.jackin_spawn_under(wrapper, &args, env);
    (sb, ws, w, login)
}

/// The one-instance state with role smith built from `ctx/`, whose Dockerfile is `dockerfile`.
fn built_from_context(sb: &Sandbox, ws: &str, dockerfile: &str) -> String {
    sb.write("ctx/Dockerfile", dockerfile);
    state(sb, ws, "kimi-k2").replace(
        &format!("image = \"{}\"", agent_image()),
        "build = { context = \"ctx\" }",
    )
}

fn wait_first_pass_text(w: &Spawned) {
    w.wait_for_output("pass 1 [start]: converged", T);
}

#[test]
fn a_host_credential_rewritten_by_rename_is_handed_off_and_the_container_restarted() {
    let (sb, ws, w, login) = watching("rotate", &[], &[]);
    wait_first_pass_text(&w);
    let c = container(&ws);
    let started = inspect(&c, "{{.State.StartedAt}}");

    let rotated = rotate_host_token(&sb, &login, &c, "rotated");
    wait_until("the container was restarted", T, || {
        try_inspect(&c, "{{.State.StartedAt}}").is_some_and(|s| s != started)
    });
    assert_eq!(
        try_exec(&c, &["cat", "/jackin/kimi/credentials/kimi-code.json"]).as_deref(),
        Some(rotated.as_str()),
        "the container reads the new token"
    );
    assert!(
        !sb.handoff_dir(&c, "kimi")
            .join("credentials/kimi-code.tmp-jackin-test")
            .exists(),
        "the writer's temp file never reached the handoff"
    );
    w.wait_for_output("host login ~/.kimi/credentials/kimi-code.json", T);
    login.assert_not_leaked(&w.all());
    assert!(!w.all().contains("rotated\""), "{}", w.all());
}

#[test]
fn an_edited_state_file_converges_the_containers() {
    let (sb, ws, w, _login) = watching("edit", &[], &[]);
    wait_first_pass_text(&w);
    let c = container(&ws);
    let id = inspect(&c, "{{.Id}}");

    write_by_rename(&sb.work().join("jackin.toml"), &state(&sb, &ws, "kimi-k3"));

    wait_until("the container runs the new model", T, || {
        model_inside(&c).as_deref() == Some("kimi-k3")
    });
    assert_ne!(inspect(&c, "{{.Id}}"), id, "recreated, not restarted");
    w.wait_for_output("[state file jackin.toml]: converged: 1 recreated", T);
}

#[test]
fn an_invalid_edit_is_reported_with_its_position_and_changes_nothing_until_fixed() {
    let (sb, ws, mut w, _login) = watching("typo", &[], &[]);
    let sb = &sb;
    wait_first_pass_text(&w);
    let c = container(&ws);
    let id = inspect(&c, "{{.Id}}");

    // A typo that, applied literally, would drop the instance: `roles` misspelt.
    let broken = state(sb, &ws, "kimi-k2").replace(
        &format!("[workspaces.{ws}.roles.smith]"),
        &format!("[workspaces.{ws}.rolez.smith]"),
    );
    write_by_rename(&sb.work().join("jackin.toml"), &broken);
    w.wait_for_output("error[E003]", T);
    w.wait_for_output("the last good state", T);
    let err = w.stderr();
    assert!(err.contains("jackin.toml:"), "a position: {err}");
    assert!(err.contains("rolez"), "names the bad key: {err}");
    assert!(!w.exited(), "watch keeps running");
    assert_eq!(inspect(&c, "{{.Id}}"), id, "the container is kept");
    assert!(container_running(&c));

    write_by_rename(&sb.work().join("jackin.toml"), &state(sb, &ws, "kimi-k3"));
    wait_until("the fixed file converges", T, || {
        model_inside(&c).as_deref() == Some("kimi-k3")
    });
    w.wait_for_output("the state file is valid again", T);
    assert_eq!(
        w.stderr().matches("error[E003]").count(),
        1,
        "reported once"
    );
}

#[test]
fn a_container_removed_behind_jackins_back_is_recreated() {
    let (_sb, ws, w, _login) = watching("rmf", &[], &[]);
    wait_first_pass_text(&w);
    let c = container(&ws);
    let id = inspect(&c, "{{.Id}}");

    docker(&["rm", "-f", &c]);

    wait_until("the container is back and running", T, || {
        container_running(&c) && try_inspect(&c, "{{.Id}}").is_some_and(|i| i != id)
    });
    w.wait_for_output(&format!("docker destroy {c}"), T);
}

#[test]
fn a_login_folder_that_appears_after_start_is_picked_up() {
    let sb = Sandbox::new();
    let ws = sb.workspace("late");
    sb.write("jackin.toml", state(&sb, &ws, "kimi-k2"));
    let w = sb.jackin_spawn(&["watch", "--debounce-ms", "100"], &[]);
    wait_first_pass_text(&w);
    let c = container(&ws);
    let handoff = sb.handoff_dir(&c, "kimi");

    let login = sb.kimi_login(".kimi");

    wait_until("the new login is handed off", T, || {
        KimiLogin::FILES
            .iter()
            .all(|rel| fs::read(handoff.join(rel)).ok() == fs::read(login.dir.join(rel)).ok())
    });
    login.assert_not_leaked(&w.all());
}

#[test]
fn a_rotated_env_file_recreates_the_container_with_the_new_value() {
    let (sb, ws, w, _login) = watching_with("envfile", &[], &[], &[], |sb, ws| {
        sb.write_home(".secrets/token", format!("SECRET-{}-one\n", sb.project()));
        state(sb, ws, "kimi-k2").replace(
            "[roles.smith.kimi]",
            "[roles.smith.env]\nTOKEN = { file = \"~/.secrets/token\" }\n\n[roles.smith.kimi]",
        )
    });
    let c = container(&ws);
    let key = sb.home().join(".secrets/token");
    wait_first_pass_text(&w);
    let id = inspect(&c, "{{.Id}}");
    let token = || try_exec(&c, &["sh", "-c", "printf %s \"$TOKEN\""]);
    assert_eq!(token(), Some(format!("SECRET-{}-one", sb.project())));

    write_by_rename(&key, &format!("SECRET-{}-two\n", sb.project()));
    wait_until("the container has the new value", T, || {
        token() == Some(format!("SECRET-{}-two", sb.project()))
    });
    assert_ne!(
        inspect(&c, "{{.Id}}"),
        id,
        "recreated: env is fixed at creation"
    );
    w.wait_for_output("[env file ~/.secrets/token]: converged: 1 recreated", T);
    assert!(!w.all().contains("SECRET-"), "{}", w.all());
}

#[test]
fn an_edit_in_a_build_context_rebuilds_and_recreates() {
    let (sb, ws, w, _login) = watching_with("ctx", &[], &[], &[], |sb, ws| {
        sb.write("ctx/motd", "v1\n");
        let dockerfile = format!("FROM {}\nCOPY motd /etc/motd\n", agent_image());
        built_from_context(sb, ws, &dockerfile)
    });
    let c = container(&ws);
    wait_first_pass_text(&w);
    assert_eq!(exec(&c, &["cat", "/etc/motd"]), "v1\n");
    let first_image = inspect(&c, "{{.Config.Image}}");

    write_by_rename(&sb.work().join("ctx/motd"), "v2\n");
    wait_until("the container runs the rebuilt image", T, || {
        try_exec(&c, &["cat", "/etc/motd"]).as_deref() == Some("v2\n")
    });
    // The writer's temp file is the first event in the context, so the trigger may name it.
    w.wait_for_output("[build context ctx/motd", T);
    let second_image = inspect(&c, "{{.Config.Image}}");
    assert_ne!(first_image, second_image, "a new content tag");
}

/// `jackin watch` in a user namespace of its own whose inotify `limit` (a per-namespace
/// ucount under /proc/sys/user) is `value`: the machine's limits stay untouched, so other
/// tests running at the same time are not affected.
fn watching_with_inotify_limit(
    base: &str,
    limit: &str,
    value: u32,
) -> (Sandbox, String, Spawned, KimiLogin) {
    let script = format!("echo {value} > /proc/sys/user/{limit} && exec \"$0\" \"$@\"");
    let wrapper = [
        "unshare",
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        script.as_str(),
    ];
    watching_with(base, &wrapper, &[], &[], |sb, ws| state(sb, ws, "kimi-k2"))
}

/// With inotify unavailable (no instance, or no watch left), watch polls and still hands
/// a rotated host credential off.
fn falls_back_to_polling_and_converges(base: &str, limit: &str, value: u32) {
    let (sb, ws, w, login) = watching_with_inotify_limit(base, limit, value);
    wait_first_pass_text(&w);
    let err = w.stderr();
    assert!(
        err.contains("falling back to polling every 2s"),
        "{}",
        w.all()
    );
    assert!(
        err.contains("max_user_watches"),
        "says what to raise: {err}"
    );
    assert!(w.stdout().contains("(polling)"), "{}", w.all());

    rotate_host_token(&sb, &login, &container(&ws), "polled");
    w.wait_for_output("host login ~/.kimi/credentials/kimi-code.json", T);
    assert_eq!(
        w.stderr().matches("falling back to polling").count(),
        1,
        "warned once: {}",
        w.all()
    );
    login.assert_not_leaked(&w.all());
}

#[test]
fn without_an_inotify_instance_watch_polls_and_still_converges() {
    falls_back_to_polling_and_converges("noinst", "max_inotify_instances", 0);
}

#[test]
fn when_the_inotify_watch_limit_is_hit_watch_polls_and_still_converges() {
    falls_back_to_polling_and_converges("nowatch", "max_inotify_watches", 1);
}

#[test]
fn sigterm_exits_0_releases_the_lock_and_ends_the_json_stream_with_a_summary() {
    let (sb, _ws, w, _login) = watching("term", &["--output", "json"], &[]);
    w.wait_for_output(r#""type":"pass_end","pass":1"#, T);

    w.signal(libc::SIGTERM);
    let run = w.wait(T);
    run.expect_ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].contains(r#""type":"version""#), "{run:?}");
    let last = lines.last().unwrap();
    assert!(last.contains(r#""type":"watch_summary""#), "{run:?}");
    assert!(last.contains(r#""signal":"SIGTERM""#), "{run:?}");
    crate::common::schema::assert_events_match_schema(&run.stdout);

    sb.jackin(&["apply", "--lock-timeout", "0"]).expect_ok();
}

/// `jackin watch` whose first pass builds an image with a step that waits until the test
/// releases it ([`release_build`]), so a signal lands while that pass is in flight: once
/// "building from" is printed, the build cannot end before the test says so.
fn watching_a_held_first_pass(base: &str) -> (Sandbox, String, Spawned) {
    let (sb, ws, w, _login) = watching_with(base, &[], &[], &[], |sb, ws| {
        let dockerfile = format!(
            "FROM {}\nRUN until [ -e /tmp/release-{p} ]; do sleep 0.05; done && echo {p} > /etc/build-id\n",
            agent_image(),
            p = sb.project()
        );
        built_from_context(sb, ws, &dockerfile)
    });
    w.wait_for_output("building from", T);
    (sb, ws, w)
}

/// Release every held build step of `sb`'s project that is running now (their commands name
/// the project); returns how many.
fn release_held(sb: &Sandbox) -> usize {
    let marker = format!("release-{}", sb.project());
    let listed = docker(&["ps", "--no-trunc", "--format", "{{.ID}} {{.Command}}"]);
    let held: Vec<&str> = listed
        .lines()
        .filter(|l| l.contains(&marker))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for id in &held {
        let _ = docker_ok(&["exec", id, "touch", &format!("/tmp/{marker}")]);
    }
    held.len()
}

/// Let the held build step of `sb`'s project finish, once it is running.
fn release_build(sb: &Sandbox) {
    wait_until("the held build step is running", T, || release_held(sb) > 0);
}

#[test]
fn sigterm_during_a_pass_finishes_the_pass_then_exits_0() {
    let (sb, ws, w) = watching_a_held_first_pass("midpass");
    let c = container(&ws);
    w.signal(libc::SIGTERM);
    w.wait_for_output("SIGTERM: finishing the pass in flight", T);
    release_build(&sb);
    let run = w.wait(T);
    run.expect_ok();
    assert!(
        run.stdout.contains("pass 1 [start]: converged: 1 created"),
        "{run:?}"
    );
    assert!(container_running(&c), "the pass in flight was finished");
    assert_eq!(
        exec(&c, &["cat", "/etc/build-id"]).trim(),
        sb.project(),
        "with the image it was building"
    );
    sb.jackin(&["apply", "--lock-timeout", "0"]).expect_ok();
}

#[test]
fn a_second_sigterm_aborts_the_pass_at_once_and_leaves_no_lock() {
    let (sb, ws, w) = watching_a_held_first_pass("abort");
    let c = container(&ws);
    w.signal(libc::SIGTERM);
    w.wait_for_output("finishing the pass in flight", T);
    w.signal(libc::SIGTERM);
    let run = w.wait(T);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("SIGTERM again: aborting the pass in flight"),
        "{run:?}"
    );
    assert!(
        !run.stdout.contains("pass 1 [start]"),
        "the pass never ended: {run:?}"
    );
    // The lock died with the process; the next apply finishes the job (its build is held
    // too, until released).
    // An aborted build may still be held on the engine: release whatever is held until the
    // apply is done.
    let mut apply = sb.jackin_spawn(&["apply", "--lock-timeout", "0"], &[]);
    wait_until("the apply finishes", T, || {
        release_held(&sb);
        apply.exited()
    });
    apply.wait(T).expect_ok();
    assert!(container_running(&c));
}

// ---------------------------------------------------------------------------
// Docker outage
// ---------------------------------------------------------------------------

#[test]
fn docker_going_away_is_reported_once_and_recovered_from_without_a_restart() {
    let sb = Sandbox::new();
    let sock = sb.root().join("docker.sock");
    let mut proxy = DockerProxy::start(&sock);
    let host = format!("unix://{}", sock.display());
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace("outage");
    sb.write("jackin.toml", state(&sb, &ws, "kimi-k2"));
    let w = sb.jackin_spawn(
        &["watch", "--debounce-ms", "100", "--output", "json"],
        &[("DOCKER_HOST", &host)],
    );
    w.wait_for_output(r#""type":"pass_end","pass":1"#, T);
    let c = container(&ws);
    assert!(container_running(&c));

    proxy.stop();
    // Drift jackin cannot see while the engine is away, and a hint to make it try.
    docker(&["rm", "-f", &c]);
    write_by_rename(&login.dir.join("device_id"), "SECRET-new-device");
    w.wait_for_output(r#""code":"E020""#, T);
    wait_until("at least two more failed passes (backing off)", T, || {
        w.stdout().matches(r#""result":"failed""#).count() >= 3
    });
    assert_eq!(
        w.stdout().matches(r#""type":"watch_error""#).count(),
        1,
        "the outage is reported once:\n{}",
        w.stdout()
    );

    let _proxy = DockerProxy::start(&sock);
    wait_until(
        "the container is recreated after the engine is back",
        T,
        || container_running(&c),
    );
    w.wait_for_output("the Docker engine is reachable again", T);
    let handoff = sb.handoff_dir(&c, "kimi").join("device_id");
    wait_until("the change made during the outage is handed off", T, || {
        fs::read_to_string(&handoff).is_ok_and(|s| s == "SECRET-new-device")
    });
    // The whole stream, outage and recovery included, is what the events schema says.
    w.signal(libc::SIGTERM);
    let run = w.wait(T);
    run.expect_ok();
    crate::common::schema::assert_events_match_schema(&run.stdout);
}
