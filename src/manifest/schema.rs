//! The JSON Schema of the state file, generated from the serde types so it cannot drift from
//! what the loader accepts. `schemas/jackin.schema.json` is the checked-in copy editors use;
//! a test fails when it is stale.

use super::model::Manifest;

/// Pretty JSON Schema of [`Manifest`], ending with a newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Manifest);
    let mut out = serde_json::to_string_pretty(&schema).expect("a schema always serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regenerate with `UPDATE_SCHEMA=1 cargo test --lib schema` (or, once the CLI exists,
    /// `cargo run -- schema > schemas/jackin.schema.json`).
    #[test]
    fn checked_in_schema_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/jackin.schema.json");
        let fresh = schema_json();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &fresh).expect("write schema");
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == fresh,
            "schemas/jackin.schema.json is stale; regenerate it with \
             `UPDATE_SCHEMA=1 cargo test --lib schema` or `cargo run -- schema > schemas/jackin.schema.json`"
        );
    }

    #[test]
    fn schema_lists_the_auth_modes_and_agents() {
        let s = schema_json();
        for word in ["oauth_token", "api_key", "opencode", "on-handoff-change"] {
            assert!(s.contains(word), "{word}");
        }
        assert!(s.ends_with("}\n"));
    }
}
