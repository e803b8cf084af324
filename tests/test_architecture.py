"""The architecture stays visible: no import cycles, dependencies point down the pipeline,
reports read only records and outcomes, the product never imports the simulator, and no
module grows into a grab bag."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_llmguard"
MAX_LINES = 420


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(name: str, path: Path) -> set[str]:
    """Modules of this package imported when ``name`` is imported (not inside functions,
    not under ``if TYPE_CHECKING``), with every parent package they import implicitly."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    modules = _modules()
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base]) if base else ".".join(anchor)
                for alias in node.names:
                    # ``from pkg import submodule`` imports the submodule; any other
                    # name comes from the module itself
                    full = f"{base}.{alias.name}"
                    found.add(full if full in modules else base)

    visit(tree.body)
    # A module's own ancestors are being initialised when it runs: importing a sibling
    # through them is no cycle. Importing a name *from* a package's __init__ is an edge.
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    edges: set[str] = set()
    for target in found:
        if not target.startswith("pytest_llmguard"):
            continue
        parts = target.split(".")
        deepest = max(
            (
                ".".join(parts[:i])
                for i in range(1, len(parts) + 1)
                if ".".join(parts[:i]) in modules
            ),
            key=len,
        )
        for i in range(1, len(parts) + 1):
            candidate = ".".join(parts[:i])
            if candidate not in modules or candidate == name:
                continue
            if candidate in ancestors and candidate != deepest:
                continue
            edges.add(candidate)
    return edges


def _graph() -> dict[str, set[str]]:
    return {name: _top_level_imports(name, path) for name, path in _modules().items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_reports_read_only_records_and_outcomes() -> None:
    allowed = {
        "pytest_llmguard",
        "pytest_llmguard.atomic",
        "pytest_llmguard.budgets",
        "pytest_llmguard.outcome",
        "pytest_llmguard.records",
        "pytest_llmguard.summary",  # metric definitions (units, names)
        "pytest_llmguard.units",
        "pytest_llmguard.metrics",
        "pytest_llmguard.metrics.pii",  # redaction of untrusted text
        "pytest_llmguard.report",
    }
    graph = _graph()
    wrong = {
        name: sorted(
            d
            for d in deps
            if d not in allowed
            and not d.startswith(("pytest_llmguard.report.", "pytest_llmguard.summary."))
        )
        for name, deps in graph.items()
        if name.startswith("pytest_llmguard.report")
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_product_never_imports_the_simulator() -> None:
    offenders = {
        name: sorted(d for d in deps if d.startswith("pytest_llmguard.sim"))
        for name, deps in _graph().items()
        if not name.startswith("pytest_llmguard.sim")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_nothing_imports_the_session_but_its_drivers() -> None:
    drivers = {"pytest_llmguard.cli", "pytest_llmguard.plugin", "pytest_llmguard.items"}
    users = {
        name
        for name, deps in _graph().items()
        if "pytest_llmguard.session" in deps and name != "pytest_llmguard.session"
    }
    assert users <= drivers


def test_no_module_is_a_grab_bag() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines())
        for name, path in _modules().items()
    }
    assert {n: s for n, s in sizes.items() if s > MAX_LINES} == {}
    banned = {"utils", "helpers", "common", "misc"}
    assert not [n for n in sizes if n.rsplit(".", 1)[-1] in banned]


def test_every_pipeline_stage_imports_downstream_only() -> None:
    """Records and outcomes are leaves of the pipeline: they import no stage."""
    graph = _graph()
    leaves = ("pytest_llmguard.records", "pytest_llmguard.outcome", "pytest_llmguard.budgets")
    stages = {
        "pytest_llmguard.session",
        "pytest_llmguard.runner",
        "pytest_llmguard.execution",
        "pytest_llmguard.gate",
        "pytest_llmguard.verdict",
        "pytest_llmguard.report",
        "pytest_llmguard.store",
    }
    reverse: dict[str, set[str]] = defaultdict(set)
    for leaf in leaves:
        reverse[leaf] = {d for d in graph[leaf] if any(d.startswith(s) for s in stages)}
    assert {k: v for k, v in reverse.items() if v} == {}
