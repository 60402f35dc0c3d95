//! Golden rules, end to end: no secret value ever appears in any output, and the host's
//! credential folders are byte-for-byte and metadata unchanged after every command.

mod common;

use common::*;

#[test]
fn secrets_never_appear_and_the_host_never_changes_across_every_command() {
    let sb = Sandbox::new();
    let kimi = sb.kimi_login(".kimi");
    sb.write_home(".claude/.credentials.json", "SECRET-claude-credentials");
    sb.write_home(".claude.json", "SECRET-claude-json");
    sb.write_home("secrets/openai", "SECRET-from-file\n");
    let ws = sb.workspace("secret");
    let literal = "SECRET-literal-value";
    let from_env = "SECRET-from-env";
    let rotated = "SECRET-rotated-env";
    let state = |extra: &str| {
        format!(
            r#"version = 1
project = "{p}"
[env]
LITERAL = "{literal}"
FROM_ENV = "${{JT_SECRET}}"
OPENAI_API_KEY = {{ file = "~/secrets/openai" }}
[roles.smith]
image = "{img}"
agents = ["kimi", "claude"]
[roles.smith.env]
ROLE_SECRET = "SECRET-role-layer"
[workspaces.{ws}.roles.smith]
{extra}"#,
            p = sb.project(),
            img = agent_image(),
        )
    };
    sb.write("jackin.toml", state(""));
    let mut secrets: Vec<String> = kimi.markers().iter().map(|s| s.to_string()).collect();
    secrets.extend(
        [
            literal,
            from_env,
            rotated,
            "SECRET-from-file",
            "SECRET-role-layer",
            "SECRET-claude-credentials",
            "SECRET-claude-json",
        ]
        .map(String::from),
    );
    let host = sb.home();
    let check = |label: &str, run: &Run| {
        for s in &secrets {
            assert!(
                !run.all().contains(s.as_str()),
                "{label}: {s} leaked:\n{run:?}"
            );
        }
    };

    let mut env = vec![("JT_SECRET", from_env)];
    let commands: Vec<Vec<&str>> = vec![
        vec!["validate"],
        vec!["schema"],
        vec!["plan"],
        vec!["plan", "--output", "json"],
        vec!["apply", "--output", "json"],
        vec!["apply"],
        vec!["status"],
        vec!["status", "--output", "json"],
    ];
    for args in &commands {
        let before = snapshot(&host);
        let run = sb.jackin_env(args, &env);
        run.expect_ok();
        check(&args.join(" "), &run);
        assert_eq!(
            snapshot(&host),
            before,
            "`jackin {}` changed the host",
            args.join(" ")
        );
    }

    // A rotated value: the recreate reason names the variable, never its values.
    env = vec![("JT_SECRET", rotated)];
    let plan = sb.jackin_env(&["plan"], &env);
    check("plan after rotation", &plan);
    assert!(plan.stdout.contains("env changed: FROM_ENV"), "{plan:?}");
    let apply = sb.jackin_env(&["apply", "--output", "json"], &env);
    apply.expect_ok();
    check("apply after rotation", &apply);
    common::schema::assert_events_match_schema(&apply.stdout);

    // Errors: a credential mode with its variable unset, with every other secret in play.
    sb.write(
        "jackin.toml",
        state(&format!(
            "[workspaces.{ws}.roles.smith.auth.claude]\nmode = \"api_key\"\n"
        )),
    );
    let before = snapshot(&host);
    for args in [
        vec!["plan"],
        vec!["apply", "--output", "json"],
        vec!["status"],
    ] {
        let run = sb.jackin_env(&args, &env);
        run.expect_code(1);
        assert!(run.stderr.contains("error[E010]"), "{run:?}");
        check(&format!("error from {}", args.join(" ")), &run);
    }
    assert_eq!(snapshot(&host), before, "errors changed the host");
}
