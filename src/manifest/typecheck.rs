//! Type-checking one state file (or the merge of several) against [`Manifest`].
//!
//! Both formats arrive here as a JSON value with a source map, so one check serves TOML and
//! YAML alike: serde_path_to_error names the key path serde failed at, the source map turns
//! it into `file:line:col`, and `diagnose.rs` rewrites serde's words into jackin's.
//!
//! The value is deserialised through [`Strict`], not `serde_json`'s own deserializer: that one
//! fills a struct from an *array* positionally (`smith: []` or `- img` would type-check), a
//! leniency no state-file format has. Strict accepts only a table for a table and only a
//! string for an enum value, as the TOML and YAML front-ends did; and, as serde_yaml's own
//! check did, a YAML empty value (`smith:` with nothing under it) as an empty table or list.
//! (That check accepted it, the merge step then refused it as "the top level": one fact, two
//! owners.) A null where a string belongs stays an error.

use super::diagnose::describe;
use super::locate::{Pos, SourceMap};
use super::model::Manifest;
use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, Error as _, IntoDeserializer, Unexpected, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::Value;
use serde_path_to_error::Segment;

/// Deserialises `value` as a [`Manifest`]; on failure, jackin's message for serde's and,
/// when `map` has it, the position it is about (an unknown key's own position, else the
/// value's).
pub(crate) fn type_check(
    value: &Value,
    map: Option<&SourceMap>,
) -> Result<Manifest, (Option<Pos>, String)> {
    serde_path_to_error::deserialize(Strict(value)).map_err(|e| {
        let path: Vec<String> = e
            .path()
            .iter()
            .map(|segment| match segment {
                Segment::Seq { index } => index.to_string(),
                Segment::Map { key } => key.clone(),
                Segment::Enum { variant } => variant.clone(),
                Segment::Unknown => "?".to_owned(),
            })
            .collect();
        let msg = e.inner().to_string();
        let at = map.and_then(|m| m.nearest(&path)).map(|entry| {
            if msg.starts_with("unknown field") {
                entry.key
            } else {
                entry.value
            }
        });
        (at, describe(&msg, &path))
    })
}

/// A JSON value read as a state file is: see the module documentation.
#[derive(Clone, Copy)]
struct Strict<'a>(&'a Value);

impl Strict<'_> {
    fn unexpected(self) -> Unexpected<'static> {
        match self.0 {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Unexpected::Unsigned(u),
                (None, Some(i)) => Unexpected::Signed(i),
                (None, None) => Unexpected::Float(n.as_f64().unwrap_or_default()),
            },
            // Never the text itself: `diagnose` drops values, but nothing should carry them.
            Value::String(_) => Unexpected::Other("string"),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
        }
    }
}

impl<'de> IntoDeserializer<'de, Error> for Strict<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for Strict<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(i)) => visitor.visit_i64(i),
                (None, None) => visitor.visit_f64(n.as_f64().unwrap_or_default()),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(Strict));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Object(entries) => {
                let mut map =
                    MapDeserializer::new(entries.iter().map(|(k, v)| (k.as_str(), Strict(v))));
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(_) => self.deserialize_any(visitor),
            Value::Null => {
                visitor.visit_map(MapDeserializer::new(std::iter::empty::<(&str, Self)>()))
            }
            _ => Err(Error::invalid_type(self.unexpected(), &"a table")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => {
                visitor.visit_map(MapDeserializer::new(std::iter::empty::<(&str, Self)>()))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_seq(SeqDeserializer::new(std::iter::empty::<Self>())),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => {
                let expected = format!("one of {}", variants.join(", "));
                Err(Error::invalid_type(self.unexpected(), &expected.as_str()))
            }
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct tuple tuple_struct identifier ignored_any
    }
}
