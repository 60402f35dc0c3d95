//! Stable error codes, hints and exit codes: the one place errors are rendered.
//!
//! Every module boundary returns a typed `thiserror` error that implements [`Coded`]; the
//! binary renders it as `error[E0NN]: headline`, detail lines, then `  → what to try: …`.
//! Codes never change meaning once released; the README lists them.

use std::fmt::Write as _;

/// Exit codes (SPEC §6).
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    /// `plan --detailed-exitcode`: the plan has changes.
    pub const CHANGES: i32 = 2;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// State file not found or unreadable.
    E001,
    /// TOML/YAML syntax error.
    E002,
    /// Unknown key, wrong type or bad enum value.
    E003,
    /// Semantically invalid state (names, references, mounts, reserved env, version…).
    E004,
    /// A key defined in two files of a `-f DIR` set.
    E005,
    /// A state file exceeds an input limit (size, nesting, YAML alias expansion) or is not a
    /// regular file (FIFO, socket, device, directory).
    E006,
    /// `jackin init` found a state file in the folder already: nothing written.
    E007,
    /// A file the operator asked for (`init`'s state file, `man`'s pages) cannot be written.
    E008,
    /// A credential env var (api_key / oauth_token) resolves to empty or unset.
    E010,
    /// An env `{ file = … }` could not be read, or holds a NUL byte.
    E011,
    /// A host source folder is unusable (unreadable, wrong structure).
    E012,
    /// A symlink where jackin writes (handoff path) — refused.
    E013,
    /// Docker engine unreachable.
    E020,
    /// Docker API call failed.
    E021,
    /// A container with an instance's name exists and is not ours.
    E022,
    /// Image absent and could not be pulled.
    E023,
    /// Image build failed.
    E024,
    /// v2: `DOCKER_HOST` named an engine not on this machine. Retired in v3 (SPEC §6): such an
    /// engine is simply the host `local`; kept so the code is never given another meaning.
    E025,
    /// Issue 18's interim refusal of a forwarded login on an engine not on this machine, before
    /// the handoff went over the engine API. Retired with it; kept so the code is never given
    /// another meaning.
    E026,
    /// Another apply holds the project lock.
    E030,
    /// Plan would remove every container of the project (needs `--allow-empty`).
    E031,
    /// An instance named on the command line (`--replace`) is not declared.
    E032,
    /// `destroy` was not confirmed (declined, or no terminal to ask on and no `--yes`).
    E033,
    /// Handoff/ledger storage I/O failed.
    E040,
    /// Some instances failed to converge.
    E041,
    /// A handoff entry jackin will not use (link, FIFO, socket, device, directory, oversized
    /// file) or that the container changed while jackin was working on it.
    E042,
    /// The container's user cannot own its handoff: it cannot be resolved, or jackin runs as
    /// a regular user whose uid differs from the container's (only root can give files away).
    E046,
    /// jackin's own state is not private: `$JACKIN_HOME`, `data/` or `locks/` owned by
    /// another user or writable by group or others, or a symlink where jackin keeps its own
    /// directories or lock files.
    E044,
    /// The fingerprint key is not exactly 32 bytes, not a regular file (a symlink, …), not
    /// owned by the user running jackin, or not mode 0600.
    E045,
    /// The agent exited right after its start (within `observed::AT_ONCE`): the instance
    /// fails with its exit code and last lines, and is not started again until it changes.
    E047,
    /// The launched client would reject the instance's settings (a `model` its synced
    /// config.toml does not define: the kimi clients then start with no model at all).
    E050,
    /// `exec`/`logs`/`attach`: no instance of the state file matches `WS[/ROLE]`.
    E060,
    /// `exec`/`logs`/`attach`: `WS` alone names a workspace with several instances.
    E061,
    /// `exec`/`logs`/`attach`: the instance has no container (not applied yet, or removed).
    E062,
    /// `exec`/`attach`: the instance's container exists but is not running.
    E063,
    /// `attach`: jackin's stdin is not a terminal.
    E064,
    /// `login`: the agent named is not one the instance's role provisions.
    E065,
    /// `login`: the agent's auth mode in that instance is not `ignore`, so jackin would
    /// replace or purge a login of its own.
    E066,
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Codes travel in JSON as their stable text (`"E042"`).
impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for Code {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Code".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^E[0-9]{3}$",
            "description": "A stable error code (the README lists them)."
        })
    }
}

/// A typed error that knows its stable code and how the operator can fix it.
pub trait Coded: std::error::Error {
    fn code(&self) -> Code;
    fn hint(&self) -> Option<String> {
        None
    }
}

/// `error[E0NN]:`, the head every coded error is shown with (stderr, plan, status, doctor,
/// watch): one owner for the layout operators grep for.
pub fn head(code: Code) -> String {
    format!("error[{code}]:")
}

/// `→ what to try: …`, the line that follows a coded error (indented by the caller).
pub fn what_to_try(hint: &str) -> String {
    format!("→ what to try: {hint}")
}

/// Render `error[E0NN]: headline`, indented detail lines, and the hint.
pub fn render(err: &dyn Coded) -> String {
    let text = err.to_string();
    let mut lines = text.lines();
    let mut out = format!(
        "{} {}\n",
        head(err.code()),
        lines.next().unwrap_or_default()
    );
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(hint) = err.hint() {
        let _ = writeln!(out, "  {}", what_to_try(&hint));
    }
    out
}

/// Any coded error, carried to the edge of the program where it is rendered.
pub struct Error(Box<dyn Coded + Send + Sync>);

impl<E: Coded + Send + Sync + 'static> From<E> for Error {
    fn from(e: E) -> Self {
        Error(Box::new(e))
    }
}

impl Error {
    pub fn code(&self) -> Code {
        self.0.code()
    }
    pub fn render(&self) -> String {
        render(&*self.0)
    }
    /// The headline and detail lines, without code or hint (for structured output).
    pub fn message(&self) -> String {
        self.0.to_string()
    }
    pub fn hint(&self) -> Option<String> {
        self.0.hint()
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}
