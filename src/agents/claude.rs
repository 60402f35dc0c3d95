//! Claude Code: what jackin does for it beyond its catalogue row.
//!
//! `.claude.json` (under `CLAUDE_CONFIG_DIR`, i.e. in the handoff:
//! code.claude.com/docs/en/claude-directory) is shared ground (SPEC v3 §3a). Claude rewrites
//! it on every start (counters, tips), on the host and in the container alike, so copying the
//! host's file whole re-copied it, and restarted the agent, whenever the operator used claude
//! on the host, and threw away the container's own answers. jackin owns only these keys
//! (measured with Claude Code 2.1.332, SPEC v3 §3a):
//! - `hasCompletedOnboarding: true` — else the TUI runs its onboarding and waits for a human
//!   (anthropics/claude-code#46259; upstream jackin writes it in oauth_token mode);
//! - `projects["<workdir>"].hasTrustDialogAccepted: true` — else it stops on "Do you trust the
//!   files in this folder?", whose default answer ("No, exit") ends the agent;
//! - api_key: `customApiKeyResponses.approved` holding the key's last 20 characters — else it
//!   asks "Detected a custom API key … use it?" with "No (recommended)" as the default;
//! - sync: `oauthAccount`, the account block of the host login (the host's `~/.claude.json`
//!   when the source is the default folder, else the source's `.claude.json`); removed when
//!   the mode leaves sync while jackin's copy of the login is still there to purge.

use super::{AuthMode, OwnedKeys};
use serde_json::Value;

/// The key of `.claude.json` that holds the account of the login.
pub const ACCOUNT_KEY: &str = "oauthAccount";

/// How many trailing characters of an API key Claude Code records as approved.
const APPROVED_SUFFIX: usize = 20;

/// What jackin owns in the container's `.claude.json`, for an instance in `mode` working in
/// `workdir`. `account` is the host login's account block (sync); `api_key` the key the
/// container gets (api_key); `forwarded_login` whether jackin's copy of the host login is in
/// the ledger (so the account that came with it is jackin's to remove).
pub fn owned_keys(
    mode: AuthMode,
    workdir: Option<&str>,
    account: Option<&Value>,
    api_key: Option<&str>,
    forwarded_login: bool,
) -> OwnedKeys {
    let mut keys = OwnedKeys::default();
    keys.set(&["hasCompletedOnboarding"], Value::Bool(true));
    if let Some(dir) = workdir {
        keys.set(
            &["projects", dir, "hasTrustDialogAccepted"],
            Value::Bool(true),
        );
    }
    match (mode, account) {
        (AuthMode::Sync, Some(account)) => keys.set(&[ACCOUNT_KEY], account.clone()),
        (AuthMode::Sync, None) => {}
        _ if forwarded_login => keys.absent(&[ACCOUNT_KEY]),
        _ => {}
    }
    if let (AuthMode::ApiKey, Some(key)) = (mode, api_key) {
        let start = key
            .char_indices()
            .rev()
            .nth(APPROVED_SUFFIX - 1)
            .map_or(0, |(i, _)| i);
        keys.includes(
            &["customApiKeyResponses", "approved"],
            Value::String(key[start..].to_owned()),
        );
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(keys: &OwnedKeys) -> Value {
        serde_json::from_slice(&keys.merge(None)).unwrap()
    }

    #[test]
    fn every_mode_skips_onboarding_and_trusts_the_workdir() {
        for mode in [
            AuthMode::Sync,
            AuthMode::ApiKey,
            AuthMode::OauthToken,
            AuthMode::Ignore,
        ] {
            let d = doc(&owned_keys(mode, Some("/w/app"), None, None, false));
            assert_eq!(d["hasCompletedOnboarding"], true, "{mode}");
            assert_eq!(
                d["projects"]["/w/app"]["hasTrustDialogAccepted"], true,
                "{mode}"
            );
        }
    }

    #[test]
    fn api_key_mode_approves_the_keys_last_twenty_characters() {
        let key = "sk-ant-api03-0123456789abcdefghijKLMNOPQRST";
        let d = doc(&owned_keys(AuthMode::ApiKey, None, None, Some(key), false));
        assert_eq!(
            d["customApiKeyResponses"]["approved"],
            json!(["abcdefghijKLMNOPQRST"])
        );
        let short = doc(&owned_keys(AuthMode::ApiKey, None, None, Some("k1"), false));
        assert_eq!(short["customApiKeyResponses"]["approved"], json!(["k1"]));
    }

    #[test]
    fn sync_forwards_the_account_and_leaving_sync_removes_it_only_when_jackin_forwarded_it() {
        let account = json!({"emailAddress": "op@example.com"});
        let k = owned_keys(AuthMode::Sync, None, Some(&account), None, true);
        assert_eq!(doc(&k)[ACCOUNT_KEY], account);
        let container = br#"{"oauthAccount": {"emailAddress": "own@example.com"}}"#;
        let left = owned_keys(AuthMode::Ignore, None, None, None, true);
        let merged: Value = serde_json::from_slice(&left.merge(Some(container))).unwrap();
        assert!(merged.get(ACCOUNT_KEY).is_none(), "{merged}");
        let own = owned_keys(AuthMode::Ignore, None, None, None, false);
        let merged: Value = serde_json::from_slice(&own.merge(Some(container))).unwrap();
        assert_eq!(merged[ACCOUNT_KEY]["emailAddress"], "own@example.com");
    }
}
