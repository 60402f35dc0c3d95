//! Every agent a role lists gets its credentials, each per its catalogue row (SPEC §3).

use crate::common::*;

fn role_state(sb: &Sandbox, ws: &str, agents: &str, extra: &str) -> String {
    format!(
        "version = 1\nproject = \"{}\"\n{extra}\n[roles.smith]\nimage = \"{}\"\nagents = {agents}\n[roles.smith.claude]\nmodel = \"opus\"\n[workspaces.{ws}.roles.smith]\n",
        sb.project(),
        agent_image()
    )
}

/// The container's `.claude.json`, parsed.
fn claude_json(c: &str) -> serde_json::Value {
    let text = exec(c, &["cat", "/jackin/claude/.claude.json"]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// What a host claude writes to `~/.claude.json`: the account, and its own bookkeeping.
fn host_claude_json(email: &str, starts: u32) -> String {
    format!(
        r#"{{"numStartups": {starts}, "userID": "SECRET-user-id", "tipsHistory": {{"t": {starts}}}, "oauthAccount": {{"emailAddress": "{email}", "accountUuid": "SECRET-uuid"}}, "projects": {{"/host/dir": {{"hasTrustDialogAccepted": true}}}}}}"#
    )
}

#[test]
fn claude_gets_its_credentials_and_only_the_owned_keys_of_claude_json() {
    let sb = Sandbox::new();
    sb.write_home(
        ".claude/.credentials.json",
        "{\"claudeAiOauth\":\"SECRET-claude-oauth\"}",
    );
    sb.write_home(".claude.json", host_claude_json("op@example.com", 1));
    sb.write_home(".claude/settings.json", "{\"not\":\"synced\"}");
    let ws = sb.workspace("claude");
    let c = format!("jk-{ws}-smith");
    let workdir = format!("[workspaces.{ws}]\nworkdir = \"/workspace\"");
    sb.write(
        "jackin.toml",
        role_state(&sb, &ws, "[\"claude\", \"codex\"]", &workdir),
    );
    sb.write_home(".codex/auth.json", "{\"OPENAI\":\"SECRET-codex\"}");
    let home_before = snapshot(sb.home());

    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(!run.all().contains("SECRET-"), "{run:?}");
    assert!(
        run.stdout
            .contains("copy claude/.claude.json: made by jackin for the agent"),
        "{run:?}"
    );
    assert_eq!(
        exec(&c, &["cat", "/jackin/claude/.credentials.json"]),
        "{\"claudeAiOauth\":\"SECRET-claude-oauth\"}"
    );
    // SPEC v3 §3a: the account, onboarding done, the workdir trusted; none of the host's
    // bookkeeping, nor its trust of its own folders.
    assert_eq!(
        claude_json(&c),
        serde_json::json!({
            "oauthAccount": {"emailAddress": "op@example.com", "accountUuid": "SECRET-uuid"},
            "hasCompletedOnboarding": true,
            "projects": {"/workspace": {"hasTrustDialogAccepted": true}}
        })
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
    // The agent process got exactly these arguments (one per line in its record).
    assert_eq!(
        exec(&c, &["cat", "/tmp/agent.args"])
            .lines()
            .collect::<Vec<_>>()
            .join(" "),
        r#"claude --settings {"skipDangerousModePermissionPrompt":true} --dangerously-skip-permissions --model opus"#
    );
    assert_eq!(snapshot(sb.home()), home_before, "host unchanged");
}

#[test]
fn host_use_of_claude_changes_nothing_and_the_containers_own_keys_survive_a_relogin() {
    let sb = Sandbox::new();
    sb.write_home(".claude/.credentials.json", "{\"claudeAiOauth\":\"c1\"}");
    sb.write_home(".claude.json", host_claude_json("op@example.com", 1));
    let ws = sb.workspace("claudeown");
    let c = format!("jk-{ws}-smith");
    let workdir = format!("[workspaces.{ws}]\nworkdir = \"/workspace\"");
    sb.write(
        "jackin.toml",
        role_state(&sb, &ws, "[\"claude\"]", &workdir),
    );
    sb.jackin(&["apply"]).expect_ok();
    let started = inspect(&c, "{{.State.StartedAt}}");

    // The agent keeps its own keys in the file (as claude does on every start).
    sh(
        &c,
        "sed -i '1a\\  \"numStartups\": 9, \"projects2\": {},' /jackin/claude/.claude.json",
    );
    // The operator uses claude on the host: its bookkeeping changes, the account does not.
    sb.write_home(".claude.json", host_claude_json("op@example.com", 2));
    sb.jackin(&["plan", "--detailed-exitcode"]).expect_code(0);
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(run.stdout.contains("No changes."), "{run:?}");
    assert_eq!(inspect(&c, "{{.State.StartedAt}}"), started, "no restart");

    // A re-login on the host (new account block): merged, the container's keys stay.
    sb.write_home(".claude.json", host_claude_json("new@example.com", 3));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout
            .contains("copy claude/.claude.json: what jackin makes for the agent changed"),
        "{run:?}"
    );
    let doc = claude_json(&c);
    assert_eq!(doc["oauthAccount"]["emailAddress"], "new@example.com");
    assert_eq!(doc["numStartups"], 9, "{doc}");
    assert_eq!(
        doc["projects"]["/workspace"]["hasTrustDialogAccepted"],
        true
    );
    assert_eq!(
        exec(&c, &["stat", "-c", "%u %a", "/jackin/claude/.claude.json"]).trim(),
        format!("{} 600", exec(&c, &["id", "-u"]).trim()),
        "the container's user's, private"
    );
}

#[test]
fn a_claude_source_override_takes_the_account_from_that_folders_claude_json() {
    let sb = Sandbox::new();
    sb.write_home("work-claude/.credentials.json", "work-creds");
    sb.write_home(
        "work-claude/.claude.json",
        host_claude_json("work@example.com", 1),
    );
    sb.write_home(".claude.json", host_claude_json("personal@example.com", 1));
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
        claude_json(&c)["oauthAccount"]["emailAddress"],
        "work@example.com"
    );
}

#[test]
fn claude_oauth_token_mode_purges_the_login_keeps_onboarding_and_sets_the_token_env() {
    let sb = Sandbox::new();
    sb.write_home(".claude/.credentials.json", "SECRET-old-oauth");
    sb.write_home(".claude.json", host_claude_json("op@example.com", 1));
    let ws = sb.workspace("oauth");
    let c = format!("jk-{ws}-smith");
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"claude\"]", ""));
    sb.jackin(&["apply"]).expect_ok();
    assert!(exec(&c, &["ls", "-A", "/jackin/claude"]).contains(".credentials.json"));

    let token = format!("SECRET-token-{}", sb.project());
    let auth =
        "[auth.claude]\nmode = \"oauth_token\"\n[env]\nCLAUDE_CODE_OAUTH_TOKEN = \"${JT_TOKEN}\"";
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"claude\"]", auth));
    let env = [("JT_TOKEN", token.as_str())];
    let run = sb.jackin_env(&["apply"], &env);
    run.expect_ok();
    assert!(
        !run.all().contains(&token) && !run.all().contains("SECRET-old-oauth"),
        "{run:?}"
    );
    for line in [
        "purge claude/.credentials.json: auth mode oauth_token",
        "copy claude/.claude.json: what jackin makes for the agent changed",
    ] {
        assert!(run.stdout.contains(line), "{line}: {run:?}");
    }
    assert_eq!(
        exec(&c, &["ls", "-A", "/jackin/claude"]).trim(),
        ".claude.json"
    );
    // The forwarded account went with the login; onboarding stays done.
    assert_eq!(
        claude_json(&c),
        serde_json::json!({"hasCompletedOnboarding": true})
    );
    assert!(exec(&c, &["env"])
        .lines()
        .any(|l| l == format!("CLAUDE_CODE_OAUTH_TOKEN={token}")));
    let run = sb.jackin_env(&["apply"], &env);
    assert!(run.stdout.contains("No changes."), "{run:?}");
}

