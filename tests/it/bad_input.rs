//! Bad input gets a clear error and changes nothing: no container, no handoff, host intact.

use crate::common::*;

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
    sb.assert_untouched(&ws);
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
    sb.assert_untouched(&ws);
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
    sb.assert_untouched(&ws);
    assert!(
        !sb.jackin_home().join("key").exists(),
        "no fingerprint key made when no engine answers"
    );
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

/// A typo in `host =` is refused by every command before any engine is dialled (the declared
/// host is an ssh:// address nothing answers at), naming the host it most likely meant.
#[test]
fn an_unknown_host_is_refused_naming_the_closest_declared_one() {
    let sb = Sandbox::new();
    let ws = sb.workspace("nohost");
    let body = format!(
        "{}host = \"gpu1\"\n\n[hosts.gpu-1]\ndocker = \"ssh://ops@gpu-1.invalid\"\n",
        minimal_kimi_state(&sb, &ws)
    );
    sb.write("jackin.toml", body);
    assert_every_command_refuses(
        &sb,
        &ws,
        &format!("error[E004]: jackin.toml:9:1: workspaces.{ws}.roles.smith.host: no host `gpu1` is declared; did you mean `gpu-1`? declared hosts: local, gpu-1\n"),
        "declare it as [hosts.gpu1] with `docker = \"ssh://…\"`, or name one of the declared hosts",
    );
}

// ---- [v2] input limits and NUL bytes (SPEC §2) ---------------------------------------

/// Runs `validate`, `plan` and `apply`: each exits 1 with stderr starting with `expected`
/// and the hint `hint`, and nothing changes: no container, no handoff, `$HOME` as it was.
/// Each run is bounded by the harness's JACKIN_TIMEOUT, so a hang fails instead of waiting.
/// Returns the three runs, in that order, with their command.
#[track_caller]
fn assert_every_command_refuses(
    sb: &Sandbox,
    ws: &str,
    expected: &str,
    hint: &str,
) -> Vec<(&'static str, Run)> {
    let home = snapshot(sb.home());
    let mut runs = Vec::new();
    for cmd in ["validate", "plan", "apply"] {
        let run = sb.jackin(&[cmd]);
        run.expect_code(1);
        assert!(run.stderr.starts_with(expected), "{cmd}: {run:?}");
        assert!(
            run.stderr.contains(&format!("→ what to try: {hint}")),
            "{cmd}: {run:?}"
        );
        runs.push((cmd, run));
    }
    sb.assert_untouched(ws);
    assert_eq!(snapshot(sb.home()), home, "$HOME untouched");
    runs
}

