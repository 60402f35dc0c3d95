//! One env value of the state file → its value (SPEC §2).
//!
//! `"$NAME"` / `"${NAME}"` (the whole value) reads jackin's own environment; anything else is a
//! literal in which `$$` stands for `$`; `{ file = "…" }` reads a file and trims one trailing
//! newline. The source is kept apart from the value so errors can say *where* a value was
//! looked for without ever saying what it was.

use crate::manifest::model::EnvValue;
use crate::paths;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a value comes from: safe to print (never the value itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSource {
    Literal,
    Var(String),
    File(PathBuf),
}

impl fmt::Display for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvSource::Literal => f.write_str("a literal value"),
            EnvSource::Var(name) => write!(f, "${{{name}}} from jackin's environment"),
            EnvSource::File(p) => write!(f, "file {}", p.display()),
        }
    }
}

/// `Ok(None)`: a `$NAME` reference that is unset in jackin's environment.
pub fn resolve_env_value(
    value: &EnvValue,
    base: &Path,
    home: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (EnvSource, std::io::Result<Option<String>>) {
    match value {
        EnvValue::File(f) => {
            let path = paths::expand(&f.file, base, home);
            // An operator file, read like a host login: never blocking on a FIFO, never
            // more than 16 MiB.
            let read = crate::bounded::open_host_following(&path)
                .and_then(|mut f| crate::bounded::read(&mut f))
                .and_then(|(bytes, _)| {
                    String::from_utf8(bytes).map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")
                    })
                })
                .map(|mut s| {
                    if s.ends_with('\n') {
                        s.pop();
                        if s.ends_with('\r') {
                            s.pop();
                        }
                    }
                    Some(s)
                });
            (EnvSource::File(path), read)
        }
        EnvValue::Value(s) => match reference(s) {
            Some(name) => (EnvSource::Var(name.to_owned()), Ok(lookup(name))),
            None => (EnvSource::Literal, Ok(Some(s.replace("$$", "$")))),
        },
    }
}

/// The variable name when the whole value is `$NAME` or `${NAME}`.
fn reference(s: &str) -> Option<&str> {
    let name = s
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .or_else(|| s.strip_prefix('$'))?;
    let mut chars = name.chars();
    let first = chars.next()?;
    let valid = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::model::EnvFile;

    fn lit(s: &str) -> EnvValue {
        EnvValue::Value(s.to_owned())
    }

    fn resolve(v: &EnvValue) -> (EnvSource, Option<String>) {
        let lookup = |n: &str| (n == "SET").then(|| "from-env".to_owned());
        let (src, r) = resolve_env_value(v, Path::new("/"), Path::new("/"), &lookup);
        (src, r.unwrap())
    }

    #[test]
    fn whole_value_references_read_the_environment() {
        assert_eq!(resolve(&lit("$SET")).1.as_deref(), Some("from-env"));
        assert_eq!(resolve(&lit("${SET}")).1.as_deref(), Some("from-env"));
        assert_eq!(
            resolve(&lit("${UNSET}")),
            (EnvSource::Var("UNSET".into()), None)
        );
    }

    #[test]
    fn everything_else_is_a_literal_with_double_dollar_escape() {
        assert_eq!(resolve(&lit("json")).1.as_deref(), Some("json"));
        assert_eq!(resolve(&lit("$$SET")).1.as_deref(), Some("$SET"));
        assert_eq!(resolve(&lit("a-$SET")).1.as_deref(), Some("a-$SET"));
        assert_eq!(resolve(&lit("${bad-name}")).0, EnvSource::Literal);
    }

    #[test]
    fn file_values_trim_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "key-value\n\n").unwrap();
        let v = EnvValue::File(EnvFile { file: "k".into() });
        let (_, r) = resolve_env_value(&v, dir.path(), dir.path(), &|_| None);
        assert_eq!(r.unwrap().as_deref(), Some("key-value\n"));
    }
}
