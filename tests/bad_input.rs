//! Bad input gets a clear error and changes nothing: no container, no handoff, host intact.

mod common;

use common::*;

/// Nothing of jackin's state was written and no container exists for `ws`.
#[track_caller]
fn assert_untouched(sb: &Sandbox, ws: &str) {
    assert!(!container_exists(&format!("jk-{ws}-smith")), "no container");
    assert!(!sb.jackin_home().join("data").exists(), "no handoff state");
}

#[test]
fn an_unknown_key_fails_with_file_line_col_and_a_suggestion() {
    let sb = Sandbox::new();
    let ws = sb.workspace("typo");
    let body = minimal_kimi_state(&sb, &ws)
        .replace("agents = [\"kimi\"]", "agents = [\"kimi\"]\nimagee = \"x\"");
    sb.write("jackin.toml", body);
    for cmd in ["validate", "plan", "apply"] {
        let run = sb.jackin(&[cmd]);
        run.expect_code(1);
        assert!(
            run.stderr
                .starts_with("error[E003]: jackin.toml:7:1: unknown key `imagee`"),
            "{cmd}: {run:?}"
        );
        assert!(run.stderr.contains("did you mean `image`?"), "{run:?}");
        assert!(run.stderr.contains("→ what to try:"), "{run:?}");
    }
    assert_untouched(&sb, &ws);
}

#[test]
fn a_yaml_file_with_a_bad_enum_value_points_at_the_value() {
    let sb = Sandbox::new();
    let ws = sb.workspace("yaml");
    let body = format!(
        "version: 1\nproject: {}\nauth:\n  kimi:\n    mode: apikey\nroles:\n  smith:\n    image: {}\n    agents: [kimi]\nworkspaces:\n  {ws}:\n    roles:\n      smith: {{}}\n",
        sb.project(),
        agent_image()
    );
    sb.write("jackin.yaml", body);
    let run = sb.jackin(&["apply"]);
    run.expect_code(1);
    assert!(run.stderr.contains("jackin.yaml:5:11"), "{run:?}");
    assert!(run.stderr.contains("did you mean `api_key`?"), "{run:?}");
    assert_untouched(&sb, &ws);
}

#[test]
fn a_toml_syntax_error_is_reported_with_its_position() {
    let sb = Sandbox::new();
    sb.write("jackin.toml", "version = 1\n[roles.smith\n");
    let run = sb.jackin(&["plan"]);
    run.expect_code(1);
    assert!(
        run.stderr.starts_with("error[E002]: jackin.toml:2:"),
        "{run:?}"
    );
}

#[test]
fn no_state_file_says_where_it_looked() {
    let sb = Sandbox::new();
    let run = sb.jackin(&["plan"]);
    run.expect_code(1);
    assert!(run.stderr.starts_with("error[E001]: "), "{run:?}");
    assert!(run.stderr.contains("jackin.toml"), "{run:?}");
}

#[test]
fn an_unreachable_docker_engine_is_a_clear_error_that_touches_nothing() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace("nodocker");
    sb.write("jackin.toml", minimal_kimi_state(&sb, &ws));
    let before = snapshot(&login.dir);
    let sock = sb.root().join("no-such-docker.sock");
    let host = format!("unix://{}", sock.display());
    for cmd in ["plan", "apply"] {
        let run = sb.jackin_env(&[cmd], &[("DOCKER_HOST", &host)]);
        run.expect_code(1);
        assert!(
            run.stderr.starts_with(&format!(
                "error[E020]: cannot reach the Docker engine at {host}"
            )),
            "{run:?}"
        );
        assert!(
            run.stderr
                .contains("→ what to try: start the Docker engine"),
            "{run:?}"
        );
    }
    assert_untouched(&sb, &ws);
    assert_eq!(snapshot(&login.dir), before);
}

#[test]
fn symlinks_inside_a_host_source_are_skipped_with_a_warning() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let outside = sb.write_home("outside-secret.json", "SECRET-outside\n");
    std::os::unix::fs::symlink(&outside, login.dir.join("credentials/linked.json")).unwrap();
    let ws = sb.workspace("hostlink");
    sb.write("jackin.toml", minimal_kimi_state(&sb, &ws));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stderr.contains("skipped symlink") && run.stderr.contains("linked.json"),
        "{run:?}"
    );
    assert!(!sb
        .handoff_dir(&format!("jk-{ws}-smith"), "kimi")
        .join("credentials/linked.json")
        .exists());
    assert!(!run.all().contains("SECRET-outside"));
}

#[test]
fn a_container_with_the_same_name_that_is_not_ours_is_never_touched() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace("conflict");
    let name = format!("jk-{ws}-smith");
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        &format!("jackin.project={}", sb.project()),
        agent_image(),
        "sleep",
        "3600",
    ]);
    let id = inspect(&name, "{{.Id}}");
    sb.write("jackin.toml", minimal_kimi_state(&sb, &ws));
    // `plan` is `apply --dry-run`: the same guard, the same exit code, nothing printed of a
    // plan that could never run.
    for args in [&["plan"][..], &["apply", "--dry-run"], &["apply"]] {
        let run = sb.jackin(args);
        run.expect_code(1);
        assert!(run.stderr.starts_with(&format!("error[E022]: 1 container name(s) are taken by containers jackin does not manage: {name}")), "{args:?}: {run:?}");
        assert!(!run.stdout.contains("copy"), "{args:?}: {run:?}");
    }
    assert_eq!(inspect(&name, "{{.Id}}"), id, "same container");
    assert!(container_running(&name), "still running");
    assert!(!sb.jackin_home().join("data").exists());
}

#[test]
fn an_empty_state_refuses_to_remove_every_container_without_allow_empty() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace("empty");
    let name = format!("jk-{ws}-smith");
    sb.write("jackin.toml", minimal_kimi_state(&sb, &ws));
    sb.jackin(&["apply"]).expect_ok();
    sb.write(
        "jackin.toml",
        format!("version = 1\nproject = \"{}\"\n", sb.project()),
    );
    for args in [&["plan"][..], &["apply", "--dry-run"], &["apply"]] {
        let run = sb.jackin(args);
        run.expect_code(1);
        assert!(run.stderr.starts_with("error[E031]:"), "{args:?}: {run:?}");
        assert!(run.stderr.contains("--allow-empty"), "{run:?}");
    }
    assert!(container_running(&name));

    sb.jackin(&["apply", "--allow-empty"]).expect_ok();
    assert!(!container_exists(&name), "removed with --allow-empty");
    assert!(
        sb.handoff_dir(&name, "kimi").join("config.toml").exists(),
        "handoff kept"
    );
}