#[test]
fn claude_api_key_mode_approves_the_key_and_the_containers_own_answer_is_kept() {
    let sb = Sandbox::new();
    let ws = sb.workspace("claudekey");
    let c = format!("jk-{ws}-smith");
    let key = format!("sk-ant-SECRET-{}-0123456789abcdefghij", sb.project());
    let auth = format!(
        "[workspaces.{ws}]\nworkdir = \"/w\"\n[auth.claude]\nmode = \"api_key\"\n[env]\nANTHROPIC_API_KEY = \"${{JT_KEY}}\""
    );
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"claude\"]", &auth));
    let env = [("JT_KEY", key.as_str())];
    let run = sb.jackin_env(&["apply"], &env);
    run.expect_ok();
    assert!(!run.all().contains(&key[key.len() - 20..]), "{run:?}");
    let doc = claude_json(&c);
    assert_eq!(
        doc["customApiKeyResponses"]["approved"],
        serde_json::json!([&key[key.len() - 20..]])
    );
    assert_eq!(doc["hasCompletedOnboarding"], true);
    assert_eq!(doc["projects"]["/w"]["hasTrustDialogAccepted"], true);

    // The agent says no to its trust dialog itself: its answer is kept, not fought over.
    sh(
        &c,
        "sed -i 's/\"hasTrustDialogAccepted\": true/\"hasTrustDialogAccepted\": false/' /jackin/claude/.claude.json",
    );
    let run = sb.jackin_env(&["apply"], &env);
    run.expect_ok();
    assert!(
        run.stdout
            .contains("keep claude/.claude.json: changed inside the container, host unchanged"),
        "{run:?}"
    );
    assert_eq!(
        claude_json(&c)["projects"]["/w"]["hasTrustDialogAccepted"],
        false
    );
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
    sb.assert_untouched(&ws);
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
    assert!(
        exec(&c, &["env"])
            .lines()
            .any(|l| l == "OPENCODE_CONFIG_CONTENT={\"permission\":\"allow\"}"),
        "opencode allows every tool without asking"
    );
    assert_eq!(
        exec(&c, &["cat", "/tmp/agent.args"])
            .lines()
            .collect::<Vec<_>>(),
        ["grok", "--always-approve"]
    );
}

