//! Finding, reading, type-checking and merging state files into one [`Manifest`].
//!
//! Each file is parsed and type-checked on its own, so its errors carry its own positions;
//! only then are files merged (as JSON values, remembering nothing but each file's source
//! map) and the merged value deserialised once more (one file is its own manifest). A leaf
//! set in two files is a conflict, never "last one wins": a silent override in a GitOps repo
//! is a bug waiting to happen.

use super::depth::{toml_too_deep, Breach};
use super::diagnose::render_path;
use super::error::{file_problem, Kind, Location, ManifestError, Place, Problem};
use super::limits::{read_state_file, MAX_DEPTH, MAX_YAML_VALUES};
use super::locate::{LineIndex, Pos, SourceMap};
use super::model::Manifest;
use super::read_yaml::YamlStop;
use super::typecheck::type_check;
use super::{read_toml, read_yaml};
use serde_json::{Map, Value};
use std::path::{Component, Path, PathBuf};

/// File names looked for in the working directory, in the order they are reported.
pub const DEFAULT_NAMES: [&str; 3] = ["jackin.toml", "jackin.yaml", "jackin.yml"];

/// A parsed (and, for `-f DIR`, merged) state file, with what is needed to point back into it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub manifest: Manifest,
    /// The files read, sorted.
    pub files: Vec<PathBuf>,
    /// Relative `src`/`source`/`build.context`/`file` paths resolve against this.
    pub base_dir: PathBuf,
    /// `manifest.project`, or the name of the file's folder (of DIR for `-f DIR`).
    pub project: String,
    maps: Vec<SourceMap>,
}

impl Loaded {
    /// How many instances (workspace × role) the state declares.
    pub fn instance_count(&self) -> usize {
        self.manifest
            .workspaces
            .values()
            .map(|w| w.roles.len())
            .sum()
    }

    /// Where a key path (e.g. `["workspaces","my-app","roles","agent-smith","auth","kimi"]`)
    /// is declared; `None` if absent. In a `-f DIR` set, the first file declaring it wins.
    pub fn locate(&self, path: &[&str]) -> Option<Location> {
        self.maps.iter().find_map(|m| m.locate(path))
    }

    /// The name the first file is shown under, for problems no single key can be blamed for.
    pub(crate) fn shown_file(&self) -> PathBuf {
        self.maps
            .first()
            .map(|m| m.file.clone())
            .unwrap_or_default()
    }

    /// Whether `project` came from the folder name rather than the file.
    pub(crate) fn project_is_default(&self) -> bool {
        self.manifest.project.is_none()
    }
}

