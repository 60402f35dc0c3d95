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

/// Text that came from a container (its output lines, names it made), made safe to print:
/// every control character — ESC of an escape sequence, BEL, CR, the C1 controls — is shown
/// escaped (`\x1b`, `\u{9b}`), never sent to the operator's terminal, where it could retitle,
/// recolour or write to the clipboard (SPEC v3 §4a). `logs` and `attach` pass the agent's
/// terminal through on purpose and do not use this.
pub fn shown(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod shown_tests {
    use super::shown;

    #[test]
    fn control_characters_from_a_container_are_shown_not_sent() {
        assert_eq!(
            shown("\u{1b}]0;pwned\u{7}ok é\u{9b}31m\\"),
            "\\x1b]0;pwned\\x07ok é\\u{9b}31m\\\\"
        );
        assert_eq!(shown("plain text"), "plain text");
    }
}
