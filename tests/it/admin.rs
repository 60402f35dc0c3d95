//! The operator's housekeeping commands, as the operator sees them: a `DOCKER_HOST` on another
//! machine, `init`, `doctor`, shell completions and man pages.

use crate::common::{snapshot, Sandbox};

/// A `DOCKER_HOST` jackin cannot speak on Linux (a Windows named pipe): refused without any
/// traffic.
const UNSPOKEN: &str = "npipe:////./pipe/docker_engine";

/// SPEC v3 §6/§9: a `DOCKER_HOST` on another machine is simply the default host (E025 is
/// retired). Here it is the second engine, which cannot see this machine's files: the handoff
/// is a volume there and the login goes in through the engine API; destroy --purge leaves
/// nothing there.
#[test]
fn a_docker_host_on_another_machine_is_the_default_host_and_files_are_not_mounted_there() {
    use crate::common::second_engine::docker_out;
    let remote = crate::common::second_engine::engine();
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace("r");
    sb.write("jackin.toml", crate::common::minimal_kimi_state(&sb, &ws));
    let env = [("DOCKER_HOST", remote)];
    let run = sb.jackin_env(&["apply"], &env);
    run.expect_ok();
    login.assert_not_leaked(&run.all());
    let c = format!("jk-{ws}-smith");
    let (_, mounts) = docker_out(
        remote,
        &["inspect", "-f", "{{range .Mounts}}{{.Type}};{{end}}", &c],
    );
    assert_eq!(
        mounts.trim(),
        "volume;",
        "no path of this machine is mounted there"
    );
    let creds = "/jackin/kimi/credentials/kimi-code.json";
    let (ok, seen) = docker_out(remote, &["exec", &c, "cat", creds]);
    assert!(
        ok && seen.contains(&login.token),
        "the login went over the engine API: {seen}"
    );
    sb.jackin_env(&["plan", "--detailed-exitcode"], &env)
        .expect_code(0);
    sb.jackin_env(&["destroy", "--purge", "--yes"], &env)
        .expect_ok();
    let label = format!("label=jackin.project={}", sb.project());
    for what in [
        &["ps", "-aq", "--filter"][..],
        &["volume", "ls", "-q", "--filter"],
    ] {
        let (_, left) = docker_out(remote, &[what, &[label.as_str()]].concat());
        assert_eq!(left.trim(), "", "{what:?}");
    }

    let unspoken = sb.jackin_env(&["plan"], &[("DOCKER_HOST", UNSPOKEN)]);
    unspoken.expect_code(1);
    assert!(
        unspoken.stderr.starts_with(&format!(
            "error[E020]: cannot reach the Docker engine at {UNSPOKEN}"
        )),
        "{unspoken:?}"
    );
}

// ---------------------------------------------------------------------------
// init
// ---------------------------------------------------------------------------

/// The names of the entries of `dir`, sorted.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn init_writes_a_starter_file_from_the_logins_found_and_never_overwrites_it() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let run = sb.jackin(&["init"]);
    run.expect_ok();
    assert_eq!(
        run.stdout,
        "Wrote jackin.toml: project work, role agent with kimi; workspace work mounts this folder at /workspace/work.\n\
         Next: set the image in jackin.toml, then jackin plan.\n"
    );
    login.assert_not_leaked(&run.all());
    let path = sb.work().join("jackin.toml");
    let written = std::fs::read(&path).unwrap();
    let text = String::from_utf8(written.clone()).unwrap();
    assert!(
        text.contains("# Host logins found: kimi (~/.kimi).\n"),
        "{text}"
    );
    assert!(text.contains("\nagents = [\"kimi\"]"), "{text}");
    assert!(
        text.contains("\nimage = \"change-me.invalid/agent-image:latest\"\n"),
        "{text}"
    );
    assert!(
        text.contains("mounts = [{ src = \".\", dst = \"/workspace/work\" }]"),
        "{text}"
    );
    login.assert_not_leaked(&text);
    assert_eq!(
        listing(&sb.work()),
        ["jackin.toml"],
        "no temporary file left"
    );

    let valid = sb.jackin(&["validate"]);
    valid.expect_ok();
    assert_eq!(
        valid.stdout,
        "Valid: project work, 1 instance(s), 1 file(s).\n"
    );

    // A second run, in either format, refuses, names the file and changes nothing.
    for args in [&["init"][..], &["init", "--format", "yaml"]] {
        let again = sb.jackin(args);
        again.expect_code(1);
        assert_eq!(
            again.stderr,
            format!(
                "error[E007]: {} already exists; jackin init never overwrites a state file\n  \
                 → what to try: edit that file (`jackin validate` checks it), or run jackin init in another folder\n",
                path.display()
            ),
            "{args:?}"
        );
        assert_eq!(again.stdout, "");
        assert_eq!(std::fs::read(&path).unwrap(), written, "byte-identical");
        assert_eq!(
            listing(&sb.work()),
            ["jackin.toml"],
            "{args:?}: nothing written"
        );
    }

    // doctor knows the placeholder image is still there.
    let doctor = sb.jackin(&["doctor"]);
    doctor.expect_code(1);
    assert_eq!(
        check(&doctor.stdout, "image"),
        (
            "fail".to_owned(),
            "roles.agent: change-me.invalid/agent-image:latest is the placeholder jackin init wrote".to_owned()
        ),
        "{doctor:?}"
    );
}

