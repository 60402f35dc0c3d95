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
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceMap {
    pub file: PathBuf,
    pub entries: HashMap<Vec<String>, Entry>,
}

impl SourceMap {
    pub fn locate(&self, path: &[&str]) -> Option<Location> {
        let key: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        self.entries.get(&key).map(|e| self.at(e.key))
    }

    pub fn at(&self, (line, col): Pos) -> Location {
        Location {
            file: self.file.clone(),
            line,
            col,
        }
    }

    /// The deepest path whose key starts at `pos` (unknown-field errors point at keys).
    pub fn path_of_key(&self, pos: Pos) -> Option<&[String]> {
        self.deepest(|e| e.key == pos)
    }

    /// The deepest path whose value starts at `pos` (type and enum errors point at values).
    pub fn path_of_value(&self, pos: Pos) -> Option<&[String]> {
        self.deepest(|e| e.value == pos)
    }

    fn deepest(&self, pred: impl Fn(&Entry) -> bool) -> Option<&[String]> {
        self.entries
            .iter()
            .filter(|(_, e)| pred(e))
            .map(|(p, _)| p.as_slice())
            .max_by_key(|p| p.len())
    }
}

/// Converts byte offsets into 1-based line and (character) column.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

/// Source map of a TOML text that `toml` already parsed successfully.
pub(crate) fn toml_map(file: &Path, text: &str) -> SourceMap {
    let mut map = SourceMap {
        file: file.to_owned(),
        entries: HashMap::new(),
    };
    if let Ok(root) = DeTable::parse(text) {
        let index = LineIndex::new(text);
        walk_toml_table(&index, root.get_ref(), &mut Vec::new(), &mut map);
    }
    map
}

fn walk_toml_table(
    index: &LineIndex,
    table: &DeTable,
    path: &mut Vec<String>,
    map: &mut SourceMap,
) {
    for (key, value) in table.iter() {
        path.push(key.get_ref().to_string());
        let entry = Entry {
            key: index.pos(key.span().start),
            value: index.pos(value.span().start),
        };
        map.entries.entry(path.clone()).or_insert(entry);
        walk_toml_value(index, value, path, map);
        path.pop();
    }
}

fn walk_toml_value(
    index: &LineIndex,
    value: &Spanned<DeValue>,
    path: &mut Vec<String>,
    map: &mut SourceMap,
) {
    match value.get_ref() {
        DeValue::Table(t) => walk_toml_table(index, t, path, map),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                let pos = index.pos(item.span().start);
                map.entries.insert(
                    path.clone(),
                    Entry {
                        key: pos,
                        value: pos,
                    },
                );
                walk_toml_value(index, item, path, map);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Source map of a YAML text that `serde_yaml` already parsed successfully.
pub(crate) fn yaml_map(file: &Path, text: &str) -> SourceMap {
    let mut map = SourceMap {
        file: file.to_owned(),
        entries: HashMap::new(),
    };
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
                other => return self.node(other, &mut Vec::new()),
            }
        }
    }

    fn node(&mut self, ev: Event, path: &mut Vec<String>) -> Result<(), ScanError> {
        match ev {
            Event::MappingStart(..) => loop {
                let (key_ev, key_mark) = self.next()?;
                let key = match key_ev {
                    Event::MappingEnd => return Ok(()),
                    Event::Scalar(ref s, ..) => s.clone(),
                    other => {
                        // A complex key: skip it, and its value, without recording.
                        self.node(other, &mut Vec::new())?;
                        let (v, _) = self.next()?;
                        self.node(v, &mut Vec::new())?;
                        continue;
                    }
                };
                let (value_ev, value_mark) = self.next()?;
                path.push(key);
                self.map.entries.entry(path.clone()).or_insert(Entry {
                    key: yaml_pos(key_mark),
                    value: yaml_pos(value_mark),
                });
                self.node(value_ev, path)?;
                path.pop();
            },
            Event::SequenceStart(..) => {
                let mut i = 0;
                loop {
                    let (item, mark) = self.next()?;
                    if item == Event::SequenceEnd {
                        return Ok(());
                    }
                    path.push(i.to_string());
                    let pos = yaml_pos(mark);
                    self.map.entries.insert(
                        path.clone(),
                        Entry {
                            key: pos,
                            value: pos,
                        },
                    );
                    self.node(item, path)?;
                    path.pop();
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
}
