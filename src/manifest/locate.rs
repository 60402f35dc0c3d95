//! Source maps: for every key path in one state file, where its key and its value start.
//!
//! serde only reports positions for the first type error, and not at all once files are
//! merged into one value. Validation needs positions for *every* problem, in the right file
//! of a `-f DIR` set, so each file gets its own map, built by the same pass that reads the
//! file: `read_toml.rs` from `toml`'s spanned tables, `read_yaml.rs` from yaml-rust2's marked
//! events. Array elements are keyed by their index (`["workspaces", "a", "mounts", "0",
//! "dst"]`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::Location;

/// 1-based line and column.
pub(crate) type Pos = (usize, usize);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub key: Pos,
    pub value: Pos,
}

/// Positions of every key of one file, and the name the file is shown under.
///
/// Key paths are stored as a tree, one node per key: a path is never copied whole, so a
/// long key costs its length once however many keys lie below it (a map from full paths
/// would copy it into every descendant's entry: quadratic in the file's size).
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceMap {
    pub file: PathBuf,
    nodes: Vec<Node>,
    /// (parent node, key) → node; the parent of a top-level key is [`TOP`].
    children: HashMap<(usize, String), usize>,
    /// Where the document itself starts (type errors about the whole file point there).
    top: Option<Pos>,
}

#[derive(Debug, Clone)]
struct Node {
    parent: usize,
    key: String,
    entry: Entry,
}

/// The node of the document itself, the parent of top-level keys.
pub(crate) const TOP: usize = usize::MAX;

impl SourceMap {
    pub(crate) fn new(file: &Path) -> Self {
        SourceMap {
            file: file.to_owned(),
            ..SourceMap::default()
        }
    }

    /// Records `key` under `parent` and returns its node. A key recorded before keeps its
    /// first position unless `replace` (array indices are re-recorded as they are seen).
    pub(crate) fn record(
        &mut self,
        parent: usize,
        key: String,
        entry: Entry,
        replace: bool,
    ) -> usize {
        match self.children.entry((parent, key)) {
            std::collections::hash_map::Entry::Occupied(slot) => {
                let id = *slot.get();
                if replace {
                    self.nodes[id].entry = entry;
                }
                id
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                let id = self.nodes.len();
                self.nodes.push(Node {
                    parent,
                    key: slot.key().1.clone(),
                    entry,
                });
                slot.insert(id);
                id
            }
        }
    }

    /// Records where the document starts; returns [`TOP`].
    pub(crate) fn record_top(&mut self, at: Pos) -> usize {
        self.top = Some(at);
        TOP
    }

    /// The entry of `key` directly under node `parent`.
    pub(crate) fn child(&self, parent: usize, key: &str) -> Option<Entry> {
        let id = self.children.get(&(parent, key.to_owned()))?;
        Some(self.nodes[*id].entry)
    }

    fn find<S: AsRef<str>>(&self, path: &[S]) -> Option<Entry> {
        let mut id = TOP;
        for key in path {
            id = *self.children.get(&(id, key.as_ref().to_owned()))?;
        }
        match self.nodes.get(id) {
            Some(node) => Some(node.entry),
            None => self.top.map(|at| Entry { key: at, value: at }),
        }
    }

    pub fn locate(&self, path: &[&str]) -> Option<Location> {
        self.find(path).map(|e| self.at(e.key))
    }

    /// The entry of `path`, or of its deepest ancestor in the file (a path inside an alias's
    /// copy, or one only the merge of several files made, is shown where it comes closest).
    pub(crate) fn nearest<S: AsRef<str>>(&self, path: &[S]) -> Option<Entry> {
        (0..=path.len()).rev().find_map(|n| self.find(&path[..n]))
    }

    pub fn at(&self, (line, col): Pos) -> Location {
        Location {
            file: self.file.clone(),
            line,
            col,
        }
    }

    /// The key path of node `id`.
    pub(crate) fn path(&self, mut id: usize) -> Vec<String> {
        let mut path = Vec::new();
        while let Some(node) = self.nodes.get(id) {
            path.push(node.key.clone());
            id = node.parent;
        }
        path.reverse();
        path
    }
}

/// Converts byte offsets into 1-based line and (character) column.
///
/// Columns count characters, so counting is done once up front: the number of characters
/// before every [`STRIDE`]th byte. A position then costs at most `STRIDE` bytes of counting,
/// not the length of its line (which made a 3 MiB one-line array quadratic).
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    chars_before: Vec<usize>,
}