#[test]
fn init_writes_yaml_on_request_and_a_commented_example_when_no_login_is_found() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    sb.kimi_login(".kimi-code");
    sb.jackin(&["init", "--format", "yaml"]).expect_ok();
    let text = std::fs::read_to_string(sb.work().join("jackin.yaml")).unwrap();
    assert!(text.contains("\n    agents: [kimi, kimi-code]"), "{text}");
    assert!(
        text.contains("\n      - { src: \".\", dst: /workspace/work }"),
        "{text}"
    );
    sb.jackin(&["validate"]).expect_ok();
    assert!(sb
        .jackin(&["validate", "-f", "jackin.yaml"])
        .stdout
        .contains("1 instance(s)"));

    let empty = Sandbox::new();
    let run = empty.jackin(&["init"]);
    run.expect_ok();
    assert!(run.stdout.contains("no agents yet"), "{run:?}");
    let text = std::fs::read_to_string(empty.work().join("jackin.toml")).unwrap();
    assert!(
        text.contains("# No host login was found (looked in ~/.kimi, ~/.claude,"),
        "{text}"
    );
    assert!(text.contains("\n# [roles.agent]\n"), "{text}");
    let valid = empty.jackin(&["validate"]);
    valid.expect_ok();
    assert_eq!(
        valid.stdout,
        "Valid: project work, 0 instance(s), 1 file(s).\n"
    );
}

// ---------------------------------------------------------------------------
// doctor
// ---------------------------------------------------------------------------

/// The verdict and what was found on the doctor line checking `what`.
#[track_caller]
fn check(out: &str, what: &str) -> (String, String) {
    let found = out.lines().find_map(|l| {
        let verdict = l.get(..4)?.trim_end();
        let rest = l.get(6..)?.strip_prefix(what)?;
        let found = rest.strip_prefix("  ")?.trim_start();
        (!verdict.is_empty()).then(|| (verdict.to_owned(), found.to_owned()))
    });
    found.unwrap_or_else(|| panic!("no doctor line for {what:?}:\n{out}"))
}

#[test]
fn doctor_on_a_healthy_machine_says_ok_line_by_line_and_changes_nothing() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    sb.write(
        "jackin.toml",
        crate::common::minimal_kimi_state(&sb, &sb.workspace("d")),
    );
    let jackin_home = snapshot(sb.jackin_home());
    let run = sb.jackin(&["doctor"]);
    run.expect_ok();
    let out = &run.stdout;
    let (verdict, engine) = check(out, "engine");
    assert_eq!(verdict, "ok", "{out}");
    assert!(engine.starts_with("Docker "), "{out}");
    assert!(
        engine.contains(", API 1.") && engine.contains("(jackin speaks 1."),
        "{out}"
    );
    let jh = sb.jackin_home().display().to_string();
    assert_eq!(
        check(out, "JACKIN_HOME"),
        (
            "ok".into(),
            format!("{jh}: yours, not writable by group or others")
        )
    );
    assert_eq!(
        check(out, "key"),
        (
            "ok".into(),
            format!(
                "{jh}/key: not made yet; the first plan or apply makes it (32 random bytes, 0600)"
            )
        )
    );
    assert_eq!(
        check(out, "state file"),
        (
            "ok".into(),
            format!("jackin.toml: project {}, 1 instance(s)", sb.project())
        )
    );
    assert_eq!(check(out, "env").0, "ok");
    let (verdict, login) = check(out, "login kimi");
    assert_eq!(verdict, "ok", "{out}");
    assert!(
        login.starts_with("~/.kimi: present (synced to jk-d"),
        "{out}"
    );
    let (verdict, inotify) = check(out, "inotify");
    assert!(verdict == "ok" || verdict == "warn", "{out}");
    assert!(
        inotify.contains("max_user_watches") && inotify.contains("watch needs"),
        "{out}"
    );
    let (verdict, image) = check(out, "image");
    assert_eq!(verdict, "ok", "{out}");
    assert!(
        image.starts_with(&format!(
            "roles.smith: {} present (sha256:",
            crate::common::agent_image()
        )),
        "{out}"
    );
    assert!(out.trim_end().ends_with(" 0 failed."), "{out}");
    assert_eq!(
        snapshot(sb.jackin_home()),
        jackin_home,
        "doctor made no key, lock or folder"
    );

    // Once a plan has made the key, the key line says it is sound.
    sb.jackin(&["plan"]).expect_ok();
    let again = sb.jackin(&["doctor"]);
    again.expect_ok();
    assert_eq!(
        check(&again.stdout, "key"),
        ("ok".into(), format!("{jh}/key: 32 bytes, 0600, yours"))
    );
}

