//! YAML state files, read in one pass of yaml-rust2's event parser: the pass checks the input
//! limits, builds the document as a JSON value and records where every key is, so nothing
//! else ever parses the text.
//!
//! Why one pass over events, not a serde front-end: validation needs the position of *every*
//! key (a serde deserializer reports one error's position at best), and a limit must stop a
//! hostile file before it is expanded, not after. The event parser stays linear on deep input
//! and marks every event, so depth, alias expansion, syntax and positions all come from it.
//! Aliases stay references until the end of the pass: a file refused for what its aliases
//! expand to is refused before anything is copied.
//!
//! Scalars resolve as YAML 1.2's core schema does (and as serde_yaml did, whose plain-scalar
//! rules are followed exactly, so a file means what it meant): `~`/`null`/empty → null,
//! `true`/`false` in three spellings, decimal/`0x`/`0o`/`0b` integers, floats, anything else a
//! string; quoted and block scalars are always strings. What a state file has no use for is
//! refused with its position rather than guessed at: a second document, a key that is not a
//! scalar, a key given twice, and application tags (`!foo`).

use super::depth::Breach;
use super::limits::{MAX_DEPTH, MAX_YAML_VALUES};
use super::locate::{Entry, Pos, SourceMap, TOP};
use serde_json::{Map, Number, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Why a YAML text was not accepted, where, and what.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum YamlStop {
    /// An input limit (E006).
    Limit(Breach<Pos>),
    /// Not well-formed YAML, a key given twice included (E002).
    Syntax(Pos, String),
    /// YAML that is not plain data: a tag, a mapping or sequence as a key (E003).
    Shape(Pos, String),
}

/// The document in `text` as a JSON value (an empty document is an empty table), and where
/// each of its keys is, for the file shown as `file`.
pub(crate) fn read(file: &Path, text: &str) -> Result<(Value, SourceMap), YamlStop> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        tally: Tally::default(),
        map: SourceMap::new(file),
        anchors: HashMap::new(),
        open: Vec::new(),
        root: None,
        documents: 0,
    };
    reader.run()?;
    let value = reader
        .root
        .map(|root| expand(&root, &reader.anchors))
        .filter(|v| !v.is_null())
        .unwrap_or_else(|| Value::Object(Map::new()));
    Ok((value, reader.map))
}

/// A node as read: aliases stay references until the whole file has passed the limits, so a
/// file refused for its expansion is refused without being expanded.
#[derive(Clone)]
enum Node {
    Scalar(Value),
    Sequence(Vec<Node>),
    Mapping(BTreeMap<String, Node>),
    /// A copy of the anchored node with this id (always one closed before the alias).
    Alias(usize),
}

/// The value of `node`, aliases copied out. The limits were checked on the way in: the copy
/// is at most [`MAX_YAML_VALUES`] values and [`MAX_DEPTH`] levels, so is this recursion.
fn expand(node: &Node, anchors: &HashMap<usize, (Node, Size)>) -> Value {
    match node {
        Node::Scalar(value) => value.clone(),
        Node::Sequence(items) => Value::Array(items.iter().map(|n| expand(n, anchors)).collect()),
        Node::Mapping(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, n)| (k.clone(), expand(n, anchors)))
                .collect(),
        ),
        Node::Alias(id) => anchors
            .get(id)
            .map_or(Value::Null, |(n, _)| expand(n, anchors)),
    }
}

struct Reader<'a> {
    parser: Parser<std::str::Chars<'a>>,
    tally: Tally,
    map: SourceMap,
    /// Every anchored node closed so far, and what it expands to, for its aliases.
    anchors: HashMap<usize, (Node, Size)>,
    /// Open mappings and sequences, outermost first.
    open: Vec<Open>,
    root: Option<Node>,
    documents: usize,
}

/// A mapping or sequence being read: its source-map node and anchor, and what it holds so far.
struct Open {
    node: usize,
    anchor: usize,
    body: Body,
}

enum Body {
    /// A mapping, and the key read whose value comes next (with the key's position).
    Mapping(BTreeMap<String, Node>, Option<(String, Pos)>),
    Sequence(Vec<Node>),
}

