//! The desired-state file (SPEC §2): finding and loading TOML/YAML (one file or a `-f DIR`
//! set), strict type-checking and semantic validation with `file:line:col`. Its JSON Schema is
//! generated from `model` in `crate::schema`. Nothing here reads host env, host files beyond
//! the state files, or Docker.

mod depth;
mod diagnose;
mod error;
mod limits;
mod load;
mod locate;
pub mod model;
mod read_toml;
mod read_yaml;
mod typecheck;
pub mod user;
mod validate;

#[cfg(test)]
mod tests;

pub use error::{Kind, Location, ManifestError, Place, Problem};
pub use load::{load, present_state_files, Loaded, DEFAULT_NAMES};
pub use model::Manifest;
pub use validate::validate;
