//! [`RelPath`]: a path inside a handoff directory, as the bytes the filesystem holds.
//!
//! File names are bytes on Linux. A lossy conversion (`to_string_lossy`) turns two different
//! names into one and makes jackin act on a name that does not exist, so names stay bytes end
//! to end and are only *shown* escaped: valid UTF-8 prints as itself, every other byte and
//! every control character as `\xNN`, and a backslash as `\\`. The escape is also the JSON and
//! ledger form, and it is reversible ([`RelPath::parse`]), so nothing is lost anywhere.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A relative path of one or more components, each a non-empty name that is not `.` or `..`
/// and holds neither `/` nor NUL. Ordered by bytes, so plans sort the same everywhere.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(Vec<u8>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RelPathError {
    #[error("empty path or path component")]
    Empty,
    #[error("`.` and `..` are not allowed in a handoff path")]
    Dots,
    #[error("NUL byte in a path")]
    Nul,
    #[error("bad escape in a path (only \\\\ and \\xNN are allowed)")]
    Escape,
}

impl RelPath {
    /// A path from raw bytes, components separated by `/`.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, RelPathError> {
        let bytes = bytes.into();
        if bytes.contains(&0) {
            return Err(RelPathError::Nul);
        }
        for c in bytes.split(|b| *b == b'/') {
            match c {
                b"" => return Err(RelPathError::Empty),
                b"." | b".." => return Err(RelPathError::Dots),
                _ => {}
            }
        }
        Ok(RelPath(bytes))
    }

    /// A catalogue name (`config.toml`, `credentials`): always valid, so a bad one is a bug.
    pub fn catalogue(name: &'static str) -> Self {
        RelPath::from_bytes(name).expect("catalogue names are valid relative paths")
    }

    /// The inverse of [`fmt::Display`]: `\\` is a backslash, `\xNN` a byte.
    pub fn parse(shown: &str) -> Result<Self, RelPathError> {
        let mut out = Vec::with_capacity(shown.len());
        let mut bytes = shown.bytes();
        while let Some(b) = bytes.next() {
            if b != b'\\' {
                out.push(b);
                continue;
            }
            match bytes.next() {
                Some(b'\\') => out.push(b'\\'),
                Some(b'x') => {
                    let hi = bytes.next().ok_or(RelPathError::Escape)?;
                    let lo = bytes.next().ok_or(RelPathError::Escape)?;
                    let hex = [hi, lo];
                    let hex = std::str::from_utf8(&hex).map_err(|_| RelPathError::Escape)?;
                    out.push(u8::from_str_radix(hex, 16).map_err(|_| RelPathError::Escape)?);
                }
                _ => return Err(RelPathError::Escape),
            }
        }
        RelPath::from_bytes(out)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The directory components and the final name.
    pub fn split_last(&self) -> (impl Iterator<Item = &[u8]>, &[u8]) {
        let (dirs, name) = match self.0.iter().rposition(|b| *b == b'/') {
            Some(i) => (&self.0[..i], &self.0[i + 1..]),
            None => (&self.0[..0], &self.0[..]),
        };
        (dirs.split(|b| *b == b'/').filter(|c| !c.is_empty()), name)
    }

    /// `self/name`, where `name` is one component (a directory entry's name).
    pub fn join(&self, name: &[u8]) -> Result<Self, RelPathError> {
        let mut bytes = self.0.clone();
        bytes.push(b'/');
        bytes.extend_from_slice(name);
        RelPath::from_bytes(bytes)
    }

    /// Whether this path is `dir` itself or lies below it.
    pub fn is_at_or_below(&self, dir: &RelPath) -> bool {
        self.0 == dir.0 || (self.0.starts_with(&dir.0) && self.0.get(dir.0.len()) == Some(&b'/'))
    }
}

/// Escaped display: valid UTF-8 as itself, other bytes and control characters as `\xNN`.
impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    c if c.is_control() => {
                        let mut buf = [0u8; 4];
                        for b in c.encode_utf8(&mut buf).bytes() {
                            write!(f, "\\x{b:02x}")?;
                        }
                    }
                    c => write!(f, "{c}")?,
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl Serialize for RelPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RelPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RelPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for RelPath {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RelPath".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A path relative to the agent's handoff directory. File names are bytes: valid UTF-8 appears as itself, other bytes and control characters as \\xNN, a backslash as \\\\."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_utf8_round_trip_through_their_escape() {
        let p = RelPath::from_bytes(b"credentials/caf\xe9\\\n.json".to_vec()).unwrap();
        let shown = p.to_string();
        assert_eq!(shown, "credentials/caf\\xe9\\\\\\x0a.json");
        assert_eq!(RelPath::parse(&shown).unwrap(), p);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<RelPath>(&json).unwrap(), p);
        assert_eq!(
            RelPath::parse("config.toml").unwrap().to_string(),
            "config.toml"
        );
    }

    #[test]
    fn two_names_one_lossy_conversion_apart_stay_distinct() {
        let a = RelPath::from_bytes(b"a\xff".to_vec()).unwrap();
        let b = RelPath::from_bytes(b"a\xfe".to_vec()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(a.as_bytes()),
            String::from_utf8_lossy(b.as_bytes())
        );
        assert_ne!(a.to_string(), b.to_string());
    }

    #[test]
    fn escaping_components_and_nul_are_refused() {
        for bad in ["", "/a", "a//b", "a/", ".", "a/../b", "a/./b"] {
            assert!(RelPath::from_bytes(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            RelPath::from_bytes(b"a\0b".to_vec()),
            Err(RelPathError::Nul)
        );
        assert_eq!(RelPath::parse("a\\x00b"), Err(RelPathError::Nul));
        assert_eq!(RelPath::parse("a\\q"), Err(RelPathError::Escape));
    }

    #[test]
    fn split_last_and_below() {
        let p = RelPath::catalogue("credentials/sub/a.json");
        let (dirs, name) = p.split_last();
        assert_eq!(dirs.collect::<Vec<_>>(), [b"credentials".as_ref(), b"sub"]);
        assert_eq!(name, b"a.json");
        let top = RelPath::catalogue("config.toml");
        let (dirs, name) = top.split_last();
        assert_eq!(dirs.count(), 0);
        assert_eq!(name, b"config.toml");
        let creds = RelPath::catalogue("credentials");
        assert!(p.is_at_or_below(&creds));
        assert!(!RelPath::catalogue("credentials2/x").is_at_or_below(&creds));
    }
}
