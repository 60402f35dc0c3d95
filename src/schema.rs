//! The JSON Schemas jackin publishes, generated from the serde types so they cannot drift from
//! what jackin accepts or prints. `schemas/` holds the checked-in copies (editors and other
//! programs use them); a test fails when one is stale.

use crate::manifest::Manifest;
use schemars::Schema;

/// A document jackin reads or prints, with a published schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// The desired-state file jackin reads.
    State,
}

impl Document {
    pub const ALL: [Document; 1] = [Document::State];

    /// Its checked-in copy, under `schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Document::State => "jackin.schema.json",
        }
    }

    /// Pretty JSON Schema, ending with a newline.
    pub fn schema_json(self) -> String {
        let schema = match self {
            Document::State => schemars::schema_for!(Manifest),
        };
        pretty(&schema)
    }
}

fn pretty(schema: &Schema) -> String {
    let mut out = serde_json::to_string_pretty(schema).expect("a schema always serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regenerate with `UPDATE_SCHEMA=1 cargo test --lib schema` (or
    /// `cargo run -- schema > schemas/jackin.schema.json`, one document at a time).
    #[test]
    fn checked_in_schemas_are_current() {
        let update = std::env::var_os("UPDATE_SCHEMA").is_some();
        let mut stale = Vec::new();
        for doc in Document::ALL {
            let path = format!("{}/schemas/{}", env!("CARGO_MANIFEST_DIR"), doc.file_name());
            let fresh = doc.schema_json();
            if update {
                std::fs::write(&path, &fresh).expect("write schema");
            }
            if std::fs::read_to_string(&path).unwrap_or_default() != fresh {
                stale.push(doc.file_name());
            }
        }
        assert!(
            stale.is_empty(),
            "stale in schemas/: {stale:?}; regenerate with `UPDATE_SCHEMA=1 cargo test --lib schema`"
        );
    }

    #[test]
    fn state_schema_lists_the_auth_modes_and_agents() {
        let s = Document::State.schema_json();
        for word in ["oauth_token", "api_key", "opencode", "on-handoff-change"] {
            assert!(s.contains(word), "{word}");
        }
        assert!(s.ends_with("}\n"));
    }
}