const STRIDE: usize = 64;

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let mut chars_before = Vec::with_capacity(text.len() / STRIDE + 1);
        let mut count = 0;
        for chunk in text.as_bytes().chunks(STRIDE) {
            chars_before.push(count);
            count += char_starts(chunk);
        }
        chars_before.push(count);
        LineIndex {
            text,
            starts,
            chars_before,
        }
    }

    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let col = self.chars_to(offset) - self.chars_to(self.starts[line]);
        (line + 1, col + 1)
    }

    /// Characters that start before byte `offset`.
    fn chars_to(&self, offset: usize) -> usize {
        let chunk = offset / STRIDE;
        self.chars_before[chunk] + char_starts(&self.text.as_bytes()[chunk * STRIDE..offset])
    }
}

/// Bytes that start a UTF-8 character (all but continuation bytes `0b10xx_xxxx`).
fn char_starts(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{read_toml, read_yaml};

    /// The same document in both formats: one value, and each key where its format puts it
    /// (headers, bodies and inline arrays in TOML; nested mappings and sequences in YAML).
    #[test]
    fn both_formats_read_to_one_value_with_every_key_located() {
        let toml = "version = 1\n\n[workspaces.a]\nworkdir = \"/w\"\nmounts = [ { src = \"s\", dst = \"/d\" } ]\n";
        let yaml = "version: 1\nworkspaces:\n  a:\n    workdir: /w\n    mounts:\n      - src: s\n        dst: /d\n";
        let (toml_value, toml_map) = read_toml::read(Path::new("j.toml"), toml).unwrap();
        let (yaml_value, yaml_map) = read_yaml::read(Path::new("j.yaml"), yaml).unwrap();
        assert_eq!(toml_value, yaml_value);
        assert_eq!(
            toml_value,
            serde_json::json!({"version": 1, "workspaces": {"a": {"workdir": "/w", "mounts": [{"src": "s", "dst": "/d"}]}}})
        );
        let paths: [&[&str]; 4] = [
            &["version"],
            &["workspaces", "a", "workdir"],
            &["workspaces", "a", "mounts", "0", "dst"],
            &["workspaces", "b"],
        ];
        let shown = |map: &SourceMap| -> Vec<Option<String>> {
            paths
                .iter()
                .map(|p| map.locate(p).map(|l| l.to_string()))
                .collect()
        };
        let at = |s: &str| Some(s.to_owned());
        assert_eq!(
            shown(&toml_map),
            [at("j.toml:1:1"), at("j.toml:4:1"), at("j.toml:5:25"), None]
        );
        assert_eq!(
            shown(&yaml_map),
            [at("j.yaml:1:1"), at("j.yaml:4:5"), at("j.yaml:7:9"), None]
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let index = LineIndex::new("a = \"é\"\nb = 1\n");
        assert_eq!(index.pos(0), (1, 1));
        assert_eq!(index.pos(9), (2, 1));
        assert_eq!(index.pos(7), (1, 7));
    }

    #[test]
    fn columns_are_counted_across_counting_strides() {
        let text = format!("{}\n{}x", "é".repeat(100), "ü".repeat(100));
        let index = LineIndex::new(&text);
        let x = text.len() - 1;
        assert_eq!(index.pos(x), (2, 101));
        assert_eq!(index.pos(200), (1, 101));
        assert_eq!(index.pos(201), (2, 1));
        assert_eq!(index.pos(text.len()), (2, 102));
    }

    #[test]
    fn a_path_missing_from_the_file_is_shown_at_its_deepest_ancestor() {
        let mut map = SourceMap::new(Path::new("j.yaml"));
        map.record_top((1, 1));
        let a = map.record(
            TOP,
            "a".into(),
            Entry {
                key: (2, 1),
                value: (2, 4),
            },
            false,
        );
        map.record(
            a,
            "b".into(),
            Entry {
                key: (3, 3),
                value: (3, 6),
            },
            false,
        );
        assert_eq!(map.nearest(&["a", "b"]).unwrap().key, (3, 3));
        assert_eq!(map.nearest(&["a", "x", "y"]).unwrap().value, (2, 4));
        assert_eq!(map.nearest(&["z"]).unwrap().value, (1, 1));
        assert_eq!(map.path(map.children[&(a, "b".to_owned())]), ["a", "b"]);
        assert_eq!(map.locate(&["a", "x"]), None);
    }
}
