"""Import contracts: no cycles among hashmatch modules; the coordinator never holds the secret.

The graph is static (``ast`` over ``src/hashmatch``), so it sees every import a module can
make, including those inside functions, and not only the ones one run happens to take.
Imports under ``if TYPE_CHECKING:`` are left out: they never run. ``import_module("...")``
with a literal name counts as an import.

An import of ``hashmatch.x.y`` from outside package ``hashmatch.x`` also runs
``hashmatch/x/__init__.py`` first, so it counts as an import of ``hashmatch.x`` too; from
inside that package it does not (the package's ``__init__`` is already running). The root
package ``hashmatch/__init__.py`` (the public facade, which imports everything lazily) is
not part of the graph: stage modules must not import from it.

The rules, and why:

* **No cycles.** A cycle means neither module can be understood, tested or moved without
  the other, and its import order decides which one sees a half-initialised partner.
* **The coordinator never holds the secret.** Nothing reachable from ``hashmatch.link``,
  ``hashmatch.kernel``, ``hashmatch.registry``, ``hashmatch.report`` or
  ``hashmatch.service`` may be ``hashmatch.encode`` (the linkage secret, its key
  derivation and keyed hashes), ``hashmatch.normalize`` (code that reads
  raw values) or ``hashmatch.schema`` (whose package validates with the normalisers). The
  coordinator reads encodings through ``hashmatch.encfile``, which both sides share.
* **The party side does not reach into the coordinator.** ``hashmatch.encode``,
  ``hashmatch.normalize``, ``hashmatch.schema`` and ``hashmatch.audit`` run on a party's
  machine and reach neither ``hashmatch.link`` nor ``hashmatch.registry``; what they share
  with the coordinator (the file format, the CLK layout, the token kinds) lives in
  ``hashmatch.encfile`` and ``hashmatch._types``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

import hashmatch.link

SRC = Path(hashmatch.link.__file__).resolve().parents[2]
ROOT = "hashmatch"

#: Packages on the coordinator's side (the registry is its persistent entity store, the
#: service answers lookups over it; the service's client holds no secret either: a party
#: encodes before it sends), and what no module of theirs may reach.
COORDINATOR = ("hashmatch.link", "hashmatch.kernel", "hashmatch.registry", "hashmatch.report",
               "hashmatch.service")
SECRET_SIDE = ("hashmatch.encode", "hashmatch.normalize", "hashmatch.schema")
#: Packages that run on a party's machine, and the coordinator packages they must not reach.
PARTY_SIDE = ("hashmatch.encode", "hashmatch.normalize", "hashmatch.schema", "hashmatch.audit")
COORDINATOR_ONLY = ("hashmatch.link", "hashmatch.registry")


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Every hashmatch module by dotted name (a package by the name of its ``__init__``)."""
    modules = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node`` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def imported_names(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The dotted names module ``name`` imports at run time, resolved to known modules."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules else base)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets.add(node.args[0].value)
    return {target for target in targets if target in modules or target.startswith(ROOT + ".")}


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module -> the modules it imports, with the package ``__init__``s they run first."""
    modules = module_files(src)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if name == ROOT:
            continue
        edges = set()
        for target in imported_names(name, path, modules):
            parts = target.split(".")
            for depth in range(2, len(parts) + 1):
                prefix = ".".join(parts[:depth])
                inside = name == prefix or name.startswith(prefix + ".")
                if prefix in modules and (prefix == target or not inside):
                    edges.add(prefix)
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    found = []
    for group in groups:
        start = min(group)
        path = shortest_path(graph, start, lambda n, s=start: n == s, within=group)
        found.append(path or sorted(group))
    return sorted(found)


def describe_cycles(graph: dict[str, set[str]]) -> str:
    """One line per cycle, ``a -> b -> a``, with the other modules caught in it."""
    lines = []
    for cycle in cycles(graph):
        group = _group_of(graph, cycle[0])
        others = sorted(group - set(cycle))
        lines.append(
            " -> ".join(cycle) + (f"   (also in it: {', '.join(others)})" if others else "")
        )
    return "\n".join(lines)


def _group_of(graph: dict[str, set[str]], node: str) -> set[str]:
    """The modules that reach ``node`` and are reached from it."""
    ahead = _reach(graph, node)
    behind = _reach({m: {n for n in graph if m in graph[n]} for m in graph}, node)
    return ahead & behind


def _reach(graph: dict[str, set[str]], node: str) -> set[str]:
    seen, todo = {node}, [node]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def shortest_path(
    graph: dict[str, set[str]], start: str, goal, within: set[str] | None = None
) -> list[str] | None:
    """The shortest import chain from ``start`` to a module for which ``goal`` holds."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph.get(node, ())):
            if within is not None and nxt not in within:
                continue
            if goal(nxt):
                chain = [nxt, node]
                while chain[-1] != start:
                    chain.append(came_from[chain[-1]])
                return chain[::-1]
            if nxt not in came_from and nxt != start:
                came_from[nxt] = node
                queue.append(nxt)
    return None


def _in(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


GRAPH = import_graph()


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / ROOT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_walker_sees_every_kind_of_import(tmp_path: Path) -> None:
    src = _write_tree(
        tmp_path,
        {
            "__init__.py": "from hashmatch.b import thing\n",  # the root: not in the graph
            "a.py": "def f():\n    from hashmatch import b\n",
            "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from hashmatch import a\nelse:\n    from . import c\n",
            "c.py": "import importlib\nimportlib.import_module('hashmatch.p.q')\n",
            "p/__init__.py": "from .q import x\n",
            "p/q.py": "from ..a import f\nfrom hashmatch.p import r\n",
            "p/r.py": "import numpy\n",
        },
    )
    graph = import_graph(src)
    assert "hashmatch" not in graph
    assert graph["hashmatch.a"] == {"hashmatch.b"}  # a function-level import counts
    assert graph["hashmatch.b"] == {"hashmatch.c"}  # TYPE_CHECKING is skipped, else is not
    assert graph["hashmatch.c"] == {"hashmatch.p", "hashmatch.p.q"}  # with the package
    assert graph["hashmatch.p.q"] == {"hashmatch.a", "hashmatch.p.r"}  # no own package
    assert graph["hashmatch.p.r"] == set()
    assert cycles(graph) == [
        ["hashmatch.a", "hashmatch.b", "hashmatch.c", "hashmatch.p.q", "hashmatch.a"]
    ]
    assert "(also in it: hashmatch.p)" in describe_cycles(graph)


def test_a_package_init_importing_back_is_a_cycle(tmp_path: Path) -> None:
    src = _write_tree(
        tmp_path,
        {
            "s/__init__.py": "from hashmatch.s.v import check\n",
            "s/v.py": "from hashmatch.n.t import norm\n",
            "n/__init__.py": "",
            "n/t.py": "from hashmatch.s.m import Source\n",  # runs s/__init__ first
            "s/m.py": "",
        },
    )
    assert cycles(import_graph(src)) == [
        ["hashmatch.n.t", "hashmatch.s", "hashmatch.s.v", "hashmatch.n.t"]
    ]


def test_the_graph_sees_the_tree() -> None:
    # A broken walker would pass every contract vacuously.
    assert "hashmatch.link.pipeline" in GRAPH and "hashmatch.encode.keys" in GRAPH
    assert "hashmatch.link.blocking" in GRAPH["hashmatch.link.pipeline"]
    assert "hashmatch.encfile" in GRAPH["hashmatch.link.inputs"]


def test_no_stage_module_imports_the_root_facade() -> None:
    # hashmatch/__init__.py imports the stages (lazily); a stage importing it back would
    # load the whole facade, and hide that dependency from the graph above.
    modules = module_files()
    offenders = sorted(
        name
        for name, path in modules.items()
        if name != ROOT and ROOT in imported_names(name, path, modules)
    )
    assert not offenders, f"import from the root package instead of its module: {offenders}"


def test_no_import_cycles() -> None:
    assert not cycles(GRAPH), "import cycles:\n" + describe_cycles(GRAPH)


@pytest.mark.parametrize("module", sorted(name for name in GRAPH if _in(name, COORDINATOR)))
def test_the_coordinator_never_reaches_the_secret(module: str) -> None:
    chain = shortest_path(GRAPH, module, lambda name: _in(name, SECRET_SIDE))
    assert chain is None, "coordinator reaches the party side: " + " -> ".join(chain or [])


@pytest.mark.parametrize("module", sorted(name for name in GRAPH if _in(name, PARTY_SIDE)))
def test_the_party_side_never_reaches_the_coordinator(module: str) -> None:
    chain = shortest_path(GRAPH, module, lambda name: _in(name, COORDINATOR_ONLY))
    assert chain is None, "party side reaches the coordinator: " + " -> ".join(chain or [])


def test_importing_the_coordinator_loads_nothing_of_the_party_side() -> None:
    # The same rule at run time: catches imports the static graph cannot see.
    present = [name for name in COORDINATOR if name in GRAPH]
    code = (
        f"import importlib, sys\nfor name in {present!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({SECRET_SIDE!r}))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert out == "", f"importing {', '.join(present)} loads {out}"
