#!/usr/bin/env python3
"""Fail when jackin's top-level modules depend on each other in a cycle.

    python3 scripts/module-cycles.py          # prints the graph's cycles; exit 1 if any

A module's dependencies are the other top-level modules its files name as `crate::NAME`
(in `use` lines and paths alike; `#[cfg(test)]` code included: a test that reaches back
is still a cycle in the build). The data flow of SPEC is one way (desired state → observe →
plan → execute → report), and this check keeps it so: ripgrep and kube-rs layer their crates
the same way. Python 3 stdlib only.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def modules():
    out = {}
    for entry in sorted(os.listdir(SRC)):
        path = os.path.join(SRC, entry)
        name = entry[:-3] if entry.endswith(".rs") else entry
        if name in ("main", "lib"):
            continue
        files = []
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                files += [os.path.join(root, n) for n in names if n.endswith(".rs")]
        elif entry.endswith(".rs"):
            files.append(path)
            sub = os.path.join(SRC, name)
            if os.path.isdir(sub):
                continue  # its folder is listed on its own
        out.setdefault(name, []).extend(files)
    return out


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def graph(mods):
    deps = {}
    for name, files in mods.items():
        seen = set()
        for f in files:
            text = strip_comments(open(f, encoding="utf-8").read())
            for m in re.finditer(r"\bcrate::([a-z_][a-z0-9_]*)", text):
                seen.add(m.group(1))
            # `use crate::{a, b::c}` groups
            for m in re.finditer(r"\bcrate::\{([^}]*)\}", text):
                for item in re.split(r"[,\s]+", m.group(1)):
                    if item:
                        seen.add(item.split("::")[0])
        deps[name] = sorted(d for d in seen if d in mods and d != name)
    return deps


def cycles(deps):
    """Strongly connected components of two or more modules (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in deps[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in deps:
        if v not in index:
            visit(v)
    return out


def main():
    deps = graph(modules())
    found = cycles(deps)
    if "-v" in sys.argv:
        for k, v in sorted(deps.items()):
            print(f"{k} -> {', '.join(v)}")
    if not found:
        print(f"module-cycles: {len(deps)} top-level modules, no cycle")
        return 0
    for comp in found:
        print("module-cycles: these modules depend on each other in a cycle: " + ", ".join(comp))
        for a in comp:
            back = [b for b in deps[a] if b in comp]
            print(f"  {a} -> {', '.join(back)}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
