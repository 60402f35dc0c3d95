//! Nesting depth (and, for YAML, alias expansion) of a state file, measured in one linear
//! pass before the text reaches the parsers that cost more on deep input.
//!
//! Depth counts the way the parsed document nests: the top-level table is level 0, and each
//! table, array, mapping or sequence inside adds one, whether written inline (`[[…]]`,
//! `{a = {…}}`), as a header (`[a.b]` is two levels, `[[a.b]]` three: the array's element is
//! a table), as a dotted key (`a.b.c = 1` makes two tables) or by YAML indentation. Both
//! scanners stop at the first level past [`MAX_DEPTH`], so their own stacks stay small.

use super::limits::{MAX_DEPTH, MAX_YAML_VALUES};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, ScanError};

/// A limit crossed, and the byte offset (TOML) or 1-based line and column (YAML) where.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Breach<P> {
    TooDeep(P),
    /// YAML aliases expand the document past [`MAX_YAML_VALUES`].
    TooManyValues(P),
}

/// The byte offset where a TOML text first nests past [`MAX_DEPTH`], if it does.
///
/// A scanner, not a parser: it knows strings, comments, headers, dotted keys and brackets,
/// which is all nesting is made of. On text that is not TOML it may stop anywhere; the TOML
/// parser that runs next reports the real error.
pub(crate) fn toml_too_deep(text: &str) -> Option<usize> {
    TomlScan {
        s: text.as_bytes(),
        i: 0,
        table: 0,
        open: Vec::new(),
        mode: Mode::LineStart,
    }
    .run()
}

/// An open inline array or table, and its level.
#[derive(Clone, Copy)]
enum Frame {
    Array(usize),
    Table(usize),
}

impl Frame {
    fn level(self) -> usize {
        match self {
            Frame::Array(l) | Frame::Table(l) => l,
        }
    }
}

/// What the next token is, and the level the containers it opens nest under.
#[derive(Clone, Copy)]
enum Mode {
    /// Start of a line outside any bracket: a header or a key follows.
    LineStart,
    /// Inside `[…]` / `[[…]]`, counting dots.
    Header { dots: usize, array: bool },
    /// Rest of a header line.
    AfterHeader,
    /// A (dotted) key in a table whose level is `base`.
    Key { base: usize, dots: usize },
    /// A value: `[` and `{` open a container one level under `base`.
    Value { base: usize },
}

struct TomlScan<'a> {
    s: &'a [u8],
    i: usize,
    /// Level of the table the last header opened (0: the top level).
    table: usize,
    open: Vec<Frame>,
    mode: Mode,
}

impl TomlScan<'_> {
    fn run(mut self) -> Option<usize> {
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'#' => self.skip_comment(),
                b'"' | b'\'' => self.skip_string(),
                b'\n' => {
                    if self.open.is_empty() {
                        self.mode = Mode::LineStart;
                    }
                    self.i += 1;
                }
                b' ' | b'\t' | b'\r' => self.i += 1,
                c => {
                    if let Some(level) = self.token(c) {
                        if level > MAX_DEPTH {
                            return Some(self.i);
                        }
                    }
                    self.i += 1;
                }
            }
        }
        None
    }

    /// Handles one structural byte at `self.i`; returns the level of anything it opened.
    fn token(&mut self, c: u8) -> Option<usize> {
        match (self.mode, c) {
            (Mode::LineStart, b'[') => {
                let array = self.s.get(self.i + 1) == Some(&b'[');
                self.i += usize::from(array);
                self.mode = Mode::Header { dots: 0, array };
                None
            }
            (Mode::LineStart, _) => {
                self.mode = Mode::Key {
                    base: self.table,
                    dots: 0,
                };
                self.token(c)
            }
            (Mode::Header { dots, array }, b'.') => {
                self.mode = Mode::Header {
                    dots: dots + 1,
                    array,
                };
                // The key after this dot names a table one level deeper.
                Some(dots + 2)
            }
            (Mode::Header { dots, array }, b']') => {
                // `[a.b]`: tables a and b; `[[a.b]]`: b is an array whose elements are tables.
                self.table = dots + 1 + usize::from(array);
                self.mode = Mode::AfterHeader;
                Some(self.table)
            }
            (Mode::Key { base, dots }, b'.') => {
                // `a.b`: the key before this dot names a table.
                self.mode = Mode::Key {
                    base,
                    dots: dots + 1,
                };
                Some(base + dots + 1)
            }
            (Mode::Key { base, dots }, b'=') => {
                self.mode = Mode::Value { base: base + dots };
                None
            }
            (Mode::Value { base }, b'[') => Some(self.push(Frame::Array(base + 1))),
            (Mode::Value { base }, b'{') => Some(self.push(Frame::Table(base + 1))),
            (Mode::Value { .. } | Mode::Key { .. }, b',') => {
                self.resume();
                None
            }
            (Mode::Value { .. } | Mode::Key { .. }, b']' | b'}') => {
                self.open.pop();
                self.mode = Mode::Value {
                    base: self.open.last().map_or(self.table, |f| f.level()),
                };
                None
            }
            _ => None,
        }
    }

    fn push(&mut self, frame: Frame) -> usize {
        self.open.push(frame);
        self.resume();
        frame.level()
    }

    /// After `[`, `{` or `,`: an array takes a value next, an inline table a key.
    fn resume(&mut self) {
        self.mode = match self.open.last() {
            Some(Frame::Array(level)) => Mode::Value { base: *level },
            Some(Frame::Table(level)) => Mode::Key {
                base: *level,
                dots: 0,
            },
            None => Mode::Value { base: self.table },
        };
    }

    fn skip_comment(&mut self) {
        while self.i < self.s.len() && self.s[self.i] != b'\n' {
            self.i += 1;
        }
    }

    /// Skips a basic or literal string, single- or multi-line, escapes included.
    fn skip_string(&mut self) {
        let q = self.s[self.i];
        let triple = [q, q, q];
        let multi = self.s[self.i..].starts_with(&triple);
        self.i += if multi { 3 } else { 1 };
        while self.i < self.s.len() {
            let c = self.s[self.i];
            if c == b'\\' && q == b'"' {
                self.i += 2;
            } else if multi && self.s[self.i..].starts_with(&triple) {
                self.i += 3;
                // `"""a""""` ends with two quotes of content: a closing run is up to 5 long.
                let mut extra = 0;
                while extra < 2 && self.s.get(self.i) == Some(&q) {
                    self.i += 1;
                    extra += 1;
                }
                return;
            } else if !multi && c == q {
                self.i += 1;
                return;
            } else if !multi && c == b'\n' {
                return;
            } else {
                self.i += 1;
            }
        }
    }
}