fn kimi_code_state(sb: &Sandbox, ws: &str, extra: &str) -> String {
    format!(
        "version = 1\nproject = \"{}\"\n{extra}\n[roles.smith]\nimage = \"{}\"\nagents = [\"kimi-code\"]\n[roles.smith.kimi-code]\nmodel = \"k2\"\n[workspaces.{ws}.roles.smith]\n",
        sb.project(),
        agent_image()
    )
}

fn args(c: &str) -> Vec<String> {
    exec(c, &["cat", "/tmp/agent.args"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn kimi_code_syncs_to_jackin_kimi_code_with_kimi_code_home_set() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi-code");
    let ws = sb.workspace("kimicode");
    let c = format!("jk-{ws}-smith");
    sb.write("jackin.toml", kimi_code_state(&sb, &ws, ""));
    let home_before = snapshot(sb.home());

    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    login.assert_not_leaked(&run.all());
    assert!(
        run.stdout
            .contains("copy kimi-code/config.toml: new on host"),
        "{run:?}"
    );
    assert_eq!(
        exec(&c, &["cat", "/jackin/kimi-code/device_id"]),
        login.device_id
    );
    assert!(exec(
        &c,
        &["cat", "/jackin/kimi-code/credentials/nested/extra.json"]
    )
    .contains(&login.nested));
    assert!(exec(&c, &["env"])
        .lines()
        .any(|l| l == "KIMI_CODE_HOME=/jackin/kimi-code"));
    // Nothing is mounted over ~/.kimi-code, where Kimi Code installs its binary.
    let mounts = inspect(&c, "{{range .Mounts}}{{.Destination}} {{end}}");
    assert_eq!(mounts.trim(), "/jackin/kimi-code");
    assert_eq!(args(&c), ["kimi", "--yolo", "--model", "k2"]);
    assert_eq!(snapshot(sb.home()), home_before, "host unchanged");
    assert!(sb.jackin(&["plan"]).stdout.starts_with("No changes."));
}

#[test]
fn kimi_code_api_key_sets_kimi_model_api_key_and_name_and_no_model_flag() {
    let sb = Sandbox::new();
    let ws = sb.workspace("kimicodekey");
    let c = format!("jk-{ws}-smith");
    let key = format!("SECRET-kimi-code-key-{}", sb.project());
    let auth = "[auth.kimi-code]\nmode = \"api_key\"\n[env]\nKIMI_MODEL_API_KEY = \"${JT_KEY}\"";
    sb.write("jackin.toml", kimi_code_state(&sb, &ws, auth));
    let run = sb.jackin_env(&["apply"], &[("JT_KEY", &key)]);
    run.expect_ok();
    assert!(!run.all().contains(&key), "{run:?}");
    let env = exec(&c, &["env"]);
    for line in [
        format!("KIMI_MODEL_API_KEY={key}"),
        "KIMI_MODEL_NAME=k2".to_owned(),
        "KIMI_CODE_HOME=/jackin/kimi-code".to_owned(),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing");
    }
    assert!(!env.contains("KIMI_API_KEY="), "Kimi Code does not read it");
    assert_eq!(
        args(&c),
        ["kimi", "--yolo"],
        "--model would override the env model"
    );

    // Without a model (and no KIMI_MODEL_NAME of the operator's), the state is invalid.
    let no_model = kimi_code_state(&sb, &ws, auth).replace("model = \"k2\"\n", "");
    sb.write("jackin.toml", no_model);
    let run = sb.jackin(&["validate"]);
    run.expect_code(1);
    assert!(run.stderr.starts_with("error[E004]: "), "{run:?}");
    assert!(
        run.stderr.contains(
            "kimi-code uses auth mode 'api_key' (set by auth.kimi-code) but has no model"
        ),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("under [roles.smith.kimi-code]"),
        "{run:?}"
    );
}

#[test]
fn codex_gets_its_workdir_trusted_once_and_the_seed_is_the_containers_after() {
    let sb = Sandbox::new();
    sb.write_home(".codex/auth.json", "{\"OPENAI\":\"SECRET-codex\"}");
    let ws = sb.workspace("codexseed");
    let c = format!("jk-{ws}-smith");
    let workdir = format!("[workspaces.{ws}]\nworkdir = \"/workspace\"");
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"codex\"]", &workdir));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout
            .contains("seed codex/config.toml: first-run setting"),
        "{run:?}"
    );
    let trusted = "[projects.\"/workspace\"]\ntrust_level = \"trusted\"\n";
    assert_eq!(exec(&c, &["cat", "/jackin/codex/config.toml"]), trusted);

    // The container owns it now: its edit stays, and a second apply has nothing to do.
    sh(&c, "echo 'model = \"o9\"' >> /jackin/codex/config.toml");
    let edited = format!("{trusted}model = \"o9\"\n");
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(run.stdout.contains("No changes."), "{run:?}");
    assert_eq!(exec(&c, &["cat", "/jackin/codex/config.toml"]), edited);

    // ignore removes what jackin forwarded, never the seed.
    let ignore = format!("{workdir}\n[auth.codex]\nmode = \"ignore\"");
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"codex\"]", &ignore));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout
            .contains("purge codex/auth.json: auth mode ignore"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("codex/config.toml"), "{run:?}");
    assert_eq!(exec(&c, &["cat", "/jackin/codex/config.toml"]), edited);
}