/// yaml-rust2 markers are 1-based lines and 0-based columns.
fn pos(m: Marker) -> Pos {
    (m.line(), m.col() + 1)
}

impl Reader<'_> {
    fn run(&mut self) -> Result<(), YamlStop> {
        loop {
            let (event, at) = self.next_event()?;
            match event {
                Event::StreamEnd => return Ok(()),
                Event::DocumentStart => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(YamlStop::Syntax(
                            at,
                            "a second YAML document; a state file holds one (split it into files and use `-f DIR`)".to_owned(),
                        ));
                    }
                }
                Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
                Event::Scalar(text, style, anchor, tag) => {
                    self.read_scalar(text, style, anchor, tag.as_ref(), at)?;
                }
                Event::Alias(id) => self.read_alias(id, at)?,
                Event::MappingStart(anchor, tag) => {
                    self.open(
                        anchor,
                        tag.as_ref(),
                        at,
                        Body::Mapping(BTreeMap::new(), None),
                    )?;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.open(anchor, tag.as_ref(), at, Body::Sequence(Vec::new()))?;
                }
                Event::MappingEnd | Event::SequenceEnd => self.close(),
            }
        }
    }

    /// The parser's next event and where it starts; the parser's own depth limit is ours.
    fn next_event(&mut self) -> Result<(Event, Pos), YamlStop> {
        let (event, mark) = self.parser.next_token().map_err(|e| {
            let at = pos(*e.marker());
            if e.info() == "recursion limit exceeded" {
                YamlStop::Limit(Breach::TooDeep(at))
            } else {
                YamlStop::Syntax(at, e.info().to_owned())
            }
        })?;
        Ok((event, pos(mark)))
    }

    /// A scalar at `at`: a mapping's key, or a value.
    fn read_scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        at: Pos,
    ) -> Result<(), YamlStop> {
        self.tally.node(Size::ONE, at)?;
        if self.wants_key() {
            self.keep(anchor, Node::Scalar(Value::String(text.clone())), Size::ONE);
            return self.set_key(text, at);
        }
        // An empty value has no text to point at (its mark is wherever the next
        // token starts): it is shown at its key.
        let at = match (text.is_empty(), style, self.open.last()) {
            (
                true,
                TScalarStyle::Plain,
                Some(Open {
                    body: Body::Mapping(_, Some((_, key_at))),
                    ..
                }),
            ) => *key_at,
            _ => at,
        };
        let node = Node::Scalar(scalar(text, style, tag, at)?);
        self.place(at);
        self.keep(anchor, node.clone(), Size::ONE);
        self.complete(node);
        Ok(())
    }

    /// An alias at `at`: a mapping's key (when it names a string), or a value counted at the
    /// size of what it names.
    fn read_alias(&mut self, id: usize, at: Pos) -> Result<(), YamlStop> {
        // The parser refuses an alias to an unknown anchor; one still open is an
        // alias inside the node it names, which would never end.
        let Some((anchored, size)) = self.anchors.get(&id) else {
            return Err(YamlStop::Shape(
                at,
                "an alias inside the node its anchor names (a recursive alias)".to_owned(),
            ));
        };
        if self.wants_key() {
            let Node::Scalar(Value::String(key)) = anchored else {
                return Err(not_a_key(at));
            };
            let key = key.clone();
            self.tally.node(Size::ONE, at)?;
            return self.set_key(key, at);
        }
        self.tally.node(*size, at)?;
        self.place(at);
        self.complete(Node::Alias(id));
        Ok(())
    }

    /// The innermost mapping or sequence ends: it becomes a value of the one around it.
    fn close(&mut self) {
        let size = self.tally.close();
        let Some(done) = self.open.pop() else {
            return;
        };
        let node = match done.body {
            Body::Mapping(entries, _) => Node::Mapping(entries),
            Body::Sequence(items) => Node::Sequence(items),
        };
        if done.anchor != 0 {
            self.keep(done.anchor, node.clone(), size);
        }
        self.complete(node);
    }

    /// A mapping or sequence starts at `at`.
    fn open(
        &mut self,
        anchor: usize,
        tag: Option<&Tag>,
        at: Pos,
        body: Body,
    ) -> Result<(), YamlStop> {
        if self.wants_key() {
            return Err(not_a_key(at));
        }
        if let Some(tag) = tag.filter(|t| !is_core(t, &["map", "seq"])) {
            return Err(tagged(tag, at));
        }
        self.tally.open(at)?;
        let node = self.place(at);
        self.open.push(Open { node, anchor, body });
        Ok(())
    }

    /// Whether the next node is a mapping's key.
    fn wants_key(&self) -> bool {
        matches!(
            self.open.last(),
            Some(Open {
                body: Body::Mapping(_, None),
                ..
            })
        )
    }

    fn set_key(&mut self, key: String, at: Pos) -> Result<(), YamlStop> {
        let Some(Open {
            body: Body::Mapping(map, pending),
            node,
            ..
        }) = self.open.last_mut()
        else {
            return Ok(());
        };
        if map.contains_key(&key) {
            let first = self
                .map
                .child(*node, &key)
                .map(|e| format!(" (first at line {}, column {})", e.key.0, e.key.1))
                .unwrap_or_default();
            let mut path = self.map.path(*node);
            path.push(key);
            return Err(YamlStop::Syntax(
                at,
                format!(
                    "key `{}` is defined twice{first}",
                    super::diagnose::render_path(&path)
                ),
            ));
        }
        *pending = Some((key, at));
        Ok(())
    }

    /// Records the node starting at `at` in the source map, under its mapping key or
    /// sequence index, and returns its map node.
    fn place(&mut self, at: Pos) -> usize {
        match self.open.last() {
            None => self.map.record_top(at),
            Some(Open {
                node,
                body: Body::Mapping(_, Some((key, key_at))),
                ..
            }) => self.map.record(
                *node,
                key.clone(),
                Entry {
                    key: *key_at,
                    value: at,
                },
                false,
            ),
            Some(Open {
                node,
                body: Body::Sequence(items),
                ..
            }) => {
                let entry = Entry { key: at, value: at };
                self.map.record(*node, items.len().to_string(), entry, true)
            }
            // A mapping waiting for a key takes no value: keys are handled before this.
            Some(_) => TOP,
        }
    }

    /// Remembers a node under its anchor (0: none) for aliases, with what it expands to.
    fn keep(&mut self, anchor: usize, node: Node, size: Size) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node, size));
        }
    }

    /// A complete node: the root, a mapping's value, or a sequence's next item.
    fn complete(&mut self, value: Node) {
        match self.open.last_mut() {
            None => self.root = Some(value),
            Some(Open {
                body: Body::Mapping(map, pending),
                ..
            }) => {
                if let Some((key, _)) = pending.take() {
                    map.insert(key, value);
                }
            }
            Some(Open {
                body: Body::Sequence(items),
                ..
            }) => items.push(value),
        }
    }
}