/// Load the state named by `-f PATH` (a file or a directory), or the one state file in `cwd`.
pub fn load(path: Option<&Path>, cwd: &Path) -> Result<Loaded, ManifestError> {
    let (files, base_dir) = match path {
        None => (vec![discover(cwd)?], cwd.to_owned()),
        Some(p) => {
            let full = cwd.join(p);
            if full.is_dir() {
                (list_dir(&full, cwd)?, full)
            } else {
                let base = full.parent().map(Path::to_owned).unwrap_or_default();
                (vec![full], base)
            }
        }
    };
    let base_dir = normalize(&base_dir);

    let mut values = Vec::new();
    let mut maps = Vec::new();
    let mut manifests = Vec::new();
    let mut failures: Vec<(Kind, Problem)> = Vec::new();
    for file in &files {
        match parse_file(file, &shown(cwd, file)) {
            Ok((value, map, manifest)) => {
                values.push(value);
                maps.push(map);
                manifests.push(manifest);
            }
            Err(failure) => failures.push(failure),
        }
    }
    if let Some(&(kind, _)) = failures.first() {
        return Err(ManifestError::new(
            kind,
            failures.into_iter().map(|(_, p)| p).collect(),
        ));
    }

    // One file is its own merge: its type check already made the manifest.
    let manifest = match manifests.pop() {
        Some(only) if manifests.is_empty() => only,
        _ => merge_all(values, &maps)?,
    };

    let project = manifest.project.clone().unwrap_or_else(|| {
        base_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Ok(Loaded {
        manifest,
        files,
        base_dir,
        project,
        maps,
    })
}

/// The [`DEFAULT_NAMES`] present in `cwd`, in that order. Any entry by these names counts,
/// not only regular files: a FIFO or a directory named jackin.toml gets a clear "not a
/// regular file" error when loaded, not a misleading "no jackin.toml".
pub fn present_state_files(cwd: &Path) -> Vec<&'static str> {
    DEFAULT_NAMES
        .into_iter()
        .filter(|n| std::fs::symlink_metadata(cwd.join(n)).is_ok())
        .collect()
}

fn discover(cwd: &Path) -> Result<PathBuf, ManifestError> {
    match present_state_files(cwd).as_slice() {
        [one] => Ok(cwd.join(one)),
        [] => Err(ManifestError::one(
            Kind::NotFound,
            Problem::new(
                Place::Nowhere,
                format!(
                    "no jackin.toml, jackin.yaml or jackin.yml in {}",
                    cwd.display()
                ),
            ),
        )),
        many => Err(ManifestError::one(
            Kind::NotFound,
            Problem::new(
                Place::Nowhere,
                format!(
                    "more than one desired-state file in {}: {}",
                    cwd.display(),
                    many.join(", ")
                ),
            )
            .with_hint("keep only one of them, or pick one with `-f FILE`"),
        )),
    }
}

fn list_dir(dir: &Path, cwd: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| file_problem(Kind::NotFound, &shown(cwd, dir), io_reason(&e)))?;
    // Every entry named like a state file except folders: a FIFO or device among them is an
    // error when read, never silently skipped (a skipped file is a silently different state).
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| format_of(p).is_some() && !p.is_dir())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(file_problem(
            Kind::NotFound,
            &shown(cwd, dir),
            "no *.toml, *.yaml or *.yml files in this folder",
        ));
    }
    Ok(files)
}

#[derive(Clone, Copy)]
enum Format {
    Toml,
    Yaml,
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()? {
        "toml" => Some(Format::Toml),
        "yaml" | "yml" => Some(Format::Yaml),
        _ => None,
    }
}

/// One file: read within the input limits and check its nesting (E006) before any parser
/// sees it, parse it once into a JSON value and its source map (syntax: E002), and
/// type-check that value against [`Manifest`] (E003).
fn parse_file(file: &Path, shown: &Path) -> Result<(Value, SourceMap, Manifest), (Kind, Problem)> {
    let at_file = |kind, msg: String| (kind, Problem::new(Place::File(shown.to_owned()), msg));
    let format = format_of(file).ok_or_else(|| {
        at_file(
            Kind::NotFound,
            "unsupported file type; use .toml, .yaml or .yml".to_owned(),
        )
    })?;
    let text = read_state_file(file).map_err(|f| f.problem(shown))?;
    let located = |kind, (line, col): Pos, msg: String| {
        let loc = Location {
            file: shown.to_owned(),
            line,
            col,
        };
        (kind, Problem::new(Place::At(loc), msg))
    };
    let (value, map) = match format {
        Format::Toml => {
            let index = LineIndex::new(&text);
            if let Some(offset) = toml_too_deep(&text) {
                return Err(breach(shown, Breach::TooDeep(index.pos(offset))));
            }
            read_toml::read(shown, &text).map_err(|e| {
                let msg = e.message().trim().replace('\n', "; ");
                match e.span() {
                    Some(span) => located(Kind::Syntax, index.pos(span.start), msg),
                    None => at_file(Kind::Syntax, msg),
                }
            })?
        }
        Format::Yaml => read_yaml::read(shown, &text).map_err(|stop| match stop {
            YamlStop::Limit(b) => breach(shown, b),
            YamlStop::Syntax(at, msg) => located(Kind::Syntax, at, msg),
            YamlStop::Shape(at, msg) => located(Kind::Schema, at, msg),
        })?,
    };
    let manifest = type_check(&value, Some(&map)).map_err(|(at, msg)| match at {
        Some(at) => located(Kind::Schema, at, msg),
        None => at_file(Kind::Schema, msg),
    })?;
    Ok((value, map, manifest))
}

