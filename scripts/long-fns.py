#!/usr/bin/env python3
"""Fails when a non-test function in src/ is longer than LIMIT lines (issue 17: a function
that does several things reads as several functions). Test modules (`#[cfg(test)]`) are
skipped. Counts lines from the `fn` line to its closing brace.

Run by scripts/test.sh (so CI). Usage: scripts/long-fns.py [--list] [LIMIT]
"""
import pathlib
import re
import sys

LIMIT = 60
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def strip(line: str) -> str:
    """The line without string/char literals and // comments (enough for brace counting)."""
    line = re.sub(r'r#*"[^"]*"#*', '""', line)
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//", 1)[0]


def functions(path: pathlib.Path):
    lines = path.read_text().splitlines()
    i, n = 0, len(lines)
    test_depth = None  # brace depth at which a #[cfg(test)] item started
    depth = 0
    pending_test = False
    stack = []  # (name, start line, depth before its body)
    while i < n:
        raw = lines[i]
        line = strip(raw)
        if "#[cfg(test)]" in raw:
            pending_test = True
        m = FN.match(line)
        if m and test_depth is None:
            stack.append((m.group(6), i + 1, depth))
        for ch in line:
            if ch == "{":
                if pending_test and test_depth is None:
                    test_depth = depth
                    pending_test = False
                depth += 1
            elif ch == "}":
                depth -= 1
                if test_depth is not None and depth == test_depth:
                    test_depth = None
                if stack and stack[-1][2] == depth:
                    name, start, _ = stack.pop()
                    yield name, start, i + 2 - start
        if line.rstrip().endswith(";") and stack and stack[-1][1] == i + 1:
            stack.pop()  # a declaration without a body (trait method)
        if pending_test and line.rstrip().endswith(";"):
            pending_test = False  # `#[cfg(test)] use …;` or `mod tests;`
        i += 1


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    limit = int(args[0]) if args else LIMIT
    long = []
    for path in sorted(pathlib.Path("src").rglob("*.rs")):
        if path.name == "tests.rs":
            continue
        for name, start, length in functions(path):
            if length > limit:
                long.append((length, f"{path}:{start}", name))
    long.sort(reverse=True)
    for length, where, name in long:
        print(f"{length:4} {where} {name}")
    if long and "--list" not in sys.argv:
        print(f"{len(long)} non-test functions longer than {limit} lines", file=sys.stderr)
        return 1
    if not long:
        print(f"no non-test function longer than {limit} lines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