/// The error for a mapping or sequence used as a mapping key.
fn not_a_key(at: Pos) -> YamlStop {
    YamlStop::Shape(
        at,
        "a mapping key must be a plain string, not a mapping or a sequence".to_owned(),
    )
}

fn tagged(tag: &Tag, at: Pos) -> YamlStop {
    let handle = if tag.handle == CORE {
        "!!"
    } else {
        &tag.handle
    };
    YamlStop::Shape(
        at,
        format!(
            "YAML tag `{handle}{}` is not supported: a state file is plain data",
            tag.suffix
        ),
    )
}

/// Whether `tag` is one of YAML's own (`!!str` …) named in `names`.
fn is_core(tag: &Tag, names: &[&str]) -> bool {
    tag.handle == CORE && names.contains(&tag.suffix.as_str())
}

/// What `!!` stands for.
const CORE: &str = "tag:yaml.org,2002:";

/// The value of a scalar that is not a key.
fn scalar(
    text: String,
    style: TScalarStyle,
    tag: Option<&Tag>,
    at: Pos,
) -> Result<Value, YamlStop> {
    let invalid = |what: &str| {
        YamlStop::Shape(
            at,
            format!(
                "this value is tagged `!!{}` but is not {what}",
                tag.map_or("", |t| t.suffix.as_str())
            ),
        )
    };
    match tag {
        None if style == TScalarStyle::Plain => Ok(plain(text)),
        None => Ok(Value::String(text)),
        Some(t) if is_core(t, &["str"]) => Ok(Value::String(text)),
        Some(t) if is_core(t, &["bool"]) => parse_bool(&text)
            .map(Value::Bool)
            .ok_or_else(|| invalid("a boolean")),
        Some(t) if is_core(t, &["int"]) => parse_int(&text).ok_or_else(|| invalid("an integer")),
        Some(t) if is_core(t, &["float"]) => parse_float(&text).ok_or_else(|| invalid("a float")),
        Some(t) if is_core(t, &["null"]) => (text.is_empty() || is_null(&text))
            .then_some(Value::Null)
            .ok_or_else(|| invalid("null")),
        Some(t) => Err(tagged(t, at)),
    }
}

