//! Every agent a role lists gets its credentials, each per its catalogue row (SPEC §3).

mod common;

use common::*;

fn role_state(sb: &Sandbox, ws: &str, agents: &str, extra: &str) -> String {
    format!(
        "version = 1\nproject = \"{}\"\n{extra}\n[roles.smith]\nimage = \"{}\"\nagents = {agents}\n[roles.smith.claude]\nmodel = \"opus\"\n[workspaces.{ws}.roles.smith]\n",
        sb.project(),
        agent_image()
    )
}

#[test]
fn claude_gets_its_credentials_and_home_claude_json_when_the_source_is_default() {
    let sb = Sandbox::new();
    sb.write_home(
        ".claude/.credentials.json",
        "{\"claudeAiOauth\":\"SECRET-claude-oauth\"}",
    );
    sb.write_home(".claude.json", "{\"userID\":\"SECRET-claude-json\"}");
    sb.write_home(".claude/settings.json", "{\"not\":\"synced\"}");
    let ws = sb.workspace("claude");
    let c = format!("jk-{ws}-smith");
    sb.write(
        "jackin.toml",
        role_state(&sb, &ws, "[\"claude\", \"codex\"]", ""),
    );
    sb.write_home(".codex/auth.json", "{\"OPENAI\":\"SECRET-codex\"}");
    let home_before = snapshot(sb.home());

    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(!run.all().contains("SECRET-"), "{run:?}");
    assert_eq!(
        exec(&c, &["cat", "/jackin/claude/.credentials.json"]),
        "{\"claudeAiOauth\":\"SECRET-claude-oauth\"}"
    );
    assert_eq!(
        exec(&c, &["cat", "/jackin/claude/.claude.json"]),
        "{\"userID\":\"SECRET-claude-json\"}"
    );
    assert!(
        !exec(&c, &["ls", "-A", "/jackin/claude"]).contains("settings.json"),
        "only catalogue entries"
    );
    assert_eq!(
        exec(&c, &["cat", "/jackin/codex/auth.json"]),
        "{\"OPENAI\":\"SECRET-codex\"}",
        "every listed agent is provisioned"
    );
    assert!(exec(&c, &["env"])
        .lines()
        .any(|l| l == "CLAUDE_CONFIG_DIR=/jackin/claude"));
    assert_eq!(
        exec(&c, &["cat", "/tmp/agent.args"])
            .lines()
            .collect::<Vec<_>>(),
        [
            "claude",
            "--dangerously-skip-permissions",
            "--model",
            "opus"
        ]
    );
    assert_eq!(snapshot(sb.home()), home_before, "host unchanged");
}

#[test]
fn a_claude_source_override_takes_claude_json_from_that_folder() {
    let sb = Sandbox::new();
    sb.write_home("work-claude/.credentials.json", "work-creds");
    sb.write_home("work-claude/.claude.json", "work-json");
    sb.write_home(".claude.json", "personal-json");
    let ws = sb.workspace("claudesrc");
    let c = format!("jk-{ws}-smith");
    let auth = "[auth.claude]\nsource = \"~/work-claude\"";
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"claude\"]", auth));
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(
        exec(&c, &["cat", "/jackin/claude/.credentials.json"]),
        "work-creds"
    );
    assert_eq!(
        exec(&c, &["cat", "/jackin/claude/.claude.json"]),
        "work-json"
    );
}

#[test]
fn claude_oauth_token_mode_purges_the_login_and_sets_the_token_env() {
    let sb = Sandbox::new();
    sb.write_home(".claude/.credentials.json", "SECRET-old-oauth");
    let ws = sb.workspace("oauth");
    let c = format!("jk-{ws}-smith");
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"claude\"]", ""));
    sb.jackin(&["apply"]).expect_ok();
    assert!(exec(&c, &["ls", "-A", "/jackin/claude"]).contains(".credentials.json"));

    let token = format!("SECRET-token-{}", sb.project());
    let auth =
        "[auth.claude]\nmode = \"oauth_token\"\n[env]\nCLAUDE_CODE_OAUTH_TOKEN = \"${JT_TOKEN}\"";
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"claude\"]", auth));
    let run = sb.jackin_env(&["apply"], &[("JT_TOKEN", &token)]);
    run.expect_ok();
    assert!(
        !run.all().contains(&token) && !run.all().contains("SECRET-old-oauth"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("purge claude/.credentials.json: auth mode oauth_token"),
        "{run:?}"
    );
    assert_eq!(exec(&c, &["ls", "-A", "/jackin/claude"]).trim(), "");
    assert!(exec(&c, &["env"])
        .lines()
        .any(|l| l == format!("CLAUDE_CODE_OAUTH_TOKEN={token}")));
}

#[test]
fn a_source_that_is_a_home_directory_is_rejected_before_anything_changes() {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace("homesrc");
    let auth = "[auth.kimi]\nsource = \"~\"";
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"kimi\"]", auth));
    let run = sb.jackin(&["apply"]);
    run.expect_code(1);
    assert!(
        run.stderr.starts_with("error[E012]: kimi source"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("(set by auth.kimi) looks like a home directory"),
        "{run:?}"
    );
    assert!(!container_exists(&format!("jk-{ws}-smith")));
    assert!(!sb.jackin_home().join("data").exists());
}

#[test]
fn a_missing_explicit_source_is_an_error_naming_the_scope() {
    let sb = Sandbox::new();
    let ws = sb.workspace("nosrc");
    let extra = format!("[workspaces.{ws}.auth.kimi]\nsource = \"~/.kimi-work\"");
    sb.write(
        "jackin.toml",
        role_state(&sb, &ws, "[\"kimi\"]", "") + &extra,
    );
    let run = sb.jackin(&["plan"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!(
            "(set by workspaces.{ws}.auth.kimi) does not exist"
        )),
        "{run:?}"
    );
}

#[test]
fn single_file_agents_sync_their_one_file_to_their_target() {
    let sb = Sandbox::new();
    sb.write_home(".local/share/amp/secrets.json", "amp-secret");
    sb.write_home(".local/share/opencode/auth.json", "opencode-auth");
    sb.write_home(".grok/auth.json", "grok-auth");
    let ws = sb.workspace("single");
    let c = format!("jk-{ws}-smith");
    sb.write(
        "jackin.toml",
        role_state(&sb, &ws, "[\"grok\", \"amp\", \"opencode\"]", ""),
    );
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(
        exec(&c, &["cat", "/home/agent/.local/share/amp/secrets.json"]),
        "amp-secret"
    );
    assert_eq!(
        exec(&c, &["cat", "/home/agent/.local/share/opencode/auth.json"]),
        "opencode-auth"
    );
    assert_eq!(exec(&c, &["cat", "/jackin/grok/auth.json"]), "grok-auth");
    assert_eq!(
        exec(&c, &["cat", "/tmp/agent.args"])
            .lines()
            .collect::<Vec<_>>(),
        ["grok", "--always-approve"]
    );
}
