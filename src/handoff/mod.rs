//! The hostile boundary (SPEC §4a): everything jackin does inside a handoff directory.
//!
//! The agent in a container runs with auto-approve, so whatever it executes may be steered by
//! a prompt injection, and it owns the directory jackin bind-mounts at its data folder. This
//! folder is the one place that touches those directories, and it is written to be audited
//! in one sitting:
//! - [`dir`]: the directory-handle type; every call is one `*at` syscall on one name, nothing
//!   follows a link, nothing takes a path string.
//! - [`store`]: probe (look at one path the rules name), write (atomic replace), purge (remove
//!   one entry), the ledger, and the instance folder.
//! - [`purge`]: removing a whole instance folder with bounded handles, however deep.
//! - file names as bytes, shown escaped, are [`crate::words::RelPath`].
//!
//! Nothing else in `src/` opens a path under `$JACKIN_HOME/data`.

mod dir;
mod purge;
mod store;

pub use crate::words::{Kind, Owner, RelPath, RelPathError};
pub use store::{
    AgentHandoff, Foreign, HandoffError, InstanceReader, Reader, Seen, Store, HOSTILE_HINT,
};
