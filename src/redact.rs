//! One redactor for text jackin did not write: what the Docker engine sends back.
//!
//! The engine echoes what it was given when it refuses it (an env value with a NUL byte, say,
//! comes back verbatim in the error), and jackin cannot know which operator env values are
//! secret (SPEC §1). So every env value of the desired state is removed from engine text
//! before it is printed or put in JSON. Credential *files* never reach the engine (they are
//! bind-mounted, not sent), so env values are everything the engine could repeat.

use std::fmt;

/// What replaces a secret in engine text.
pub const MASK: &str = "[redacted]";

#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a value that contains another is removed whole.
    secrets: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} value(s))", self.secrets.len())
    }
}

impl Redactor {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every known value replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_removed_longest_first() {
        let r = Redactor::new(["sk-abc".into(), "sk-abc-def".into(), String::new()]);
        assert_eq!(
            r.redact("invalid env: KEY=sk-abc-def\u{0}x and sk-abc"),
            "invalid env: KEY=[redacted]\u{0}x and [redacted]"
        );
        assert_eq!(r.redact("nothing secret"), "nothing secret");
    }
}
