//! What a login file says about its grant, read from its JSON without keeping any value:
//! whether it carries a refresh token (SPEC v3 §3b: the providers accept each refresh token
//! once, so one such login held by several holders logs all but the first refresher out),
//! and whether the agent blanked it (the logged-out stub a client writes after a failed
//! refresh: no token left).
//!
//! The key names are the ones the clients write: claude `.credentials.json`
//! `claudeAiOauth.{accessToken,refreshToken}`; codex `auth.json`
//! `tokens.{access_token,refresh_token,id_token}` and `OPENAI_API_KEY`; kimi
//! `credentials/*.json` `{access_token,refresh_token}`.

use serde_json::Value;

const REFRESH: [&str; 2] = ["refresh_token", "refreshToken"];
const ANY_TOKEN: [&str; 7] = [
    "refresh_token",
    "refreshToken",
    "access_token",
    "accessToken",
    "id_token",
    "OPENAI_API_KEY",
    "api_key",
];

/// Whether `doc` holds a non-empty string under one of `keys`, at any depth.
fn holds(doc: &Value, keys: &[&str]) -> bool {
    match doc {
        Value::Object(m) => m.iter().any(|(k, v)| {
            (keys.contains(&k.as_str()) && v.as_str().is_some_and(|s| !s.is_empty()))
                || holds(v, keys)
        }),
        Value::Array(items) => items.iter().any(|v| holds(v, keys)),
        _ => false,
    }
}

/// A login that can refresh itself (and so spends its grant when it does).
pub fn refreshable(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes).is_ok_and(|d| holds(&d, &REFRESH))
}

/// A login file the agent emptied of every token: a JSON document with no token left.
/// Anything that is not JSON is not judged.
pub fn blanked(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes).is_ok_and(|d| !holds(&d, &ANY_TOKEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_logins_are_told_apart_by_their_tokens() {
        let claude = br#"{"claudeAiOauth":{"accessToken":"a","refreshToken":"r","expiresAt":1}}"#;
        let chatgpt = br#"{"auth_mode":"chatgpt","tokens":{"id_token":"i","access_token":"a","refresh_token":"r"}}"#;
        let api_key = br#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk"}"#;
        assert!(refreshable(claude) && refreshable(chatgpt));
        assert!(!refreshable(api_key));
        for login in [&claude[..], chatgpt, api_key] {
            assert!(!blanked(login));
        }
        for stub in [
            &br#"{}"#[..],
            br#"{"claudeAiOauth":null}"#,
            br#"{"auth_mode":"chatgpt","tokens":{"access_token":"","refresh_token":""}}"#,
            br#"{"access_token":"","refresh_token":"","expires_at":0}"#,
        ] {
            assert!(blanked(stub), "{}", String::from_utf8_lossy(stub));
        }
        assert!(!blanked(b"not json") && !refreshable(b"not json"));
    }
}
