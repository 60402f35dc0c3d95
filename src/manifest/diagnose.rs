//! Rewrites serde's type-check messages into jackin's: the key path, a "did you mean", the
//! allowed keys or values — and never the offending value.
//!
//! serde's `invalid type: string "hunter2", expected …` quotes the value; for an env entry
//! that value may be a secret, so every such message is rebuilt from its parts and the value
//! is dropped. Anything we do not recognise passes through unchanged (those messages come
//! from the parsers themselves and name tokens, not values).

/// jackin's message for a type-check failure serde reported at key `path` (for an unknown
/// key, the path ends with that key).
pub(crate) fn describe(msg: &str, path: &[String]) -> String {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (field, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let parent = match path.split_last() {
            Some((last, parent)) if last == field => parent,
            _ => path,
        };
        let expected = backticked(rest);
        return format!(
            "unknown key `{field}` in {}{}",
            render_path(parent),
            choices(field, &expected)
        );
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (variant, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = backticked(rest);
        return format!(
            "unknown value `{variant}` for {}{}",
            render_path(path),
            choices(variant, &expected)
        );
    }
    for (head, what) in [
        ("invalid type: ", "wrong type"),
        ("invalid value: ", "invalid value"),
    ] {
        if let Some(rest) = msg.strip_prefix(head) {
            let expected = rest
                .rfind(", expected ")
                .map_or("", |i| &rest[i + ", expected ".len()..]);
            return format!(
                "{what} for {}: expected {expected}, found {}",
                render_path(path),
                kind_of(rest)
            );
        }
    }
    if let Some(rest) = msg.strip_prefix("invalid length ") {
        let expected = rest.split_once(", expected ").map_or("", |(_, e)| e);
        return format!(
            "wrong number of items for {}: expected {expected}",
            render_path(path)
        );
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split_once('`').map_or(rest, |(f, _)| f);
        return format!("missing key `{field}` in {}", render_path(path));
    }
    if let Some(rest) = msg.strip_prefix("duplicate field `") {
        let field = rest.split_once('`').map_or(rest, |(f, _)| f);
        return format!("key `{field}` is defined twice");
    }
    msg.replace('\n', "; ")
}

/// `; did you mean `x`? expected one of: a, b` (or `; nothing is allowed here`).
fn choices(got: &str, expected: &[String]) -> String {
    if expected.is_empty() {
        return "; nothing is allowed here".to_owned();
    }
    let mut out = String::new();
    if let Some(best) = closest(got, expected.iter().map(String::as_str)) {
        out.push_str(&format!("; did you mean `{best}`?"));
    } else {
        out.push(';');
    }
    out.push_str(&format!(" expected one of: {}", expected.join(", ")));
    out
}

/// The candidate a typo most likely meant, if any is close enough to be worth suggesting.
pub(crate) fn closest<'a>(
    got: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(got, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// The kind of a serde `Unexpected` value, without the value itself.
fn kind_of(unexpected: &str) -> &'static str {
    const KINDS: [(&str, &str); 10] = [
        ("boolean", "a boolean"),
        ("integer", "an integer"),
        ("floating point", "a float"),
        ("character", "a string"),
        ("string", "a string"),
        ("unit value", "null"),
        ("Option value", "null"),
        ("sequence", "an array"),
        ("map", "a table"),
        ("enum", "a tagged value"),
    ];
    KINDS
        .iter()
        .find(|(prefix, _)| unexpected.starts_with(prefix))
        .map_or("another kind of value", |(_, kind)| kind)
}

/// `workspaces.a.mounts[0].dst`; the only arrays in the file are `mounts` and `agents`.
pub(crate) fn render_path<S: AsRef<str>>(path: &[S]) -> String {
    if path.is_empty() {
        return "the top level".to_owned();
    }
    let mut out = String::new();
    let mut prev = "";
    for part in path {
        let part = part.as_ref();
        if matches!(prev, "mounts" | "agents") && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
        prev = part;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_type_messages_never_quote_the_value() {
        let msg = describe(
            "invalid type: string \"s3cr3t, expected x\", expected a table",
            &[],
        );
        assert_eq!(
            msg,
            "wrong type for the top level: expected a table, found a string"
        );
    }

    #[test]
    fn suggestions_pick_the_nearest_candidate_only_when_close() {
        assert_eq!(closest("modle", ["model"]), Some("model"));
        assert_eq!(
            closest("apikey", ["sync", "api_key", "ignore"]),
            Some("api_key")
        );
        assert_eq!(closest("zzzzzz", ["model"]), None);
    }

    #[test]
    fn array_indices_render_as_brackets() {
        assert_eq!(
            render_path(&["workspaces", "a", "mounts", "0", "dst"]),
            "workspaces.a.mounts[0].dst"
        );
    }
}
