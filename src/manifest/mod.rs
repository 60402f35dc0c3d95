//! The desired-state file: loading TOML/YAML (one file or a directory), strict validation
//! with `file:line:col`, and the JSON Schema.

pub mod model;
