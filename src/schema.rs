//! The JSON Schemas jackin publishes, generated from the serde types so they cannot drift from
//! what jackin accepts or prints. `schemas/` holds the checked-in copies (editors and other
//! programs use them); a test fails when one is stale.

use crate::manifest::Manifest;
use crate::plan::Plan;
use crate::report::{Event, Status};
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};

/// A document jackin reads or prints, with a published schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Document {
    /// The desired-state file jackin reads.
    State,
    /// The document `plan --output json` prints.
    Plan,
    /// The document `status --output json` prints.
    Status,
    /// One line of the NDJSON that `apply`/`watch --output json` print.
    Events,
}

impl Document {
    pub const ALL: [Document; 4] = [
        Document::State,
        Document::Plan,
        Document::Status,
        Document::Events,
    ];

    /// Its checked-in copy, under `schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Document::State => "jackin.schema.json",
            Document::Plan => "plan.schema.json",
            Document::Status => "status.schema.json",
            Document::Events => "events.schema.json",
        }
    }

    /// Pretty JSON Schema, ending with a newline.
    pub fn schema_json(self) -> String {
        let schema = match self {
            Document::State => schemars::schema_for!(Manifest),
            Document::Plan => output_schema::<Plan>(),
            Document::Status => output_schema::<Status>(),
            Document::Events => output_schema::<Event>(),
        };
        pretty(&schema)
    }
}

/// The schema of a document jackin prints, i.e. of what `Serialize` emits: a field is required
/// unless serde may skip it (an `Option` is always there, as `null` when empty), and objects are
/// closed (`additionalProperties: false`). Closed, because the schema is regenerated from the
/// same types as the output, so it describes exactly what this jackin emits, and a test that
/// validates real output then also catches a field the schema does not describe. Not serde's
/// `deny_unknown_fields` (it changes deserialisation, and these types are never deserialised)
/// nor `#[schemars(deny_unknown_fields)]` on each type: one transform closes every object,
/// those of types added later too. (Within a
/// `format_version` fields are only ever added: consumers should parse leniently and validate
/// against the schema of the jackin that produced the output.)
fn output_schema<T: JsonSchema>() -> Schema {
    let mut schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .with_transform(RecursiveTransform(close_objects))
        .into_generator()
        .into_root_schema_for::<T>();
    open_flattened_targets(&mut schema);
    schema
}

/// Closes every object. One exception: an object that also has a `$ref` is serde's internally
/// tagged newtype variant (the `plan` event: the plan's fields plus `"type"`).
/// `additionalProperties` cannot see the fields that come through the `$ref`, so such an object
/// is closed with `unevaluatedProperties`, which can (see [`open_flattened_targets`]).
fn close_objects(schema: &mut Schema) {
    if let Some(object) = schema.as_object_mut() {
        if object.contains_key("properties") {
            let key = if object.contains_key("$ref") {
                "unevaluatedProperties"
            } else {
                "additionalProperties"
            };
            object.entry(key).or_insert(false.into());
        }
    }
}

/// The definitions such a variant refers to must not be closed themselves (they would reject the
/// tag); the variant closes them from outside.
fn open_flattened_targets(schema: &mut Schema) {
    let Some(root) = schema.as_object_mut() else {
        return;
    };
    let targets: Vec<String> = root
        .get("oneOf")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter(|v| v.get("unevaluatedProperties").is_some())
        .filter_map(|v| v.get("$ref")?.as_str()?.strip_prefix("#/$defs/"))
        .map(str::to_owned)
        .collect();
    for name in targets {
        if let Some(def) = root
            .get_mut("$defs")
            .and_then(|d| d.get_mut(&name))
            .and_then(|d| d.as_object_mut())
        {
            def.remove("additionalProperties");
        }
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