/// A plain (unquoted) scalar: null, a boolean, a number, else the text itself.
fn plain(text: String) -> Value {
    if text.is_empty() || is_null(&text) {
        return Value::Null;
    }
    if let Some(b) = parse_bool(&text) {
        return Value::Bool(b);
    }
    if let Some(number) = parse_int(&text).or_else(|| parse_float(&text)) {
        return number;
    }
    Value::String(text)
}

fn is_null(text: &str) -> bool {
    matches!(text, "~" | "null" | "Null" | "NULL")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Leading zeros followed by digits are a string in YAML 1.2 (`0123`), not octal.
fn zero_padded(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    digits.len() > 1 && digits.starts_with('0') && digits[1..].bytes().all(|b| b.is_ascii_digit())
}

/// `[-+]` then decimal, `0x` hex, `0o` octal or `0b` binary digits, within i64 or u64.
fn parse_int(text: &str) -> Option<Value> {
    if zero_padded(text) {
        return None;
    }
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(prefix, radix)| unsigned.strip_prefix(prefix).map(|d| (radix, d)))
        .unwrap_or((10, unsigned));
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        let n = i64::try_from(magnitude)
            .map(|m| -m)
            .ok()
            .or_else(|| (magnitude == u128::from(i64::MIN.unsigned_abs())).then_some(i64::MIN))?;
        Some(Value::Number(n.into()))
    } else {
        u64::try_from(magnitude)
            .ok()
            .map(|n| Value::Number(n.into()))
    }
}

/// `.inf`/`.nan` in YAML's spellings, or a finite decimal float. JSON has no infinity or NaN,
/// so those become null, which no key of a state file accepts.
fn parse_float(text: &str) -> Option<Value> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.starts_with(['+', '-']) || zero_padded(text) {
        return None;
    }
    if matches!(
        unsigned,
        ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN"
    ) {
        return Some(Value::Null);
    }
    // Rust also reads `inf`, `nan` and `infinity`; YAML does not.
    if !unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let float: f64 = text.parse().ok()?;
    Number::from_f64(float).map(Value::Number)
}

/// What a node expands to: values in it (itself included), and container levels in it
/// (0 for a scalar, 1 for `[a]`, 2 for `[[a]]`).
#[derive(Debug, Clone, Copy)]
struct Size {
    values: u64,
    height: usize,
}

impl Size {
    const ONE: Size = Size {
        values: 1,
        height: 0,
    };
}

/// Running totals over the event stream; aliases count as what they expand to. Checked
/// before a node is built, so a limit stops the file before anything is expanded.
#[derive(Default)]
struct Tally {
    /// What the children of each open container add up to.
    open: Vec<Size>,
    /// Values in the expanded stream so far.
    values: u64,
}

impl Tally {
    fn open(&mut self, at: Pos) -> Result<(), YamlStop> {
        self.check(
            Size {
                values: 1,
                height: 1,
            },
            at,
        )?;
        self.open.push(Size {
            values: 1,
            height: 0,
        });
        Ok(())
    }

