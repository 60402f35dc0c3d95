//! The real Claude Code (2.1.332, from the `claude-agent-sdk` wheel; image built by
//! `scripts/real-clients-image.sh`) launched by `jackin apply` (SPEC §3a, §3b, §10): what the
//! operator sees through `jackin attach` (rendered, [`Screen`]) and what the client sends to
//! the provider ([`FakeProvider`], inside the container). Facts behind the assertions:
//! docs/real-clients.md.

use crate::common::provider::{self, header, is, FakeProvider, REPLY, WORKDIR};
use crate::common::screen::{Screen, ANSWER, START};
use crate::common::*;
use serde_json::{json, Value};
use std::sync::OnceLock;

fn real_claude_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| image_from_script("scripts/real-clients-image.sh", &["claude"]))
}

/// On screen when the client waits at its prompt (the footer of the prompt box).
const PROMPT: &str = "bypass permissions on";
/// On screen when the client stalls on a first-run dialog (measured, docs/real-clients.md).
const DIALOGS: [&str; 5] = [
    "Yes, I trust this folder", // folder trust: Enter on the default exits the agent
    "Quick safety check",       // the same dialog's text
    "Detected a custom API key", // api_key approval: the default is "No"
    "Welcome to Claude Code",   // onboarding
    "Unable to connect to Anthropic", // onboarding's connectivity check
];

/// One instance (workspace `ws` × role `smith`, claude only) of the real image, with the
/// global `[auth.claude]` lines `auth`, the provider's env and `env` lines.
fn state(sb: &Sandbox, ws: &str, auth: &str, env: &str) -> String {
    provider::one_agent_state(sb, "claude", real_claude_image(), ws, auth, env)
}

/// A host login as `claude` writes it after `/login` with a subscription: the OAuth tokens
/// in `~/.claude/.credentials.json`, the account and the client's own bookkeeping in
/// `~/.claude.json`. Fake tokens, unique per sandbox.
struct HostLogin {
    access: String,
    refresh: String,
    account: Value,
}

fn host_login(sb: &Sandbox, expires_at_ms: i64) -> HostLogin {
    let p = sb.project();
    let login = HostLogin {
        access: format!("sk-ant-oat01-fake-access-{p}"),
        refresh: format!("sk-ant-ort01-fake-refresh-{p}"),
        account: json!({
            "accountUuid": "00000000-0000-4000-8000-000000000001",
            "emailAddress": "operator@example.invalid",
            "organizationUuid": "00000000-0000-4000-8000-000000000002",
            "organizationName": "Example",
            "organizationRole": "admin",
            "displayName": "Operator",
        }),
    };
    sb.write_home(
        ".claude/.credentials.json",
        json!({"claudeAiOauth": {
            "accessToken": login.access,
            "refreshToken": login.refresh,
            "expiresAt": expires_at_ms,
            "scopes": ["user:inference", "user:profile", "user:sessions:claude_code"],
            "subscriptionType": "max",
        }})
        .to_string(),
    );
    write_host_claude_json(sb, &login, 12, 3);
    login
}