#[test]
fn codex_api_key_mode_writes_the_login_codex_reads_and_ignore_removes_it() {
    let sb = Sandbox::new();
    sb.write_home(
        ".codex/auth.json",
        "{\"tokens\":{\"refresh_token\":\"SECRET-rt\"}}",
    );
    let ws = sb.workspace("codexkey");
    let c = format!("jk-{ws}-smith");
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"codex\"]", ""));
    sb.jackin(&["apply"]).expect_ok();

    let key = format!("sk-SECRET-{}", sb.project());
    let api_key = "[auth.codex]\nmode = \"api_key\"\n[env]\nOPENAI_API_KEY = \"${JT_KEY}\"";
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"codex\"]", api_key));
    let env = [("JT_KEY", key.as_str())];
    let run = sb.jackin_env(&["apply"], &env);
    run.expect_ok();
    assert!(
        !run.all().contains(&key) && !run.all().contains("SECRET-rt"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("copy codex/auth.json: what jackin makes for the agent changed"),
        "the ChatGPT login is replaced by the key's: {run:?}"
    );
    let login: serde_json::Value =
        serde_json::from_str(&exec(&c, &["cat", "/jackin/codex/auth.json"])).unwrap();
    assert_eq!(
        login,
        serde_json::json!({"auth_mode": "apikey", "OPENAI_API_KEY": key})
    );
    assert_eq!(
        exec(&c, &["stat", "-c", "%u %a", "/jackin/codex/auth.json"]).trim(),
        format!("{} 600", exec(&c, &["id", "-u"]).trim()),
        "the container's user's, private"
    );
    let run = sb.jackin_env(&["apply"], &env);
    assert!(run.stdout.contains("No changes."), "{run:?}");

    let ignore = "[auth.codex]\nmode = \"ignore\"";
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"codex\"]", ignore));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout
            .contains("purge codex/auth.json: auth mode ignore"),
        "{run:?}"
    );
    assert!(!exec(&c, &["ls", "-A", "/jackin/codex"]).contains("auth.json"));
}

#[test]
fn kimi_lock_files_are_never_forwarded() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    std::fs::write(login.dir.join("credentials/kimi-code.lock"), "").unwrap();
    let ws = sb.workspace("kimilock");
    let c = format!("jk-{ws}-smith");
    sb.write("jackin.toml", role_state(&sb, &ws, "[\"kimi\"]", ""));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(!run.stdout.contains(".lock"), "{run:?}");
    assert_eq!(
        exec(&c, &["ls", "-A", "/jackin/kimi/credentials"])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["kimi-code.json", "nested"]
    );
}
