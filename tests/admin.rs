//! The operator's housekeeping commands, as the operator sees them: a `DOCKER_HOST` on another
//! machine refused, `init`, shell completions and man pages.

mod common;

use common::{snapshot, Sandbox};
use std::time::{Duration, Instant};

/// TEST-NET-2 (RFC 5737): routed nowhere, so a client that tried to connect would hang until
/// its own timeout (bollard's is 120 s) instead of failing at once.
const REMOTE: &str = "tcp://198.51.100.7:2376";

/// Far below the 120 s a connection attempt to [`REMOTE`] would take: only a refusal made
/// before connecting ends this soon (a lenient bound, not a performance measure).
const NO_CONNECT: Duration = Duration::from_secs(30);

#[test]
fn a_docker_host_on_another_machine_is_refused_before_anything_is_done() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    sb.write(
        "jackin.toml",
        common::minimal_kimi_state(&sb, &sb.workspace("r")),
    );
    let jackin_home = snapshot(sb.jackin_home());
    for args in [
        &["plan"][..],
        &["apply"],
        &["apply", "--dry-run"],
        &["status"],
        &["watch"],
    ] {
        let started = Instant::now();
        let run = sb.jackin_env(args, &[("DOCKER_HOST", REMOTE)]);
        assert!(started.elapsed() < NO_CONNECT, "{args:?} tried to connect");
        run.expect_code(1);
        assert!(
            run.stderr.starts_with(&format!(
                "error[E025]: DOCKER_HOST={REMOTE} names an engine on another machine (198.51.100.7); \
                 jackin hands logins over as bind mounts of local folders, so it only drives an engine on this machine\n"
            )),
            "{args:?}: {run:?}"
        );
        assert!(
            run.stderr.contains("→ what to try: run jackin on the machine the engine runs on, or point DOCKER_HOST at a local engine"),
            "{run:?}"
        );
        assert_eq!(run.stdout, "", "{args:?}: nothing planned or printed");
        assert_eq!(
            snapshot(sb.jackin_home()),
            jackin_home,
            "{args:?}: no key, lock or handoff was made"
        );
    }
    let ssh = sb.jackin_env(&["plan"], &[("DOCKER_HOST", "ssh://me@build-box")]);
    ssh.expect_code(1);
    assert!(
        ssh.stderr.starts_with(
            "error[E025]: DOCKER_HOST=ssh://me@build-box reaches an engine through ssh;"
        ),
        "{ssh:?}"
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
        for word in ["apply", target, "init"] {
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
