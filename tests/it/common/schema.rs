//! Real JSON output checked against the checked-in `schemas/*.schema.json` (not against a
//! freshly generated schema: the files are what other programs use, and the library's
//! `checked_in_schemas_are_current` test keeps them equal to the generated ones).

use jackin::schema::Document;
use jsonschema::Validator;
use std::path::Path;
use std::sync::OnceLock;

fn validator(doc: Document) -> &'static Validator {
    static VALIDATORS: OnceLock<Vec<(Document, Validator)>> = OnceLock::new();
    let all = VALIDATORS.get_or_init(|| {
        Document::ALL
            .into_iter()
            .map(|doc| {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("schemas")
                    .join(doc.file_name());
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let schema: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let v = jsonschema::validator_for(&schema)
                    .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", path.display()));
                (doc, v)
            })
            .collect()
    });
    &all.iter()
        .find(|(d, _)| *d == doc)
        .expect("every document")
        .1
}

/// Every way `json` breaks the checked-in schema of `doc`, as `/json/pointer: message`.
pub fn schema_errors(doc: Document, json: &serde_json::Value) -> Vec<String> {
    validator(doc)
        .iter_errors(json)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Panics with every violation when `json` does not match the checked-in schema of `doc`.
#[track_caller]
pub fn assert_matches_schema(doc: Document, json: &serde_json::Value) {
    let errors = schema_errors(doc, json);
    assert!(
        errors.is_empty(),
        "output does not match schemas/{}:\n{}\n--- output ---\n{json:#}",
        doc.file_name(),
        errors.join("\n")
    );
}

/// Every line of an NDJSON stream (`apply`/`watch --output json`) against the events schema.
#[track_caller]
pub fn assert_events_match_schema(ndjson: &str) {
    for line in ndjson.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_matches_schema(Document::Events, &event);
    }
}
