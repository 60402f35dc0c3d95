//! The desired-state file: loading TOML/YAML (one file or a directory), strict validation
//! with `file:line:col`, and the JSON Schema.

mod error;
mod locate;
pub mod model;

pub use error::{Kind, Location, ManifestError, Place, Problem};
