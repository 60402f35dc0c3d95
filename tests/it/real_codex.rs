//! The real Codex (0.163.0, from the `openai-codex-cli-bin` wheel; image built by
//! `scripts/real-clients-image.sh`) launched by `jackin apply` (SPEC §3a, §3b, §10): what the
//! operator sees through `jackin attach` (rendered, [`Screen`]) and what the client sends to
//! the provider ([`FakeProvider`], inside the container). Facts behind the assertions:
//! docs/real-clients.md.

use crate::common::provider::{self, header, is, FakeProvider, REPLY};
use crate::common::screen::{Screen, ANSWER, START};
use crate::common::*;
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

fn real_codex_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| image_from_script("scripts/real-clients-image.sh", &["codex"]))
}

/// On screen when the client waits at its prompt (the empty composer's placeholder).
const PROMPT: &str = "Ask Codex to do anything";
/// On screen when the client cannot work (measured, docs/real-clients.md).
const STALLS: [&str; 4] = [
    "Sign in with ChatGPT",     // the login screen: no login it reads
    "Provide your own API key", // the same screen
    "Do you trust",             // folder trust
    "failed during TUI bootstrap",
];

/// One instance (workspace `ws` × role `smith`, codex only) of the real image, with the
/// global `[auth.codex]` lines `auth`, the provider's env and `env` lines.
fn state(sb: &Sandbox, ws: &str, auth: &str, env: &str) -> String {
    provider::one_agent_state(sb, "codex", real_codex_image(), ws, auth, env)
}