/// The host's `~/.claude.json`: the account, onboarding done, the host's own projects, and
/// the counters the host's claude rewrites at every start.
fn write_host_claude_json(sb: &Sandbox, login: &HostLogin, num_startups: u32, tip_shown: u32) {
    sb.write_home(
        ".claude.json",
        serde_json::to_string_pretty(&json!({
            "numStartups": num_startups,
            "installMethod": "native",
            "autoUpdates": false,
            "tipsHistory": {"new-user-warmup": tip_shown},
            "hasCompletedOnboarding": true,
            "lastOnboardingVersion": "2.1.332",
            "oauthAccount": login.account,
            "userID": "0123456789abcdef",
            "projects": {"/home/operator/src/app": {"hasTrustDialogAccepted": true}},
        }))
        .unwrap(),
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The client reaches its prompt, with no first-run dialog on the way.
#[track_caller]
fn reaches_the_prompt(screen: &Screen) {
    let mut needles = vec![PROMPT];
    needles.extend(DIALOGS);
    let seen = screen.wait_for_any(&needles, START);
    let text = screen.text();
    assert_eq!(
        seen, 0,
        "the client stalls on a dialog instead of its prompt:\n{text}"
    );
    for d in DIALOGS {
        assert!(!text.contains(d), "dialog {d:?} on screen:\n{text}");
    }
}

/// Types a prompt; the provider's answer appears on screen; returns the Messages requests
/// recorded.
#[track_caller]
fn ask(screen: &Screen, provider: &FakeProvider) -> Vec<Value> {
    screen.submit("say hi", ANSWER);
    let mut needles = vec![REPLY];
    needles.extend(DIALOGS);
    let seen = screen.wait_for_any(&needles, ANSWER);
    assert_eq!(seen, 0, "no answer on screen:\n{}", screen.text());
    let messages = provider.matching(|r| is(r, "POST", "api.anthropic.com", "/v1/messages?"));
    assert!(
        !messages.is_empty(),
        "no Messages request:\n{}",
        provider.summary()
    );
    messages
}

fn started_at(c: &str) -> String {
    inspect(c, "{{.State.StartedAt}}")
}

fn handoff_json(sb: &Sandbox, c: &str, file: &str) -> Value {
    let path = sb.handoff_dir(c, "claude").join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn sync_reaches_the_prompt_and_sends_the_host_access_token() {
    let sb = Sandbox::new();
    let login = host_login(&sb, now_ms() + 5 * 3600 * 1000);
    let ws = sb.workspace("rcs");
    sb.write("jackin.toml", state(&sb, &ws, "mode = \"sync\"", ""));
    let (c, provider, screen) = provider::apply_and_attach(&sb, &ws);
    reaches_the_prompt(&screen);
    for m in ask(&screen, &provider) {
        assert_eq!(
            header(&m, "authorization"),
            format!("Bearer {}", login.access),
            "{m}"
        );
        assert_eq!(header(&m, "x-api-key"), "", "{m}");
    }
    // jackin's keys in the container's .claude.json: the host's account block, onboarding
    // done, the workdir trusted.
    let cj = handoff_json(&sb, &c, ".claude.json");
    assert_eq!(cj["oauthAccount"], login.account, "{cj:#}");
    assert_eq!(cj["hasCompletedOnboarding"], true, "{cj:#}");
    assert_eq!(
        cj["projects"][WORKDIR]["hasTrustDialogAccepted"], true,
        "{cj:#}"
    );
}

#[test]
fn api_key_mode_reaches_the_prompt_without_the_key_dialog_and_sends_the_key() {
    let sb = Sandbox::new();
    let key = format!("sk-ant-api03-fake-{}-0123456789abcdefghij", sb.project());
    let ws = sb.workspace("rca");
    sb.write(
        "jackin.toml",
        state(
            &sb,
            &ws,
            "mode = \"api_key\"",
            &format!("ANTHROPIC_API_KEY = \"{key}\"\n"),
        ),
    );
    let (c, provider, screen) = provider::apply_and_attach(&sb, &ws);
    reaches_the_prompt(&screen);
    for m in ask(&screen, &provider) {
        assert_eq!(header(&m, "x-api-key"), key, "{m}");
        assert_eq!(header(&m, "authorization"), "", "{m}");
    }
    let cj = handoff_json(&sb, &c, ".claude.json");
    let approved = cj["customApiKeyResponses"]["approved"]
        .as_array()
        .unwrap_or_else(|| panic!("no customApiKeyResponses.approved: {cj:#}"));
    assert!(
        approved.contains(&json!(key[key.len() - 20..])),
        "the key's last 20 characters are approved: {cj:#}"
    );
}

#[test]
fn oauth_token_mode_reaches_the_prompt_and_sends_the_token() {
    let sb = Sandbox::new();
    let token = format!("sk-ant-oat01-fake-setup-token-{}", sb.project());
    let ws = sb.workspace("rco");
    sb.write(
        "jackin.toml",
        state(
            &sb,
            &ws,
            "mode = \"oauth_token\"",
            &format!("CLAUDE_CODE_OAUTH_TOKEN = \"{token}\"\n"),
        ),
    );
    let (_c, provider, screen) = provider::apply_and_attach(&sb, &ws);
    reaches_the_prompt(&screen);
    for m in ask(&screen, &provider) {
        assert_eq!(
            header(&m, "authorization"),
            format!("Bearer {token}"),
            "{m}"
        );
    }
}

/// The host's claude rewrites `~/.claude.json` at every start (counters, tips): none of that
/// is jackin's, so it plans nothing and restarts nothing; what the container's claude (and
/// anything else in the container) keeps in its own `.claude.json` stays.
#[test]
fn host_claude_json_bookkeeping_restarts_nothing_and_the_containers_keys_survive() {
    let sb = Sandbox::new();
    let login = host_login(&sb, now_ms() + 5 * 3600 * 1000);
    let ws = sb.workspace("rcb");
    sb.write("jackin.toml", state(&sb, &ws, "mode = \"sync\"", ""));
    let (c, _provider, screen) = provider::apply_and_attach(&sb, &ws);
    let started = started_at(&c);
    // At its prompt the container's claude has written its own keys (it writes them while it
    // starts, from what it read first: a key another process adds before that may be lost).
    reaches_the_prompt(&screen);
    let own = handoff_json(&sb, &c, ".claude.json");
    for key in ["userID", "machineID", "firstStartTime"] {
        assert!(own.get(key).is_some(), "claude wrote {key}: {own:#}");
    }
    // The agent keeps something of its own in the file (atomically, as claude writes it).
    exec(
        &c,
        &[
            "python3",
            "-c",
            "import json, os\np = os.environ['CLAUDE_CONFIG_DIR'] + '/.claude.json'\nd = json.load(open(p))\nd['addedByTheContainer'] = {'kept': True}\nopen(p + '.tmp', 'w').write(json.dumps(d))\nos.replace(p + '.tmp', p)",
        ],
    );
    // The operator uses claude on the host: counters and tips change, nothing else.
    write_host_claude_json(&sb, &login, 99, 7);

    let plan = sb.jackin(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "host bookkeeping plans nothing: {plan:?}");
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(started_at(&c), started, "the agent was not restarted");

    let cj = handoff_json(&sb, &c, ".claude.json");
    assert_eq!(cj["addedByTheContainer"], json!({"kept": true}), "{cj:#}");
    for key in ["userID", "machineID", "firstStartTime"] {
        assert_eq!(cj[key], own[key], "the container's {key} is kept: {cj:#}");
    }
    assert_eq!(cj["oauthAccount"], login.account, "{cj:#}");
    assert_eq!(cj["hasCompletedOnboarding"], true, "{cj:#}");
    assert_eq!(
        cj["projects"][WORKDIR]["hasTrustDialogAccepted"], true,
        "{cj:#}"
    );
}

/// An expired access token: the real client refreshes it once through the provider, writes
/// the new tokens in the handoff's `.credentials.json`, and the next apply keeps them (no copy
/// back to the host, no restart).
#[test]
fn an_expired_token_is_refreshed_in_the_handoff_and_kept_by_the_next_apply() {
    let sb = Sandbox::new();
    let login = host_login(&sb, now_ms() - 3600 * 1000);
    let host_before = snapshot(sb.home());
    let ws = sb.workspace("rcr");
    sb.write("jackin.toml", state(&sb, &ws, "mode = \"sync\"", ""));
    let (c, provider, screen) = provider::apply_and_attach(&sb, &ws);
    let started = started_at(&c);
    reaches_the_prompt(&screen);
    ask(&screen, &provider);

    let refreshes = provider.matching(|r| is(r, "POST", "platform.claude.com", "/v1/oauth/token"));
    assert_eq!(refreshes.len(), 1, "{}", provider.summary());
    assert_eq!(refreshes[0]["body"]["grant_type"], "refresh_token");
    assert_eq!(
        refreshes[0]["body"]["refresh_token"],
        login.refresh.as_str()
    );
    assert_eq!(refreshes[0]["status"], 200);
    let creds = handoff_json(&sb, &c, ".credentials.json");
    let new_access = creds["claudeAiOauth"]["accessToken"].clone();
    assert!(
        new_access
            .as_str()
            .is_some_and(|a| a.starts_with("sk-ant-oat01-fake-refreshed-access-")),
        "{creds:#}"
    );
    for m in provider.matching(|r| is(r, "POST", "api.anthropic.com", "/v1/messages?")) {
        assert_eq!(
            header(&m, "authorization"),
            format!("Bearer {}", new_access.as_str().unwrap()),
            "{m}"
        );
    }

    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(started_at(&c), started, "the agent was not restarted");
    assert_eq!(
        handoff_json(&sb, &c, ".credentials.json"),
        creds,
        "the rotated login is kept"
    );
    assert_eq!(
        snapshot(sb.home()),
        host_before,
        "nothing is copied back to the host"
    );
}

/// Another holder already used the host's refresh token (SPEC §3b): the real client gets the
/// provider's "already used", blanks its login and asks for `/login`; `plan` and `status` say
/// the agent is logged out, and `apply` does not copy the spent host login over it again.
#[test]
fn a_spent_refresh_token_leaves_the_agent_logged_out_and_jackin_says_so() {
    let sb = Sandbox::new();
    let login = host_login(&sb, now_ms() - 3600 * 1000);
    let ws = sb.workspace("rcx");
    let spent = provider::spent_env(&login.refresh);
    sb.write("jackin.toml", state(&sb, &ws, "mode = \"sync\"", &spent));
    sb.jackin(&["apply"]).expect_ok();
    let c = format!("jk-{ws}-smith");
    let provider = FakeProvider::start(&c);
    let screen = Screen::attach(&sb, &ws);
    let started = started_at(&c);
    reaches_the_prompt(&screen);
    screen.submit("say hi", ANSWER);
    screen.wait_for("Please run /login", ANSWER);

    let refreshes = provider.matching(|r| is(r, "POST", "platform.claude.com", "/v1/oauth/token"));
    assert!(!refreshes.is_empty(), "{}", provider.summary());
    for r in &refreshes {
        assert_eq!(r["body"]["refresh_token"], login.refresh.as_str());
        assert_eq!(r["status"], 400, "{r}");
    }
    let creds = handoff_json(&sb, &c, ".credentials.json");
    assert_eq!(
        creds["claudeAiOauth"]["accessToken"], "",
        "the client blanked its login: {creds:#}"
    );
    assert_eq!(creds["claudeAiOauth"]["refreshToken"], "", "{creds:#}");

    let logged_out = format!("{c}: claude is logged out in the container");
    let plan = sb.jackin(&["plan"]);
    assert!(plan.all().contains(&logged_out), "{plan:?}");
    let status = sb.jackin(&["status"]);
    assert!(status.all().contains(&logged_out), "{status:?}");
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(started_at(&c), started, "the agent was not restarted");
    assert_eq!(
        handoff_json(&sb, &c, ".credentials.json"),
        creds,
        "the spent host login is not copied again"
    );
}
