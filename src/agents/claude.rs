//! Claude Code: what jackin does for it beyond its catalogue row.
//!
//! With `CLAUDE_CODE_OAUTH_TOKEN` set, the TUI still runs its onboarding and waits for a human
//! (anthropics/claude-code#46259, #8938, #73403); the known workaround is
//! `"hasCompletedOnboarding": true` in `.claude.json`, which is what upstream jackin writes in
//! oauth_token mode (jackin-project/jackin `crates/jackin-runtime/src/instance/auth.rs`,
//! `provision_claude_auth`). With `CLAUDE_CONFIG_DIR` set, Claude reads `.claude.json` from
//! that folder (code.claude.com/docs/en/claude-directory), i.e. from the handoff.
//!
//! Only in oauth_token mode: in sync mode `.claude.json` is a synced entry and the host copy
//! is what the file rules do; seeding there would fight them.

use super::{AuthMode, Seed};

pub const ONBOARDED: &str = r#"{"hasCompletedOnboarding":true}"#;

pub fn seeds(mode: AuthMode) -> Vec<Seed> {
    match mode {
        AuthMode::OauthToken => vec![Seed {
            path: ".claude.json",
            content: ONBOARDED.as_bytes().to_vec(),
        }],
        AuthMode::Sync | AuthMode::ApiKey | AuthMode::Ignore => Vec::new(),
    }
}