/// Why a YAML text was not accepted by [`yaml_check`].
#[derive(Debug)]
pub(crate) enum YamlStop {
    Limit(Breach<(usize, usize)>),
    Syntax(ScanError),
}

/// Checks a YAML text's depth and alias expansion with yaml-rust2's event parser, which
/// stays linear on deep input (its scanner refuses flow nesting past 255; we stop at
/// [`MAX_DEPTH`]). Every document of the stream is checked: serde_yaml parses them all.
///
/// A syntax error found here is reported as such: the text must not go on to libyaml,
/// whose cost on deep nesting is quadratic, on the strength of a check that did not finish.
pub(crate) fn yaml_check(text: &str) -> Result<(), YamlStop> {
    let mut parser = Parser::new_from_str(text);
    let mut tally = Tally::default();
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            if e.info() == "recursion limit exceeded" {
                YamlStop::Limit(Breach::TooDeep(pos(*e.marker())))
            } else {
                YamlStop::Syntax(e)
            }
        })?;
        let at = pos(mark);
        let done = match event {
            Event::StreamEnd => return Ok(()),
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                tally.open(anchor, at)
            }
            Event::MappingEnd | Event::SequenceEnd => {
                tally.close();
                Ok(())
            }
            Event::Scalar(_, _, anchor, _) => tally.node(anchor, Size::ONE, at),
            Event::Alias(id) => {
                let size = tally.anchors.get(&id).copied().unwrap_or(Size::ONE);
                tally.node(0, size, at)
            }
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {
                Ok(())
            }
        };
        done.map_err(YamlStop::Limit)?;
    }
}

