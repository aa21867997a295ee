#!/usr/bin/env python3
"""The gateway crate's import graph: which module imports which, its cycles and the layering rules.

`python3 tools/import_graph.py` prints the counts; `--check` exits 1 when a rule is broken:
  - only `app.rs` (which mounts the router) imports `crate::api` from outside `api/`;
  - only `api/`, `cli.rs` and `main.rs` import `crate::app`;
  - no import cycle spans two top-level modules of `src/`.
A module is a file; `use crate::a::b::{c, d}` and inline `crate::a::b::f(..)` paths both count, resolved to
the longest module path that exists.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def modules():
    mods = {}
    for root, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), SRC)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main") and len(parts) > 0:
                if parts == ["lib"]:
                    parts = []
                elif parts == ["main"]:
                    parts = ["<main>"]
                else:
                    parts = parts[:-1]
            mods[tuple(parts)] = rel
    return mods


def strip_comments(text):
    """The code without its comments. Strings are skipped over, so a `*/*` or `https://` in a
    string or a doc comment cannot start or end a comment (a `*/*` in a doc comment used to hide
    everything up to the next `*/`, imports included)."""
    out, i, n, depth = [], 0, len(text), 0
    while i < n:
        c, nxt = text[i], text[i + 1] if i + 1 < n else ""
        if depth:
            if c == "/" and nxt == "*":
                depth, i = depth + 1, i + 2
            elif c == "*" and nxt == "/":
                depth, i = depth - 1, i + 2
            else:
                if c == "\n":
                    out.append(c)
                i += 1
            continue
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "/" and nxt == "*":
            depth, i = 1, i + 2
            continue
        raw = re.match(r'r(#*)"', text[i:i + 260]) if c == "r" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")) else None
        if raw:
            end = text.find('"' + raw.group(1), i + len(raw.group(0)))
            end = n if end < 0 else end + 1 + len(raw.group(1))
            out.append(text[i:end])
            i = end
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
            continue
        if c == "'":
            # A char literal ('x', '\n', '"'); otherwise a lifetime, kept as code.
            m = re.match(r"'(\\.[^']*|[^'\\])'", text[i:i + 12])
            if m:
                out.append(m.group(0))
                i += len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out)


def expand_use(tree):
    """Expand a use tree `a::{b, c::{d}}` into paths."""
    tree = tree.strip()
    if not tree:
        return []
    depth, items = 0, []
    # split top-level prefix and braces
    m = re.match(r"^([\w:]*?)(::)?\{(.*)\}$", tree, flags=re.S)
    if not m:
        return [tree.split(" as ")[0].strip()]
    prefix, inner = m.group(1), m.group(3)
    buf = ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(buf)
            buf = ""
        else:
            buf += ch
    items.append(buf)
    out = []
    for it in items:
        for p in expand_use(it):
            if p in ("self", ""):
                out.append(prefix)
            else:
                out.append(f"{prefix}::{p}" if prefix else p)
    return out


def resolve(path, mods):
    parts = [p for p in path.split("::") if p]
    while parts:
        if tuple(parts) in mods:
            return tuple(parts)
        parts = parts[:-1]
    return None


def graph(mods):
    edges = {m: set() for m in mods}
    for mod, rel in mods.items():
        text = strip_comments(open(os.path.join(SRC, rel), encoding="utf-8").read())
        paths = []
        for m in re.finditer(r"\buse\s+crate::(.*?);", text, flags=re.S):
            paths += expand_use(m.group(1))
        # crate::x::y outside `use` lines
        for m in re.finditer(r"(?<!use )\bcrate::((?:\w+::)*\w+)", text):
            paths.append(m.group(1))
        for p in paths:
            target = resolve(p, mods)
            if target is not None and target != mod and not is_ancestor(target, mod):
                edges[mod].add(target)
    return edges


def is_ancestor(a, b):
    # a module's own parents (mod.rs declaring it) are not imports in the layering sense
    return len(a) < len(b) and b[: len(a)] == a


def top(mod):
    return mod[0] if mod else "<lib>"


def sccs(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        work = [(v, iter(sorted(edges[v])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    out.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def name(mod):
    return "crate::" + "::".join(mod) if mod else "crate"


def main():
    mods = modules()
    edges = graph(mods)
    broken = []
    for mod, targets in sorted(edges.items()):
        inside_api = top(mod) == "api"
        for t in sorted(targets):
            if top(t) == "api" and not inside_api and mod != ("app",):
                broken.append(f"{name(mod)} imports {name(t)} (only app.rs may import api/)")
            if top(t) == "app" and not inside_api and mod not in (("cli",), ("<main>",)):
                broken.append(f"{name(mod)} imports {name(t)} (only api/, cli.rs and main.rs may import app)")
    cross = [c for c in sccs(edges) if len({top(m) for m in c}) > 1]
    for c in cross:
        tops = sorted({top(m) for m in c})
        broken.append(f"an import cycle of {len(c)} files spans {len(tops)} top-level modules: {', '.join(tops)}")
    n_edges = sum(len(t) for t in edges.values())
    print(f"{len(mods)} modules, {n_edges} imports; {len(cross)} cycle(s) across top-level modules "
          f"({sum(len(c) for c in cross)} files); {sum(1 for b in broken if 'imports' in b)} layering violation(s)")
    for b in broken:
        print("  " + b)
    if "--check" in sys.argv and broken:
        sys.exit(1)


if __name__ == "__main__":
    main()