    /// The innermost open container ends: what it expands to.
    fn close(&mut self) -> Size {
        let children = self.open.pop().unwrap_or(Size::ONE);
        let size = Size {
            height: children.height + 1,
            ..children
        };
        self.add_to_parent(size);
        size
    }

    /// A scalar or an alias: complete at once.
    fn node(&mut self, size: Size, at: Pos) -> Result<(), YamlStop> {
        self.check(size, at)?;
        self.add_to_parent(size);
        Ok(())
    }

    /// A node of `size` placed at the current level: within the depth and value limits?
    /// (Its own values are counted here, once; `add_to_parent` only builds anchor sizes.)
    fn check(&mut self, size: Size, at: Pos) -> Result<(), YamlStop> {
        // The node's own level is `open.len()`; its deepest container is `height - 1` below.
        if size.height > 0 && self.open.len() + size.height - 1 > MAX_DEPTH {
            return Err(YamlStop::Limit(Breach::TooDeep(at)));
        }
        self.values = self.values.saturating_add(size.values);
        if self.values > MAX_YAML_VALUES {
            return Err(YamlStop::Limit(Breach::TooManyValues(at)));
        }
        Ok(())
    }

    fn add_to_parent(&mut self, size: Size) {
        if let Some(parent) = self.open.last_mut() {
            parent.values = parent.values.saturating_add(size.values);
            parent.height = parent.height.max(size.height);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(text: &str) -> Value {
        read(Path::new("j.yaml"), text).unwrap().0
    }

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!("{}1{}", open.repeat(n), close.repeat(n))
    }

    fn check(text: &str) -> Result<(), YamlStop> {
        read(Path::new("j.yaml"), text).map(|_| ())
    }

    fn yaml_depth_ok(text: &str) -> bool {
        match check(text) {
            Ok(()) => true,
            Err(YamlStop::Limit(Breach::TooDeep(_))) => false,
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn yaml_flow_and_block_nesting_are_limited_to_64_levels() {
        assert!(yaml_depth_ok(&format!("x: {}\n", nested("[", "]", 64))));
        assert!(!yaml_depth_ok(&format!("x: {}\n", nested("[", "]", 65))));
        assert!(!yaml_depth_ok(&format!("x: {}\n", nested("{a: ", "}", 65))));
        let block = |n: usize| -> String {
            (0..n)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect::<String>()
                + &" ".repeat(n)
                + "v\n"
        };
        // n keys: the top-level mapping and n - 1 mappings under it.
        assert!(yaml_depth_ok(&block(65)));
        assert!(!yaml_depth_ok(&block(66)));
        assert!(!yaml_depth_ok(&format!("{}x\n", "- ".repeat(66))));
    }

    #[test]
    fn yaml_deep_nesting_is_refused_at_the_line_it_crosses_the_limit() {
        let text = format!("version: 1\nenv: {}\n", nested("[", "]", 200_000));
        match check(&text) {
            Err(YamlStop::Limit(Breach::TooDeep((line, _)))) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn yaml_aliases_count_as_what_they_expand_to() {
        // Each alias stands for the 64-level anchor, one level deeper than it was written.
        let anchor = format!("a: &x {}\n", nested("[", "]", 64));
        assert!(yaml_depth_ok(&anchor));
        assert!(!yaml_depth_ok(&format!("{anchor}b: [*x]\n")));

        let wide = vec!["1"; 1000].join(",");
        let refs = |name: &str| vec![format!("*{name}"); 1000].join(",");
        let bomb = format!(
            "a: &a [{wide}]\nb: &b [{}]\nc: &c [{}]\n",
            refs("a"),
            refs("b")
        );
        match check(&bomb) {
            Err(YamlStop::Limit(Breach::TooManyValues((line, _)))) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        assert!(check(&format!("a: &a [{wide}]\nb: [{}]\n", refs("a"))).is_ok());
    }

    #[test]
    fn yaml_syntax_errors_are_reported_with_their_position() {
        match check("version: 1\nroles: [\n") {
            Err(YamlStop::Syntax((line, _), _)) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scalars_resolve_as_yaml_1_2_core_schema() {
        let cases: &[(&str, Value)] = &[
            ("~", Value::Null),
            ("null", Value::Null),
            ("NULL", Value::Null),
            ("", Value::Null),
            ("true", json!(true)),
            ("False", json!(false)),
            ("yes", json!("yes")),
            ("on", json!("on")),
            ("1", json!(1)),
            ("+1", json!(1)),
            ("-17", json!(-17)),
            ("0x1f", json!(31)),
            ("0o17", json!(15)),
            ("0b101", json!(5)),
            ("-0x10", json!(-16)),
            ("0123", json!("0123")),
            (
                "-0123",
                json!("0123").as_str().map(|_| json!("-0123")).unwrap(),
            ),
            ("0", json!(0)),
            ("18446744073709551615", json!(u64::MAX)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("1.5", json!(1.5)),
            ("-2e3", json!(-2000.0)),
            (".inf", Value::Null),
            ("inf", json!("inf")),
            ("nan", json!("nan")),
            ("1_000", json!("1_000")),
            ("0x", json!("0x")),
            ("12:30", json!("12:30")),
            ("v1.2", json!("v1.2")),
            ("kimi", json!("kimi")),
        ];
        for (text, want) in cases {
            assert_eq!(&value(&format!("k: {text}\n"))["k"], want, "{text:?}");
        }
        for quoted in ["'1'", "\"true\"", "'~'", "!!str 12", "|\n  7\n"] {
            assert!(
                value(&format!("k: {quoted}\n"))["k"].is_string(),
                "{quoted}"
            );
        }
        assert_eq!(value("k: !!int '7'\n")["k"], json!(7));
        assert_eq!(value("k: !!bool 'true'\n")["k"], json!(true));
    }

    #[test]
    fn anchors_and_aliases_copy_the_anchored_value() {
        let v = value("base: &b {image: img}\nroles:\n  a: *b\n  k: &n name\nkeys: {*n : 1}\n");
        assert_eq!(v["roles"]["a"], json!({"image": "img"}));
        assert_eq!(v["keys"], json!({"name": 1}));
        // An anchored key is a value aliases can name too.
        assert_eq!(value("&k key: 1\nother: *k\n")["other"], json!("key"));
    }

    #[test]
    fn an_empty_or_all_comments_file_is_an_empty_table() {
        assert_eq!(value(""), json!({}));
        assert_eq!(value("# nothing\n"), json!({}));
        assert_eq!(value("---\n"), json!({}));
    }

    #[test]
    fn what_a_state_file_has_no_use_for_is_refused_where_it_is() {
        let stop = |text: &str| read(Path::new("j.yaml"), text).unwrap_err();
        assert_eq!(
            stop("roles:\n  smith:\n    image: a\n    image: b\n"),
            YamlStop::Syntax(
                (4, 5),
                "key `roles.smith.image` is defined twice (first at line 3, column 5)".into()
            )
        );
        assert_eq!(
            stop("? [a, b]\n: 1\n"),
            YamlStop::Shape(
                (1, 3),
                "a mapping key must be a plain string, not a mapping or a sequence".into()
            )
        );
        assert!(matches!(
            stop("a: &a [1, *a]\n"),
            YamlStop::Shape((1, 11), m) if m.contains("recursive alias")
        ));
        assert_eq!(
            stop("k: !!binary aGk=\n"),
            YamlStop::Shape(
                (1, 13),
                "YAML tag `!!binary` is not supported: a state file is plain data".into()
            )
        );
        assert!(matches!(
            stop("version: 1\n---\nroles: {}\n"),
            YamlStop::Syntax((2, 1), m) if m.starts_with("a second YAML document")
        ));
        assert_eq!(
            stop("roles: !foo {}\n"),
            YamlStop::Shape(
                (1, 13),
                "YAML tag `!foo` is not supported: a state file is plain data".into()
            )
        );
        assert_eq!(
            stop("k: !!int x\n"),
            YamlStop::Shape(
                (1, 10),
                "this value is tagged `!!int` but is not an integer".into()
            )
        );
    }
}