/// yaml-rust2 markers are 1-based lines and 0-based columns.
fn pos(m: Marker) -> (usize, usize) {
    (m.line(), m.col() + 1)
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

/// Running totals over the event stream; aliases count as what they expand to.
#[derive(Default)]
struct Tally {
    /// Open containers: their anchor id (0: none) and what their children add up to.
    open: Vec<(usize, Size)>,
    /// The size of every anchored node closed so far.
    anchors: HashMap<usize, Size>,
    /// Values in the expanded stream so far.
    values: u64,
}

impl Tally {
    fn open(&mut self, anchor: usize, at: (usize, usize)) -> Result<(), Breach<(usize, usize)>> {
        self.check(
            Size {
                values: 1,
                height: 1,
            },
            at,
        )?;
        self.open.push((
            anchor,
            Size {
                values: 1,
                height: 0,
            },
        ));
        Ok(())
    }

    fn close(&mut self) {
        let Some((anchor, children)) = self.open.pop() else {
            return;
        };
        let size = Size {
            height: children.height + 1,
            ..children
        };
        if anchor != 0 {
            self.anchors.insert(anchor, size);
        }
        self.add_to_parent(size);
    }

    /// A scalar or an alias: complete at once.
    fn node(
        &mut self,
        anchor: usize,
        size: Size,
        at: (usize, usize),
    ) -> Result<(), Breach<(usize, usize)>> {
        self.check(size, at)?;
        if anchor != 0 {
            self.anchors.insert(anchor, size);
        }
        self.add_to_parent(size);
        Ok(())
    }

    /// A node of `size` placed at the current level: within the depth and value limits?
    /// (Its own values are counted here, once; `add_to_parent` only builds anchor sizes.)
    fn check(&mut self, size: Size, at: (usize, usize)) -> Result<(), Breach<(usize, usize)>> {
        // The node's own level is `open.len()`; its deepest container is `height - 1` below.
        if size.height > 0 && self.open.len() + size.height - 1 > MAX_DEPTH {
            return Err(Breach::TooDeep(at));
        }
        self.values = self.values.saturating_add(size.values);
        if self.values > MAX_YAML_VALUES {
            return Err(Breach::TooManyValues(at));
        }
        Ok(())
    }

    fn add_to_parent(&mut self, size: Size) {
        if let Some((_, parent)) = self.open.last_mut() {
            parent.values = parent.values.saturating_add(size.values);
            parent.height = parent.height.max(size.height);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!("{}1{}", open.repeat(n), close.repeat(n))
    }

    fn toml_depth_ok(text: &str) -> bool {
        toml_too_deep(text).is_none()
    }

    #[test]
    fn toml_inline_arrays_and_tables_are_limited_to_64_levels() {
        assert!(toml_depth_ok(&format!("x = {}\n", nested("[", "]", 64))));
        let deep = format!("version = 1\nx = {}\n", nested("[", "]", 65));
        assert_eq!(toml_too_deep(&deep), Some("version = 1\nx = ".len() + 64));
        assert!(toml_depth_ok(&format!(
            "x = {}\n",
            nested("{a = ", "}", 64)
        )));
        assert!(!toml_depth_ok(&format!(
            "x = {}\n",
            nested("{a = ", "}", 65)
        )));
    }

    #[test]
    fn toml_headers_and_dotted_keys_count_as_levels() {
        let keys = |n: usize| vec!["k"; n].join(".");
        assert!(toml_depth_ok(&format!("[{}]\n", keys(64))));
        assert!(!toml_depth_ok(&format!("[{}]\n", keys(65))));
        assert!(toml_depth_ok(&format!("[[{}]]\n", keys(63))));
        assert!(!toml_depth_ok(&format!("[[{}]]\n", keys(64))));
        // `k.….k = 1` with 65 segments makes 64 tables; a value under them is one more.
        assert!(toml_depth_ok(&format!("{} = 1\n", keys(65))));
        assert!(!toml_depth_ok(&format!("{} = [1]\n", keys(65))));
        assert!(toml_depth_ok(&format!("[{}]\nx.y = 1\n", keys(63))));
        assert!(!toml_depth_ok(&format!("[{}]\nx.y.z = 1\n", keys(63))));
        assert!(!toml_depth_ok(&format!("x = {{ {} = 1 }}\n", keys(65))));
    }

    #[test]
    fn toml_brackets_in_strings_and_comments_do_not_count() {
        let brackets = "[".repeat(100);
        for text in [
            format!("x = \"{brackets}\"\n"),
            format!("x = '{brackets}'\n"),
            format!("x = \"\"\"\n{brackets}\n\"\"\"\n"),
            format!("x = '''{brackets}''''\n"),
            format!("x = \"\\\"{brackets}\"\n"),
            format!("x = 1 # {brackets}\n"),
            format!("\"a.b.c\" = [\"{brackets}\", '''x''']\n"),
        ] {
            assert!(toml_depth_ok(&text), "{text}");
        }
        // Closed arrays give their levels back; a sibling starts again from the key's level.
        let wide = format!("x = [{}]\n", vec![nested("[", "]", 63); 3].join(", "));
        assert!(toml_depth_ok(&wide));
        // The next header resets the level the keys start from.
        let keys = vec!["k"; 60].join(".");
        assert!(toml_depth_ok(&format!(
            "[{keys}]\n[a]\nx = {}\n",
            nested("[", "]", 63)
        )));
    }

    #[test]
    fn toml_scanning_stops_at_the_limit_however_deep_the_file_goes() {
        let text = format!("x = {}\n", nested("[", "]", 200_000));
        assert_eq!(toml_too_deep(&text), Some(4 + 64));
    }

    fn yaml_depth_ok(text: &str) -> bool {
        match yaml_check(text) {
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
        match yaml_check(&text) {
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
        match yaml_check(&bomb) {
            Err(YamlStop::Limit(Breach::TooManyValues((line, _)))) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        assert!(yaml_check(&format!("a: &a [{wide}]\nb: [{}]\n", refs("a"))).is_ok());
    }

    #[test]
    fn yaml_syntax_errors_are_reported_with_their_position() {
        match yaml_check("version: 1\nroles: [\n") {
            Err(YamlStop::Syntax(e)) => assert_eq!(e.marker().line(), 3),
            other => panic!("{other:?}"),
        }
    }
}