/// The manifest of several files: their values deep-merged, then type-checked once more.
fn merge_all(values: Vec<Value>, maps: &[SourceMap]) -> Result<Manifest, ManifestError> {
    let mut merged = Map::new();
    let mut conflicts = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        if let Value::Object(obj) = value {
            merge(&mut merged, obj, &mut Vec::new(), i, maps, &mut conflicts);
        }
    }
    if !conflicts.is_empty() {
        return Err(ManifestError::new(Kind::Conflict, conflicts));
    }
    // Every piece was type-checked already; a failure here is a merge producing something
    // no single file had (e.g. a table split across files missing a required key).
    type_check(&Value::Object(merged), None).map_err(|(_, msg)| {
        ManifestError::one(
            Kind::Schema,
            Problem::new(Place::Nowhere, format!("after merging the files: {msg}")),
        )
    })
}

/// The E006 problem for a limit crossed at `pos` of the file shown as `shown`.
fn breach(shown: &Path, breach: Breach<Pos>) -> (Kind, Problem) {
    let name = shown.display();
    let problem = match breach {
        Breach::TooDeep((line, col)) => Problem::new(
            Place::Nowhere,
            format!(
                "{name} nests more than {MAX_DEPTH} levels deep at line {line}, column {col}; the limit is {MAX_DEPTH}"
            ),
        )
        .with_hint("flatten the structure: a state file needs about 6 levels"),
        Breach::TooManyValues((line, col)) => Problem::new(
            Place::Nowhere,
            format!(
                "{name} expands to more than {MAX_YAML_VALUES} values through YAML aliases at line {line}, column {col}; the limit is {MAX_YAML_VALUES}"
            ),
        )
        .with_hint("write the repeated values out, or alias smaller pieces"),
    };
    (Kind::Limit, problem)
}

/// Deep merge: tables merge recursively; anything else set in two files is a conflict,
/// reported with both positions.
fn merge(
    into: &mut Map<String, Value>,
    from: Map<String, Value>,
    path: &mut Vec<String>,
    file: usize,
    maps: &[SourceMap],
    conflicts: &mut Vec<Problem>,
) {
    for (key, value) in from {
        path.push(key.clone());
        match (into.get_mut(&key), value) {
            (None, value) => {
                into.insert(key, value);
            }
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                merge(existing, incoming, path, file, maps, conflicts);
            }
            (Some(_), _) => {
                let parts: Vec<&str> = path.iter().map(String::as_str).collect();
                let here = maps[file].locate(&parts);
                let before = maps[..file]
                    .iter()
                    .find_map(|m| m.locate(&parts))
                    .map_or_else(|| "an earlier file".to_owned(), |l| l.to_string());
                let (place, here) = match here {
                    Some(loc) => (Place::At(loc.clone()), loc.to_string()),
                    None => (
                        Place::File(maps[file].file.clone()),
                        maps[file].file.display().to_string(),
                    ),
                };
                conflicts.push(Problem::new(
                    place,
                    format!(
                        "key `{}` is defined in both {} and {}",
                        render_path(path),
                        before,
                        here
                    ),
                ));
            }
        }
        path.pop();
    }
}

/// How a file is named in messages: relative to the working directory when inside it, so
/// `jackin.toml:3:1` reads like the operator's own view of the repo.
fn shown(cwd: &Path, file: &Path) -> PathBuf {
    file.strip_prefix(cwd)
        .ok()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| file.to_owned(), Path::to_owned)
}

/// Lexical `.`/`..` removal, so `-f .` still yields the folder's real name as the project.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

pub(super) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => format!("cannot read: {e}"),
    }
}
