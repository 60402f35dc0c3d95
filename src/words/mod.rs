//! The shared words of jackin's file rules, used by the host reader, the handoff, the ledger,
//! the plan and the reports alike: a path inside a handoff ([`RelPath`], bytes shown escaped),
//! what sits at a name ([`Kind`]), whom a file belongs to ([`Owner`]) and which labels make an
//! object jackin's ([`labels`]). A leaf: it names no
//! other module of jackin but `paths` (the user jackin runs as), so every layer can use it
//! without the layers depending on each other.

mod file;
pub mod labels;
mod rel_path;

pub use file::{Kind, Owner};
pub use rel_path::{RelPath, RelPathError};
