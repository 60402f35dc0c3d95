//! The manifest layer's one error type: every problem found while loading or validating the
//! desired-state file, each with the position the operator must edit.
//!
//! One error carries many problems because validation collects them all: fixing a GitOps repo
//! one CI round-trip per typo is miserable. Messages are lowercase fragments and never contain
//! env values (jackin cannot know which are secrets); the rewriting of serde's own messages
//! that guarantees this lives in `diagnose.rs`.

use crate::error::{Code, Coded};
use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based position in one state file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// Where a problem is: a position when we have one, else just the file, else nowhere
/// (e.g. "no state file in this folder").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    At(Location),
    File(PathBuf),
    Nowhere,
}

/// One thing wrong, with an optional fix specific to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub place: Place,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(place: Place, message: impl Into<String>) -> Self {
        Problem {
            place,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Place::At(loc) => write!(f, "{loc}: {}", self.message),
            Place::File(file) => write!(f, "{}: {}", file.display(), self.message),
            Place::Nowhere => f.write_str(&self.message),
        }
    }
}

/// Which stable code (and generic fix) a manifest error maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// E001: no state file, several candidates, or unreadable.
    NotFound,
    /// E002: TOML/YAML syntax.
    Syntax,
    /// E003: unknown key, wrong type, bad enum value.
    Schema,
    /// E004: semantic rules of SPEC §2.
    Invalid,
    /// E005: a key defined in two files of a `-f DIR` set.
    Conflict,
    /// E006: a state file that is not a regular file, or exceeds an input limit.
    Limit,
}

/// All problems of one load or validation. Display: a headline, then one problem per line
/// when there are several (a single problem is its own headline).
#[derive(Debug, Clone, thiserror::Error)]
pub struct ManifestError {
    pub kind: Kind,
    pub problems: Vec<Problem>,
}

impl ManifestError {
    pub fn new(kind: Kind, problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        ManifestError { kind, problems }
    }

    pub fn one(kind: Kind, problem: Problem) -> Self {
        Self::new(kind, vec![problem])
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.problems.as_slice() {
            return write!(f, "{only}");
        }
        let what = match self.kind {
            Kind::NotFound => "problems finding the desired-state file",
            Kind::Syntax => "syntax errors in the desired-state file",
            Kind::Schema => "unknown keys or wrong types in the desired-state file",
            Kind::Invalid => "problems in the desired-state file",
            Kind::Conflict => "keys defined in more than one file",
            Kind::Limit => "state files that are not regular files or exceed an input limit",
        };
        write!(f, "{} {what}", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n{p}")?;
        }
        Ok(())
    }
}

impl Coded for ManifestError {
    fn code(&self) -> Code {
        match self.kind {
            Kind::NotFound => Code::E001,
            Kind::Syntax => Code::E002,
            Kind::Schema => Code::E003,
            Kind::Invalid => Code::E004,
            Kind::Conflict => Code::E005,
            Kind::Limit => Code::E006,
        }
    }

    /// The problem's own fix when there is exactly one distinct one, else the generic fix.
    fn hint(&self) -> Option<String> {
        let mut specific = self.problems.iter().filter_map(|p| p.hint.as_deref());
        if let Some(first) = specific.next() {
            if specific.all(|h| h == first) && self.problems.iter().all(|p| p.hint.is_some()) {
                return Some(first.to_owned());
            }
        }
        Some(
            match self.kind {
                Kind::NotFound => {
                    "create jackin.toml (or jackin.yaml) in this folder, or pass `-f PATH`"
                }
                Kind::Syntax => "fix the syntax at the position shown",
                Kind::Schema => "run `jackin schema` to see every key and its allowed values",
                Kind::Invalid => {
                    "fix each problem at the position shown, then run `jackin validate`"
                }
                Kind::Conflict => "define each key in only one file: remove or rename one of them",
                Kind::Limit => {
                    "state files must be regular files of at most 4 MiB, nesting at most 64 levels deep"
                }
            }
            .to_owned(),
        )
    }
}

/// Shorthand used throughout the loader for file-level failures.
pub(crate) fn file_problem(kind: Kind, file: &Path, message: impl Into<String>) -> ManifestError {
    ManifestError::one(kind, Problem::new(Place::File(file.to_owned()), message))
}
