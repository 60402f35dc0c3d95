//! Nesting depth of a TOML state file, measured in one linear pass before the text reaches
//! the parser, whose stack grows with the nesting. (YAML's depth and alias expansion are
//! checked by the pass that reads it, `read_yaml.rs`: its event parser needs no stack.)
//!
//! Depth counts the way the parsed document nests: the top-level table is level 0, and each
//! table or array inside adds one, whether written inline (`[[…]]`, `{a = {…}}`), as a header
//! (`[a.b]` is two levels, `[[a.b]]` three: the array's element is a table) or as a dotted key
//! (`a.b.c = 1` makes two tables). The scanner stops at the first level past [`MAX_DEPTH`],
//! so its own stack stays small.

use super::limits::MAX_DEPTH;

/// A limit crossed, and the byte offset (TOML) or 1-based line and column (YAML) where.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Breach<P> {
    TooDeep(P),
    /// YAML aliases expand the document past
    /// [`MAX_YAML_VALUES`](super::limits::MAX_YAML_VALUES).
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
}
