//! Source maps: for every key path in one state file, where its key and its value start.
//!
//! serde only reports positions for the first type error, and not at all once files are
//! merged into one value. Validation needs positions for *every* problem, in the right file
//! of a `-f DIR` set, so each file gets its own map built from a spanned parse of the same
//! text: `toml::de::DeTable` for TOML, `yaml-rust2` marked events for YAML. Array elements are
//! keyed by their index (`["workspaces", "a", "mounts", "0", "dst"]`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};
use toml::Spanned;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, ScanError};

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
}

#[derive(Debug, Clone)]
struct Node {
    parent: usize,
    key: String,
    entry: Entry,
}

/// The parent of top-level keys.
const TOP: usize = usize::MAX;

impl SourceMap {
    fn new(file: &Path) -> Self {
        SourceMap {
            file: file.to_owned(),
            ..SourceMap::default()
        }
    }

    /// Records `key` under `parent` and returns its node. A key recorded before keeps its
    /// first position unless `replace` (array indices are re-recorded as they are seen).
    fn record(&mut self, parent: usize, key: String, entry: Entry, replace: bool) -> usize {
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

    fn find(&self, path: &[&str]) -> Option<&Entry> {
        let mut id = TOP;
        for key in path {
            id = *self.children.get(&(id, (*key).to_owned()))?;
        }
        self.nodes.get(id).map(|n| &n.entry)
    }

    pub fn locate(&self, path: &[&str]) -> Option<Location> {
        self.find(path).map(|e| self.at(e.key))
    }

    pub fn at(&self, (line, col): Pos) -> Location {
        Location {
            file: self.file.clone(),
            line,
            col,
        }
    }

    /// The deepest path whose key starts at `pos` (unknown-field errors point at keys).
    pub fn path_of_key(&self, pos: Pos) -> Option<Vec<String>> {
        self.deepest(|e| e.key == pos)
    }

    /// The deepest path whose value starts at `pos` (type and enum errors point at values).
    pub fn path_of_value(&self, pos: Pos) -> Option<Vec<String>> {
        self.deepest(|e| e.value == pos)
    }

    fn deepest(&self, pred: impl Fn(&Entry) -> bool) -> Option<Vec<String>> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| pred(&n.entry))
            .map(|(id, _)| self.path(id))
            .max_by_key(Vec::len)
    }

    fn path(&self, mut id: usize) -> Vec<String> {
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

/// Source map of a TOML text that `toml` already parsed successfully.
pub(crate) fn toml_map(file: &Path, text: &str) -> SourceMap {
    let mut map = SourceMap::new(file);
    if let Ok(root) = DeTable::parse(text) {
        let index = LineIndex::new(text);
        walk_toml_table(&index, root.get_ref(), TOP, &mut map);
    }
    map
}

fn walk_toml_table(index: &LineIndex, table: &DeTable, parent: usize, map: &mut SourceMap) {
    for (key, value) in table.iter() {
        let entry = Entry {
            key: index.pos(key.span().start),
            value: index.pos(value.span().start),
        };
        let id = map.record(parent, key.get_ref().to_string(), entry, false);
        walk_toml_value(index, value, id, map);
    }
}

fn walk_toml_value(index: &LineIndex, value: &Spanned<DeValue>, id: usize, map: &mut SourceMap) {
    match value.get_ref() {
        DeValue::Table(t) => walk_toml_table(index, t, id, map),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let pos = index.pos(item.span().start);
                let entry = Entry {
                    key: pos,
                    value: pos,
                };
                let child = map.record(id, i.to_string(), entry, true);
                walk_toml_value(index, item, child, map);
            }
        }
        _ => {}
    }
}

/// Source map of a YAML text that `serde_yaml` already parsed successfully.
pub(crate) fn yaml_map(file: &Path, text: &str) -> SourceMap {
    let mut map = SourceMap::new(file);
    let mut walker = YamlWalker {
        parser: Parser::new_from_str(text),
        map: &mut map,
    };
    // A scan error here means serde_yaml accepted what yaml-rust2 did not: keep what we have.
    let _ = walker.document();
    map
}

struct YamlWalker<'a, 'm> {
    parser: Parser<std::str::Chars<'a>>,
    map: &'m mut SourceMap,
}

/// yaml-rust2 markers are 1-based lines and 0-based columns.
fn yaml_pos(m: Marker) -> Pos {
    (m.line(), m.col() + 1)
}

impl YamlWalker<'_, '_> {
    fn next(&mut self) -> Result<(Event, Marker), ScanError> {
        self.parser.next_token()
    }

