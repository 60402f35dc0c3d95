//! End to end against the real Docker engine: what an operator sees when jackin hands a
//! Kimi login to a container, in each auth mode.

use crate::common::*;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

/// The one-instance kimi state (model `kimi-k2`) with `auth` lines.
fn state(sb: &Sandbox, ws: &str, auth: &str, extra: &str) -> String {
    kimi_state(sb, ws, "kimi-k2", auth, extra)
}

fn container(ws: &str) -> String {
    format!("jk-{ws}-smith")
}

#[test]
fn fresh_apply_creates_a_container_that_reads_the_host_kimi_login() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace("fresh");
    sb.write("jackin.toml", state(&sb, &ws, r#"mode = "sync""#, ""));
    let host_before = snapshot(&login.dir);

    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    login.assert_not_leaked(&run.all());
    assert!(
        run.stdout.contains("Plan: 1 to create, 0 to recreate, 0 to restart, 0 to remove; 4 files to copy, 0 to purge, 0 kept."),
        "{run:?}"
    );

    let c = container(&ws);
    assert!(container_running(&c), "container {c} runs");
    for rel in KimiLogin::FILES {
        let inside = exec(&c, &["cat", &format!("/jackin/kimi/{rel}")]);
        let host = std::fs::read_to_string(login.dir.join(rel)).unwrap();
        assert_eq!(inside, host, "{rel} as the container sees it");
    }
    assert_eq!(
        exec(&c, &["cat", "/tmp/agent.args"])
            .lines()
            .collect::<Vec<_>>(),
        ["kimi", "--yolo", "--model", "kimi-k2"],
        "launch command"
    );
    let labels = inspect(&c, "{{json .Config.Labels}}");
    for want in [
        "\"jackin.managed\":\"true\"",
        &format!("\"jackin.project\":\"{}\"", sb.project()),
        &format!("\"jackin.workspace\":\"{ws}\""),
        "\"jackin.role\":\"smith\"",
        "\"jackin.agent\":\"kimi\"",
        "\"jackin.spec-hash\":\"v1:sha256:",
    ] {
        assert!(labels.contains(want), "label {want} in {labels}");
    }
    assert_eq!(inspect(&c, "{{.HostConfig.Init}}").trim(), "true");
    assert_eq!(
        inspect(&c, "{{.Config.Tty}} {{.Config.OpenStdin}}").trim(),
        "true true"
    );

    // Handoff modes: directories 0700, files 0600.
    let handoff = sb.handoff_dir(&c, "kimi");
    for (rel, mode) in [
        ("", 0o700),
        ("credentials", 0o700),
        ("credentials/nested/extra.json", 0o600),
        ("device_id", 0o600),
    ] {
        let m = std::fs::metadata(handoff.join(rel)).unwrap().mode() & 0o777;
        assert_eq!(m, mode, "mode of handoff/{rel}");
    }
    assert_eq!(
        snapshot(&login.dir),
        host_before,
        "host login unchanged by apply"
    );
}

#[test]
fn a_second_apply_plans_nothing_and_plan_exits_0_with_detailed_exitcode() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace("idem");
    sb.write("jackin.toml", state(&sb, &ws, r#"mode = "sync""#, ""));
    let host_before = snapshot(&login.dir);

    sb.jackin(&["plan", "--detailed-exitcode"]).expect_code(2);
    sb.jackin(&["apply"]).expect_ok();
    let started = inspect(&container(&ws), "{{.State.StartedAt}}");

    let plan = sb.jackin(&["plan", "--detailed-exitcode"]);
    plan.expect_code(0);
    assert!(plan.stdout.contains("No changes."), "{plan:?}");
    let again = sb.jackin(&["apply", "--output", "json"]);
    again.expect_ok();
    let summary = again.stdout.lines().last().unwrap();
    assert!(summary.contains("\"type\":\"summary\""), "{again:?}");
    assert!(summary.contains("\"applied\":{\"create\":0,\"recreate\":0,\"start\":0,\"restart\":0,\"remove\":0,\"copy\":0,\"purge\":0,\"seed\":0,\"kept\":0}"), "{summary}");
    assert_eq!(
        inspect(&container(&ws), "{{.State.StartedAt}}"),
        started,
        "not restarted"
    );
    assert_eq!(snapshot(&login.dir), host_before);
}

#[test]
fn api_key_mode_purges_synced_files_and_sets_the_env_var_without_printing_it() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace("apikey");
    let c = container(&ws);
    sb.write("jackin.toml", state(&sb, &ws, r#"mode = "sync""#, ""));
    sb.jackin(&["apply"]).expect_ok();
    assert!(exec(&c, &["ls", "/jackin/kimi"]).contains("config.toml"));
    // A file the agent created itself is container-owned state.
    sh(&c, "echo mine > /jackin/kimi/history.jsonl");

    let key = format!("sk-SECRET-{}", sb.project());
    let with_key = format!(
        "{}\n[env]\nKIMI_API_KEY = \"${{TEST_KIMI_KEY}}\"\nKIMI_BASE_URL = \"https://kimi.invalid/v1\"\n",
        state(&sb, &ws, r#"mode = "api_key""#, "")
    );
    sb.write("jackin.toml", with_key);
    let host_before = snapshot(&login.dir);
    let env = [("TEST_KIMI_KEY", key.as_str())];

    let plan = sb.jackin_env(&["plan"], &env);
    let plan_json = sb.jackin_env(&["plan", "--output", "json"], &env);
    let apply = sb.jackin_env(&["apply", "--output", "json"], &env);
    apply.expect_ok();
    for out in [&plan, &plan_json, &apply] {
        assert!(!out.all().contains(&key), "key leaked: {out:?}");
        login.assert_not_leaked(&out.all());
    }
    assert!(
        plan.stdout
            .contains("purge kimi/config.toml: auth mode api_key"),
        "{plan:?}"
    );
    assert!(
        plan.stdout.contains("env added: KIMI_API_KEY"),
        "recreate says why: {plan:?}"
    );

    let listing = exec(&c, &["ls", "-A", "/jackin/kimi"]);
    assert_eq!(
        listing.trim(),
        "history.jsonl",
        "synced files purged, container's own kept"
    );
    let env_inside = exec(&c, &["env"]);
    assert!(
        env_inside
            .lines()
            .any(|l| l == format!("KIMI_API_KEY={key}")),
        "{env_inside}"
    );
    assert_eq!(snapshot(&login.dir), host_before, "host unchanged");

    sb.jackin_env(&["plan", "--detailed-exitcode"], &env)
        .expect_code(0);
}

#[test]
fn ignore_mode_purges_what_jackin_forwarded_and_keeps_the_agents_own_files() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace("ignore");
    let c = container(&ws);
    sb.write("jackin.toml", state(&sb, &ws, r#"mode = "sync""#, ""));
    sb.jackin(&["apply"]).expect_ok();
    sh(&c, "echo mine > /jackin/kimi/history.jsonl");

    sb.write("jackin.toml", state(&sb, &ws, r#"mode = "ignore""#, ""));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(run.stdout.contains("4 to purge"), "{run:?}");
    // SPEC v2 §4: only what jackin forwarded goes; the agent's history is its own.
    assert_eq!(
        exec(&c, &["ls", "-A", "/jackin/kimi"]).trim(),
        "history.jsonl"
    );
    sb.jackin(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn a_missing_credential_env_fails_with_its_provenance_and_changes_nothing() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace("nokey");
    let body = format!(
        "{}\n[workspaces.{ws}.env]\nKIMI_API_KEY = \"${{JT_UNSET_KEY_VAR}}\"\n",
        state(&sb, &ws, r#"mode = "api_key""#, "")
    );
    sb.write("jackin.toml", body);
    let host_before = snapshot(&login.dir);

    for cmd in ["plan", "apply"] {
        let run = sb.jackin(&[cmd]);
        run.expect_code(1);
        let err = &run.stderr;
        assert!(err.starts_with("error[E010]: "), "{run:?}");
        assert!(
            err.contains("kimi uses auth mode api_key but KIMI_API_KEY is empty or unset"),
            "{run:?}"
        );
        assert!(
            err.contains("→ api_key (from auth.kimi)"),
            "mode provenance: {run:?}"
        );
        // SPEC v3 §3a: the key alone makes kimi send no request; the endpoint is named.
        assert!(
            err.contains("kimi uses auth mode api_key but KIMI_BASE_URL is empty or unset")
                && err.contains("set KIMI_BASE_URL (the API endpoint the key is for)"),
            "{run:?}"
        );
        assert!(err.contains(&format!("[workspaces.{ws}.env]: refers to ${{JT_UNSET_KEY_VAR}} from jackin's environment, which is unset")), "env provenance: {run:?}");
        assert!(err.contains("[env]: not set"), "{run:?}");
        assert!(err.contains("→ what to try:"), "{run:?}");
    }
    assert!(!container_exists(&container(&ws)), "no container created");
    assert!(
        !sb.jackin_home().join("data").exists(),
        "no handoff written"
    );
    assert_eq!(snapshot(&login.dir), host_before);
}

#[test]
fn oauth_token_for_kimi_is_rejected_at_config_time_naming_the_scope() {
    let sb = Sandbox::new();
    let ws = sb.workspace("oauth");
    let extra =
        "[workspaces.WS.roles.smith.auth.kimi]\nmode = \"oauth_token\"\n".replace("WS", &ws);
    sb.write("jackin.toml", state(&sb, &ws, r#"mode = "sync""#, &extra));
    for cmd in ["validate", "plan", "apply"] {
        let run = sb.jackin(&[cmd]);
        run.expect_code(1);
        let want = format!("workspaces.{ws}.roles.smith.auth.kimi: auth mode 'oauth_token' is not supported for kimi; supported: sync, api_key, ignore");
        assert!(run.stderr.contains(&want), "{cmd}: {run:?}");
        assert!(
            run.stderr.contains("error[E004]: jackin.toml:"),
            "{cmd}: position: {run:?}"
        );
    }
    assert!(!container_exists(&container(&ws)));
}

#[test]
fn host_changes_win_and_container_rotations_are_kept() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace("three");
    let c = container(&ws);
    sb.write("jackin.toml", state(&sb, &ws, r#"mode = "sync""#, ""));
    sb.jackin(&["apply"]).expect_ok();

    // The agent rotates its token inside the container: kept, no restart.
    sh(&c, "echo rotated > /jackin/kimi/credentials/kimi-code.json");
    let started = inspect(&c, "{{.State.StartedAt}}");
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout.contains(
            "keep kimi/credentials/kimi-code.json: changed inside the container, host unchanged"
        ),
        "{run:?}"
    );
    assert_eq!(
        exec(&c, &["cat", "/jackin/kimi/credentials/kimi-code.json"]),
        "rotated\n"
    );
    assert_eq!(
        inspect(&c, "{{.State.StartedAt}}"),
        started,
        "a kept rotation does not restart"
    );
    sb.jackin(&["plan", "--detailed-exitcode"]).expect_code(0);

    // The operator logs in again on the host: the host wins, and the container restarts.
    std::fs::write(
        login.dir.join("credentials/kimi-code.json"),
        "fresh-host-login\n",
    )
    .unwrap();
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout
            .contains("copy kimi/credentials/kimi-code.json: changed on host"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("restart container: handoff files changed"),
        "{run:?}"
    );
    assert_eq!(
        exec(&c, &["cat", "/jackin/kimi/credentials/kimi-code.json"]),
        "fresh-host-login\n"
    );
    assert_ne!(inspect(&c, "{{.State.StartedAt}}"), started, "restarted");

    // A file deleted on the host and untouched in the container is purged.
    std::fs::remove_file(login.dir.join("device_id")).unwrap();
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout.contains("purge kimi/device_id: deleted on host"),
        "{run:?}"
    );
    assert!(!exec(&c, &["ls", "/jackin/kimi"]).contains("device_id"));
}

#[test]
fn a_purge_that_finds_nothing_to_remove_is_not_a_change_and_restarts_nothing() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace("nothing");
    let c = container(&ws);
    sb.write("jackin.toml", state(&sb, &ws, r#"mode = "sync""#, ""));
    sb.jackin(&["apply"]).expect_ok();
    // The agent already deleted everything jackin handed it.
    sh(
        &c,
        "cd /jackin/kimi && rm -rf config.toml credentials device_id",
    );
    let started = inspect(&c, "{{.State.StartedAt}}");

    sb.write("jackin.toml", state(&sb, &ws, r#"mode = "ignore""#, ""));
    let plan = sb.jackin(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "nothing to purge is no change: {plan:?}");
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(
        inspect(&c, "{{.State.StartedAt}}"),
        started,
        "not restarted"
    );
    let ledger =
        std::fs::read_to_string(sb.jackin_home().join("data").join(&c).join("ledger.json"))
            .unwrap();
    assert!(
        !ledger.contains("kimi/"),
        "the records are forgotten: {ledger}"
    );
}

/// SPEC §8: a no-op re-hashes no file whose stat data is unchanged — on the host and in the
/// handoff. jackin distrusts stat data taken within 2 s of a file's last change (its ctime,
/// which no test can move back), so no-op applies repeat until that window has passed; from
/// then on one must read nothing. A no-op that forgets to record fresher stat data never
/// gets there, and the liveness bound fails the test.
#[test]
fn a_no_op_apply_hashes_no_file_once_stat_data_is_recorded() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace("noop");
    sb.write("jackin.toml", state(&sb, &ws, r#"mode = "sync""#, ""));
    sb.jackin(&["apply"]).expect_ok();
    let hashed = || -> u64 {
        let run = sb.jackin(&["apply", "--output", "json"]);
        run.expect_ok();
        let summary = run.stdout.lines().last().unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(summary).expect("summary line");
        v["files_hashed"].as_u64().expect("files_hashed")
    };
    wait_until(
        "a no-op apply hashes nothing",
        Duration::from_secs(60),
        || hashed() == 0,
    );
    assert_eq!(hashed(), 0, "and stays at nothing");
}