#[test]
fn doctor_with_an_unreachable_engine_fails_that_line_with_a_fix() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    sb.write(
        "jackin.toml",
        crate::common::minimal_kimi_state(&sb, &sb.workspace("u")),
    );
    let run = sb.jackin_env(&["doctor"], &[("DOCKER_HOST", "unix:///nonexistent")]);
    run.expect_code(1);
    let out = &run.stdout;
    let (verdict, engine) = check(out, "engine");
    assert_eq!(verdict, "fail", "{out}");
    assert!(
        engine.starts_with("error[E020]: cannot reach the Docker engine at unix:///nonexistent"),
        "{out}"
    );
    let fix = out
        .lines()
        .skip_while(|l| !l.starts_with("fail  engine"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        fix.trim_start().starts_with(
            "→ what to try: start the Docker engine, or point DOCKER_HOST at a running one"
        ),
        "{out}"
    );
    // The other checks still run; what needs the engine says it was not checked.
    assert_eq!(check(out, "login kimi").0, "ok", "{out}");
    assert_eq!(check(out, "state file").0, "ok", "{out}");
    let (verdict, image) = check(out, "image");
    assert_eq!(verdict, "info", "{out}");
    assert!(
        image.ends_with("not checked (the engine is not reachable)"),
        "{out}"
    );
    assert!(out.trim_end().ends_with(" 1 failed."), "{out}");

    // An engine jackin cannot speak to is a failed engine line too.
    let unspoken = sb.jackin_env(&["doctor"], &[("DOCKER_HOST", UNSPOKEN)]);
    unspoken.expect_code(1);
    let (verdict, engine) = check(&unspoken.stdout, "engine");
    assert_eq!(verdict, "fail");
    assert!(
        engine.starts_with(&format!(
            "error[E020]: cannot reach the Docker engine at {UNSPOKEN}"
        )),
        "{unspoken:?}"
    );
}

#[test]
fn doctor_without_a_state_file_checks_every_agent_at_its_default_folder() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    // A login folder that does not hold a login: absent is a fact here, not a problem.
    std::fs::create_dir_all(sb.home().join(".codex")).unwrap();
    let run = sb.jackin(&["doctor"]);
    run.expect_ok();
    let out = &run.stdout;
    assert_eq!(check(out, "state file").0, "info", "{out}");
    assert_eq!(
        check(out, "login kimi"),
        ("ok".into(), "~/.kimi: present".into())
    );
    assert_eq!(
        check(out, "login codex"),
        ("info".into(), "~/.codex: absent".into())
    );
    assert_eq!(
        check(out, "login kimi-code"),
        ("info".into(), "~/.kimi-code: absent".into())
    );
    assert!(!out.contains("image "), "no state, no images: {out}");
}

