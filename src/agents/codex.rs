//! Codex: what jackin does for it beyond its catalogue row.
//!
//! Codex asks whether to trust a folder the first time it runs there, and waits. Trust is
//! `trust_level = "trusted"` under `[projects."<path>"]` in `$CODEX_HOME/config.toml` (codex
//! config reference; openai/codex PR #4941 `edit.rs`: "Set trust_level under
//! `[projects."<path>"]`"). jackin seeds that file with the instance's workdir, once: the
//! config belongs to the container afterwards. (Upstream jackin passes an equivalent `-c`
//! override instead; SPEC v2 §3 asks for the seed, which also covers a `codex` started by
//! hand inside the container.)

use super::{AuthMode, Seed};
use std::fmt::Write as _;

/// What `codex login --with-api-key` writes to `$CODEX_HOME/auth.json` (openai/codex
/// `codex-rs/login/src/auth/manager.rs` `login_with_api_key`: an `AuthDotJson` with
/// `auth_mode: ApiKey` and `OPENAI_API_KEY`, nothing else). Codex 0.163 reads its key from
/// there only: with `OPENAI_API_KEY` alone in the environment the TUI shows its login screen
/// (SPEC v3 §3a). api_key mode only; the key is the env value the instance gets.
pub fn api_key_login(mode: AuthMode, key: Option<&str>) -> Option<Vec<u8>> {
    let key = key.filter(|_| mode == AuthMode::ApiKey)?;
    let doc = serde_json::json!({ "auth_mode": "apikey", "OPENAI_API_KEY": key });
    let mut bytes = serde_json::to_vec_pretty(&doc).ok()?;
    bytes.push(b'\n');
    Some(bytes)
}

pub fn seeds(workdir: Option<&str>) -> Vec<Seed> {
    let Some(workdir) = workdir else {
        return Vec::new();
    };
    vec![Seed {
        path: "config.toml",
        content: format!(
            "[projects.{}]\ntrust_level = \"trusted\"\n",
            toml_basic_string(workdir)
        )
        .into_bytes(),
    }]
}

/// `s` as a TOML basic string (a quoted key): `"` and `\` escaped, control characters as
/// `\uXXXX`, everything else as is.
fn toml_basic_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(workdir: &str) -> String {
        String::from_utf8(seeds(Some(workdir)).remove(0).content).unwrap()
    }

    #[test]
    fn api_key_mode_writes_the_login_codex_login_with_api_key_writes() {
        let bytes = api_key_login(AuthMode::ApiKey, Some("sk-1")).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-1"})
        );
        assert!(api_key_login(AuthMode::Sync, Some("sk-1")).is_none());
        assert!(api_key_login(AuthMode::ApiKey, None).is_none());
    }

    #[test]
    fn the_workdir_is_trusted_in_config_toml() {
        assert_eq!(
            text("/workspace/my-app"),
            "[projects.\"/workspace/my-app\"]\ntrust_level = \"trusted\"\n"
        );
        assert!(seeds(None).is_empty());
    }

    #[test]
    fn an_odd_workdir_stays_one_valid_toml_key() {
        let odd = "/w/a \"q\" \\b\tc\u{7f}é";
        let doc: toml::Table = toml::from_str(&text(odd)).unwrap();
        assert_eq!(
            doc["projects"][odd]["trust_level"].as_str(),
            Some("trusted"),
            "{doc:?}"
        );
    }
}
