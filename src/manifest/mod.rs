//! The desired-state file (SPEC §2): finding and loading TOML/YAML (one file or a `-f DIR`
//! set), strict type-checking and semantic validation with `file:line:col`, and the JSON
//! Schema. Nothing here reads host env, host files beyond the state files, or Docker.

mod diagnose;
mod error;
mod load;
mod locate;
pub mod model;
mod schema;
mod validate;

#[cfg(test)]
mod tests;

pub use error::{Kind, Location, ManifestError, Place, Problem};
pub use load::{load, Loaded, DEFAULT_NAMES};
pub use model::Manifest;
pub use schema::schema_json;
pub use validate::validate;
