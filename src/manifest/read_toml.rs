//! TOML state files: parsed once by `toml` into spanned tables, which give both the source
//! map and the JSON value the rest of the loader works on. (The nesting limit is checked
//! before, by `depth.rs`: the parser's own stack is what it protects.)

use super::locate::{Entry, LineIndex, SourceMap, TOP};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The document in `text` as a JSON value, and where each of its keys is, for the file shown
/// as `file`; a syntax error with its byte span. `text` is parsed once: the spanned table
/// gives the map, then becomes the value.
pub(crate) fn read(file: &Path, text: &str) -> Result<(Value, SourceMap), toml::de::Error> {
    let root = DeTable::parse(text)?;
    let mut map = SourceMap::new(file);
    map.record_top((1, 1));
    walk_toml_table(&LineIndex::new(text), root.get_ref(), TOP, &mut map);
    let value = Value::deserialize(toml::de::Deserializer::from(root))?;
    Ok((value, map))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syntax_error_carries_its_span() {
        let err = read(Path::new("j.toml"), "version = 1\nroles = [\n").unwrap_err();
        assert!(err.span().is_some(), "{err}");
    }
}