#[test]
fn doctor_fails_where_plan_would_and_warns_where_it_only_degrades() {
    let sb = Sandbox::new();
    // No kimi login at all, and a credential env var that is not set.
    let ws = sb.workspace("w");
    let state = crate::common::minimal_kimi_state(&sb, &ws).replace(
        "agents = [\"kimi\"]",
        "agents = [\"kimi\", \"codex\"]\n[roles.smith.env]\nOPENAI_API_KEY = \"$OPS_ADMIN_UNSET_KEY\"",
    ) + "[auth.codex]\nmode = \"api_key\"\n";
    sb.write("jackin.toml", state);
    // A group-writable JACKIN_HOME: plan refuses it (E044), so doctor fails it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(sb.jackin_home(), std::fs::Permissions::from_mode(0o770)).unwrap();
    let run = sb.jackin(&["doctor"]);
    run.expect_code(1);
    let out = &run.stdout;
    let (verdict, home) = check(out, "JACKIN_HOME");
    assert_eq!(verdict, "fail", "{out}");
    assert!(
        home.starts_with("error[E044]: ") && home.contains("it has mode 0770, writable by group"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "→ what to try: chmod 700 {}",
            sb.jackin_home().display()
        )),
        "{out}"
    );
    let (verdict, env) = check(out, "env");
    assert_eq!(verdict, "fail", "{out}");
    assert!(env.starts_with("error[E010]: "), "{out}");
    let (verdict, kimi) = check(out, "login kimi");
    assert_eq!(verdict, "warn", "{out}");
    assert!(kimi.starts_with("~/.kimi: absent (synced to jk-w"), "{out}");
    let (verdict, codex) = check(out, "login codex");
    assert_eq!(verdict, "info", "{out}");
    assert!(
        codex.starts_with("not synced: auth mode api_key in jk-w"),
        "{out}"
    );
    assert_eq!(
        std::fs::metadata(sb.jackin_home())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o770,
        "doctor reports, never repairs"
    );
}

// ---------------------------------------------------------------------------
// completions, man pages, --help
// ---------------------------------------------------------------------------

/// The subcommands, from the same clap types the binary parses with.
fn subcommands() -> Vec<String> {
    use clap::CommandFactory;
    jackin::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect()
}

#[test]
fn completions_for_each_shell_know_the_commands_and_their_flags() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = sb.jackin(&["completions", shell]);
        run.expect_ok();
        assert!(!run.stdout.trim().is_empty(), "{shell}");
        // fish spells a long flag `-l target`.
        let target = if shell == "fish" {
            "-l target"
        } else {
            "--target"
        };
        for word in ["apply", target, "doctor", "init"] {
            assert!(run.stdout.contains(word), "{shell}: no {word}");
        }
        assert_eq!(run.stderr, "", "{shell}");
    }
    let bad = sb.jackin(&["completions", "tcsh"]);
    bad.expect_code(2);
    assert!(
        bad.stderr
            .contains("[possible values: bash, zsh, fish, powershell]"),
        "{bad:?}"
    );
}

#[test]
fn the_man_page_mentions_every_subcommand_and_man_dir_writes_one_page_each() {
    let sb = Sandbox::new();
    let run = sb.jackin(&["man"]);
    run.expect_ok();
    assert!(run.stdout.contains(".TH jackin 1"), "{}", run.stdout);
    let subs = subcommands();
    assert!(subs.contains(&"apply".to_owned()), "{subs:?}");
    for sub in &subs {
        assert!(
            run.stdout.contains(&format!("jackin\\-{sub}(1)")),
            "jackin(1) does not mention {sub}:\n{}",
            run.stdout
        );
    }

    let dir = sb.root().join("man/man1");
    let run = sb.jackin(&["man", dir.to_str().unwrap()]);
    run.expect_ok();
    let mut expected = vec!["jackin.1".to_owned()];
    expected.extend(
        subs.iter()
            .filter(|s| *s != "help")
            .map(|s| format!("jackin-{s}.1")),
    );
    expected.sort();
    assert_eq!(listing(&dir), expected);
    let apply = std::fs::read_to_string(dir.join("jackin-apply.1")).unwrap();
    assert!(apply.contains("\\-\\-target"), "{apply}");
    assert!(
        run.stdout.starts_with(&format!(
            "Wrote {} man page(s) to {}: ",
            expected.len(),
            dir.display()
        )),
        "{run:?}"
    );
}

#[test]
fn help_lists_each_command_on_one_short_line() {
    let sb = Sandbox::new();
    let run = sb.jackin(&["--help"]);
    run.expect_ok();
    let commands: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    let names: Vec<&str> = commands
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    // Every command, in the order of the clap types (the order an operator reaches for them).
    let mut expected = subcommands();
    expected.push("help".to_owned());
    assert_eq!(names, expected, "{}", run.stdout);
    for line in &commands {
        assert!(line.len() <= 80, "too long for a terminal: {line:?}");
        assert!(!line.ends_with('.'), "a summary, not a sentence: {line:?}");
    }
    assert!(run
        .stdout
        .ends_with("Run 'jackin COMMAND --help' for more information on a command.\n"));
}