    fn document(&mut self) -> Result<(), ScanError> {
        loop {
            let (ev, _) = self.next()?;
            match ev {
                Event::StreamEnd => return Ok(()),
                Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {}
                // Only the first document counts; serde_yaml rejects more than one.
                other => return self.node(other, TOP),
            }
        }
    }

    /// Consumes the node that `ev` starts without recording anything (a complex key).
    fn skip(&mut self, ev: Event) -> Result<(), ScanError> {
        let mut open = usize::from(matches!(
            ev,
            Event::MappingStart(..) | Event::SequenceStart(..)
        ));
        while open > 0 {
            match self.next()?.0 {
                Event::MappingStart(..) | Event::SequenceStart(..) => open += 1,
                Event::MappingEnd | Event::SequenceEnd => open -= 1,
                Event::StreamEnd => break,
                _ => {}
            }
        }
        Ok(())
    }

    /// Records the keys of the node that `ev` starts, under node `id`.
    fn node(&mut self, ev: Event, id: usize) -> Result<(), ScanError> {
        match ev {
            Event::MappingStart(..) => loop {
                let (key_ev, key_mark) = self.next()?;
                let key = match key_ev {
                    Event::MappingEnd => return Ok(()),
                    Event::Scalar(ref s, ..) => s.clone(),
                    other => {
                        // A complex key: skip it, and its value, without recording.
                        self.skip(other)?;
                        let (v, _) = self.next()?;
                        self.skip(v)?;
                        continue;
                    }
                };
                let (value_ev, value_mark) = self.next()?;
                let entry = Entry {
                    key: yaml_pos(key_mark),
                    value: yaml_pos(value_mark),
                };
                let child = self.map.record(id, key, entry, false);
                self.node(value_ev, child)?;
            },
            Event::SequenceStart(..) => {
                let mut i = 0;
                loop {
                    let (item, mark) = self.next()?;
                    if item == Event::SequenceEnd {
                        return Ok(());
                    }
                    let pos = yaml_pos(mark);
                    let entry = Entry {
                        key: pos,
                        value: pos,
                    };
                    let child = self.map.record(id, i.to_string(), entry, true);
                    self.node(item, child)?;
                    i += 1;
                }
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(map: &SourceMap, path: &[&str]) -> Option<String> {
        map.locate(path).map(|l| l.to_string())
    }

    #[test]
    fn toml_keys_are_located_in_headers_bodies_and_inline_arrays() {
        let text = "version = 1\n\n[workspaces.a]\nworkdir = \"/w\"\nmounts = [ { src = \"s\", dst = \"/d\" } ]\n";
        let map = toml_map(Path::new("j.toml"), text);
        assert_eq!(key(&map, &["version"]).unwrap(), "j.toml:1:1");
        assert_eq!(
            key(&map, &["workspaces", "a", "workdir"]).unwrap(),
            "j.toml:4:1"
        );
        assert_eq!(
            key(&map, &["workspaces", "a", "mounts", "0", "dst"]).unwrap(),
            "j.toml:5:25"
        );
        assert_eq!(key(&map, &["workspaces", "b"]), None);
    }

    #[test]
    fn yaml_keys_are_located_in_nested_maps_and_sequences() {
        let text = "version: 1\nworkspaces:\n  a:\n    workdir: /w\n    mounts:\n      - src: s\n        dst: /d\n";
        let map = yaml_map(Path::new("j.yaml"), text);
        assert_eq!(key(&map, &["version"]).unwrap(), "j.yaml:1:1");
        assert_eq!(
            key(&map, &["workspaces", "a", "workdir"]).unwrap(),
            "j.yaml:4:5"
        );
        assert_eq!(
            key(&map, &["workspaces", "a", "mounts", "0", "dst"]).unwrap(),
            "j.yaml:7:9"
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

    /// Complex YAML keys are skipped whole: nothing inside them is recorded as a key.
    #[test]
    fn yaml_complex_keys_are_not_recorded() {
        let text = "? [a, b]\n: {c: 1}\nd: 2\n";
        let map = yaml_map(Path::new("j.yaml"), text);
        assert_eq!(key(&map, &["d"]).unwrap(), "j.yaml:3:1");
        assert_eq!(key(&map, &["c"]), None);
        assert_eq!(key(&map, &["0"]), None);
    }

    #[test]
    fn the_deepest_path_at_a_position_is_found() {
        let text = "a = { b = { c = 1 } }\n";
        let map = toml_map(Path::new("j.toml"), text);
        assert_eq!(map.path_of_key((1, 13)).unwrap(), ["a", "b", "c"]);
        assert_eq!(map.path_of_value((1, 11)).unwrap(), ["a", "b"]);
    }
}