/// `auth.json` exactly as `codex login --with-api-key` 0.163.0 writes it.
fn api_key_auth_json(key: &str) -> String {
    format!("{{\n  \"auth_mode\": \"apikey\",\n  \"OPENAI_API_KEY\": \"{key}\"\n}}")
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// An unsigned JWT with `claims` (codex reads the claims, it does not verify signatures).
fn jwt(claims: &Value) -> String {
    format!(
        "{}.{}.c2ln",
        base64url(br#"{"alg":"RS256","typ":"JWT"}"#),
        base64url(claims.to_string().as_bytes())
    )
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A ChatGPT login as `codex login` writes it (`auth_mode` chatgpt, the three tokens, the
/// account id, `last_refresh`). Fake tokens, unique per sandbox.
struct ChatGptLogin {
    access: String,
    refresh: String,
    account: String,
}

fn chatgpt_login(sb: &Sandbox, expired: bool) -> ChatGptLogin {
    let p = sb.project();
    let account = format!("acct-{p}");
    let (exp, last_refresh) = if expired {
        (
            unix_now() - 3600,
            SystemTime::now() - Duration::from_secs(30 * 24 * 3600),
        )
    } else {
        (unix_now() + 10 * 24 * 3600, SystemTime::now())
    };
    let auth = json!({
        "chatgpt_plan_type": "pro",
        "chatgpt_account_id": account,
        "chatgpt_user_id": format!("user-{p}"),
    });
    let login = ChatGptLogin {
        access: jwt(&json!({"exp": exp, "sub": format!("fake-access-{p}"),
                             "https://api.openai.com/auth": auth})),
        refresh: format!("fake-refresh-{p}"),
        account,
    };
    let id_token = jwt(&json!({"email": "operator@example.invalid", "exp": exp,
                               "https://api.openai.com/auth": auth}));
    sb.write_home(
        ".codex/auth.json",
        serde_json::to_string_pretty(&json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": null,
            "tokens": {
                "id_token": id_token,
                "access_token": login.access,
                "refresh_token": login.refresh,
                "account_id": login.account,
            },
            "last_refresh": humantime::format_rfc3339_micros(last_refresh).to_string(),
        }))
        .unwrap(),
    );
    login
}

/// The client reaches its prompt: no login screen, no dialog, no bootstrap error. (Codex
/// draws its composer before it has read the login: a login screen may still replace it, so
/// [`ask`] looks for these again.)
#[track_caller]
fn reaches_the_prompt(screen: &Screen) {
    let mut needles = vec![PROMPT];
    needles.extend(STALLS);
    let seen = screen.wait_for_any(&needles, START);
    let text = screen.text();
    assert_eq!(seen, 0, "the client does not reach its prompt:\n{text}");
    for s in STALLS {
        assert!(!text.contains(s), "{s:?} on screen:\n{text}");
    }
}

/// Types a prompt; the provider's answer appears on screen; returns the Responses requests
/// recorded (`host`, `path`).
#[track_caller]
fn ask(screen: &Screen, provider: &FakeProvider, host: &str, path: &str) -> Vec<Value> {
    screen.submit("say hi", ANSWER);
    let mut needles = vec![REPLY];
    needles.extend(STALLS);
    let seen = screen.wait_for_any(&needles, ANSWER);
    assert_eq!(seen, 0, "no answer on screen:\n{}", screen.text());
    let responses = provider.matching(|r| is(r, "POST", host, path));
    assert!(
        !responses.is_empty(),
        "no Responses request to {host}{path}:\n{}",
        provider.summary()
    );
    responses
}

fn started_at(c: &str) -> String {
    inspect(c, "{{.State.StartedAt}}")
}

fn handoff_auth(sb: &Sandbox, c: &str) -> Value {
    let path = sb.handoff_dir(c, "codex").join("auth.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn sync_of_an_api_key_login_reaches_the_prompt_and_sends_the_key() {
    let sb = Sandbox::new();
    let key = format!("sk-proj-fake-{}", sb.project());
    sb.write_home(".codex/auth.json", api_key_auth_json(&key));
    let ws = sb.workspace("rxk");
    sb.write("jackin.toml", state(&sb, &ws, "mode = \"sync\"", ""));
    let (_c, provider, screen) = provider::apply_and_attach(&sb, &ws);
    reaches_the_prompt(&screen);
    for r in ask(&screen, &provider, "api.openai.com", "/v1/responses") {
        assert_eq!(header(&r, "authorization"), format!("Bearer {key}"), "{r}");
    }
}

#[test]
fn sync_of_a_chatgpt_login_reaches_the_prompt_and_sends_the_access_token() {
    let sb = Sandbox::new();
    let login = chatgpt_login(&sb, false);
    let ws = sb.workspace("rxc");
    sb.write("jackin.toml", state(&sb, &ws, "mode = \"sync\"", ""));
    let (_c, provider, screen) = provider::apply_and_attach(&sb, &ws);
    reaches_the_prompt(&screen);
    for r in ask(
        &screen,
        &provider,
        "chatgpt.com",
        "/backend-api/codex/responses",
    ) {
        assert_eq!(
            header(&r, "authorization"),
            format!("Bearer {}", login.access),
            "{r}"
        );
        assert_eq!(header(&r, "chatgpt-account-id"), login.account, "{r}");
    }
    assert!(
        provider
            .matching(|r| is(r, "POST", "auth.openai.com", "/oauth/token"))
            .is_empty(),
        "a fresh login is not refreshed:\n{}",
        provider.summary()
    );
}

/// codex 0.163 ignores `OPENAI_API_KEY` (login screen): jackin hands it the login
/// `codex login --with-api-key` writes, and the TUI uses it.
#[test]
fn api_key_mode_gives_codex_a_login_it_uses() {
    let sb = Sandbox::new();
    let key = format!("sk-proj-fake-{}", sb.project());
    let ws = sb.workspace("rxa");
    sb.write(
        "jackin.toml",
        state(
            &sb,
            &ws,
            "mode = \"api_key\"",
            &format!("OPENAI_API_KEY = \"{key}\"\n"),
        ),
    );
    let (c, provider, screen) = provider::apply_and_attach(&sb, &ws);
    reaches_the_prompt(&screen);
    for r in ask(&screen, &provider, "api.openai.com", "/v1/responses") {
        assert_eq!(header(&r, "authorization"), format!("Bearer {key}"), "{r}");
    }
    assert_eq!(
        handoff_auth(&sb, &c),
        json!({"auth_mode": "apikey", "OPENAI_API_KEY": key})
    );
}

/// An expired ChatGPT login: the real client refreshes it once through the provider, writes
/// the new tokens in the handoff's `auth.json`, and the next apply keeps them (no copy back to
/// the host, no restart).
#[test]
fn an_expired_chatgpt_login_is_refreshed_in_the_handoff_and_kept_by_the_next_apply() {
    let sb = Sandbox::new();
    let login = chatgpt_login(&sb, true);
    let host_before = snapshot(sb.home());
    let ws = sb.workspace("rxr");
    sb.write("jackin.toml", state(&sb, &ws, "mode = \"sync\"", ""));
    let (c, provider, screen) = provider::apply_and_attach(&sb, &ws);
    let started = started_at(&c);
    reaches_the_prompt(&screen);
    let responses = ask(
        &screen,
        &provider,
        "chatgpt.com",
        "/backend-api/codex/responses",
    );

    let refreshes = provider.matching(|r| is(r, "POST", "auth.openai.com", "/oauth/token"));
    assert_eq!(refreshes.len(), 1, "{}", provider.summary());
    assert_eq!(refreshes[0]["body"]["grant_type"], "refresh_token");
    assert_eq!(
        refreshes[0]["body"]["refresh_token"],
        login.refresh.as_str()
    );
    assert_eq!(refreshes[0]["status"], 200);
    let auth = handoff_auth(&sb, &c);
    assert_eq!(auth["auth_mode"], "chatgpt", "{auth:#}");
    assert_eq!(
        auth["tokens"]["refresh_token"], "fake-refreshed-refresh-1",
        "{auth:#}"
    );
    let new_access = auth["tokens"]["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_access, login.access);
    for r in responses {
        assert_eq!(
            header(&r, "authorization"),
            format!("Bearer {new_access}"),
            "{r}"
        );
    }

    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(started_at(&c), started, "the agent was not restarted");
    assert_eq!(handoff_auth(&sb, &c), auth, "the rotated login is kept");
    assert_eq!(
        snapshot(sb.home()),
        host_before,
        "nothing is copied back to the host"
    );
}