/// `n` nested flow sequences around one value: `[[…[1]…]]`.
fn nested(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

/// A one-instance YAML state (workspace `ws` × role `smith`) with `extra` at the top level.
fn yaml_state(sb: &Sandbox, ws: &str, extra: &str) -> String {
    format!(
        "version: 1\nproject: {}\n{extra}\nroles:\n  smith:\n    image: {}\n    agents: [kimi]\nworkspaces:\n  {ws}:\n    roles:\n      smith: {{}}\n",
        sb.project(),
        agent_image()
    )
}

const LIMIT_HINT: &str = "flatten the structure: a state file needs about 6 levels";
const NOT_REGULAR_HINT: &str = "point jackin at a regular file (a symlink to one is fine)";

#[test]
fn a_fifo_as_the_state_file_is_refused_at_once_not_waited_on() {
    let sb = Sandbox::new();
    let ws = sb.workspace("fifo");
    mkfifo(&sb.work().join("jackin.toml"));
    assert_every_command_refuses(
        &sb,
        &ws,
        "error[E006]: jackin.toml is a FIFO, not a regular file\n",
        NOT_REGULAR_HINT,
    );
}

#[test]
fn a_state_file_linked_to_dev_zero_is_refused_not_read() {
    let sb = Sandbox::new();
    let ws = sb.workspace("zero");
    std::os::unix::fs::symlink("/dev/zero", sb.work().join("jackin.toml")).unwrap();
    assert_every_command_refuses(
        &sb,
        &ws,
        "error[E006]: jackin.toml is a character device, not a regular file\n",
        NOT_REGULAR_HINT,
    );
}

#[test]
fn a_5_mib_state_file_is_refused_naming_its_size_and_the_limit() {
    let sb = Sandbox::new();
    let ws = sb.workspace("huge");
    let mut body = minimal_kimi_state(&sb, &ws);
    let padding = 5 * 1024 * 1024 - body.len() - 1;
    body.push_str(&"#".repeat(padding));
    body.push('\n');
    sb.write("jackin.toml", body);
    assert_every_command_refuses(
        &sb,
        &ws,
        "error[E006]: jackin.toml is 5.0 MiB; state files are limited to 4 MiB\n",
        "split the state into several files in one folder and load them with `-f DIR`",
    );
}

#[test]
fn toml_inline_arrays_65_deep_are_refused_at_their_line() {
    let sb = Sandbox::new();
    let ws = sb.workspace("deeptoml");
    let body =
        minimal_kimi_state(&sb, &ws).replacen("\n\n", &format!("\ndeep = {}\n\n", nested(65)), 1);
    sb.write("jackin.toml", body);
    // `deep = ` is 7 characters; the 65th bracket is column 72.
    assert_every_command_refuses(
        &sb,
        &ws,
        "error[E006]: jackin.toml nests more than 64 levels deep at line 3, column 72; the limit is 64\n",
        LIMIT_HINT,
    );
}

#[test]
fn yaml_nested_65_deep_is_refused_at_its_line() {
    let sb = Sandbox::new();
    let ws = sb.workspace("deepyaml");
    let deep = format!("deep: {}", nested(65));
    sb.write("jackin.yaml", yaml_state(&sb, &ws, &deep));
    assert_every_command_refuses(
        &sb,
        &ws,
        "error[E006]: jackin.yaml nests more than 64 levels deep at line 3, column 71; the limit is 64\n",
        LIMIT_HINT,
    );
}

/// 200,000 levels once cost libyaml minutes (its time is quadratic in depth); the check in
/// front of it stops at level 65. Only liveness is asserted: the harness's JACKIN_TIMEOUT.
#[test]
fn yaml_nested_200k_deep_is_refused_without_parsing_it() {
    let sb = Sandbox::new();
    let ws = sb.workspace("deeper");
    let deep = format!("deep: {}", nested(200_000));
    sb.write("jackin.yaml", yaml_state(&sb, &ws, &deep));
    assert_every_command_refuses(
        &sb,
        &ws,
        "error[E006]: jackin.yaml nests more than 64 levels deep at line 3,",
        LIMIT_HINT,
    );
}

/// Aliases are counted before anything is copied: a billion-laughs file is refused within a
/// 64 MiB data limit set by the OS (`prlimit --data`). Copying values up to the limit first
/// took 160 MB and, under this limit, ended in an allocation abort instead of E006.
#[test]
fn a_yaml_alias_bomb_is_refused_without_expanding_it() {
    let sb = Sandbox::new();
    let ws = sb.workspace("bomb");
    let wide = vec!["1"; 1000].join(",");
    let refs = |anchor: &str| vec![format!("*{anchor}"); 1000].join(",");
    let bomb = format!("a: &a [{wide}]\nb: &b [{}]\nc: [{}]", refs("a"), refs("b"));
    sb.write("jackin.yaml", yaml_state(&sb, &ws, &bomb));
    let run = sb
        .jackin_spawn_under(&["prlimit", "--data=67108864", "--"], &["validate"], &[])
        .wait(JACKIN_TIMEOUT);
    run.expect_error(
        "E006",
        &["jackin.yaml expands to more than 4194304 values through YAML aliases at line 5,"],
    );
}

#[test]
fn a_nul_in_a_literal_env_value_fails_validate_naming_the_variable_not_the_value() {
    let sb = Sandbox::new();
    let ws = sb.workspace("nul");
    let secret = format!("SECRET-{}", sb.project());
    let body = format!(
        "{}[workspaces.{ws}.roles.smith.env]\nTOKEN = \"{secret}\\u0000b\"\n",
        minimal_kimi_state(&sb, &ws)
    );
    sb.write("jackin.toml", body);
    let runs = assert_every_command_refuses(
        &sb,
        &ws,
        &format!("error[E004]: jackin.toml:10:1: workspaces.{ws}.roles.smith.env.TOKEN: the value contains a NUL byte, which an environment variable cannot hold\n"),
        "remove the NUL byte (written \\0 or \\u0000) from the value",
    );
    for (cmd, run) in runs {
        assert!(!run.all().contains(&secret), "{cmd}: {run:?}");
    }
}

/// `validate` never reads env files, so it passes; `plan` and `apply` resolve the value and
/// refuse before the engine is asked for anything (whose error used to print the value and
/// leave the container in Created).
#[test]
fn a_nul_in_an_env_file_fails_plan_and_apply_naming_the_variable_not_the_value() {
    let sb = Sandbox::new();
    let ws = sb.workspace("nulfile");
    let secret = format!("SECRET-{}", sb.project());
    let token = sb.write_home("token", format!("{secret}\0tail\n"));
    let body = format!(
        "{}[workspaces.{ws}.roles.smith.env]\nTOKEN = {{ file = \"~/token\" }}\n",
        minimal_kimi_state(&sb, &ws)
    );
    sb.write("jackin.toml", body);
    sb.jackin(&["validate"]).expect_ok();
    let home = snapshot(sb.home());
    for cmd in ["plan", "apply"] {
        let run = sb.jackin(&[cmd]);
        run.expect_code(1);
        let expected = format!(
            "error[E011]: jk-{ws}-smith: env TOKEN in [workspaces.{ws}.roles.smith.env] reads file {}, which contains a NUL byte; an environment variable cannot hold one\n",
            token.display()
        );
        assert!(run.stderr.starts_with(&expected), "{cmd}: {run:?}");
        assert!(
            run.stderr
                .contains("→ what to try: remove the NUL byte from the file"),
            "{cmd}: {run:?}"
        );
        assert!(!run.all().contains(&secret), "{cmd}: {run:?}");
    }
    sb.assert_untouched(&ws);
    assert_eq!(snapshot(sb.home()), home, "$HOME untouched");
}

#[test]
fn an_env_file_that_is_a_fifo_fails_plan_and_apply_instead_of_hanging() {
    let sb = Sandbox::new();
    let ws = sb.workspace("fifofile");
    mkfifo(&sb.home().join("token"));
    let body = format!(
        "{}[workspaces.{ws}.roles.smith.env]\nTOKEN = {{ file = \"~/token\" }}\n",
        minimal_kimi_state(&sb, &ws)
    );
    sb.write("jackin.toml", body);
    let home = snapshot(sb.home());
    for cmd in ["plan", "apply"] {
        // The harness's liveness bound fails the test if the run hangs on the FIFO.
        let run = sb.jackin(&[cmd]);
        run.expect_code(1);
        assert!(run.stderr.starts_with("error[E011]:"), "{cmd}: {run:?}");
        assert!(run.stderr.contains("not a regular file"), "{cmd}: {run:?}");
    }
    sb.assert_untouched(&ws);
    assert_eq!(snapshot(sb.home()), home, "$HOME untouched");
}
