"""The package's import graph is layered: every `harness.*` import (at module level or inside a
function) goes from a layer to the same or a lower one, and no cycle joins two subpackages or two
modules. docs/ARCHITECTURE.md ("Layers") says why each layer sits where it does."""
from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "harness"

# Lowest first: a module may import from its own layer and the ones above it in this list.
LAYERS: tuple[str, ...] = (
    "errors",     # how an error is said in one line (no harness imports)
    "config",     # the config schema, its enumerations, value parsing and checks, composition
    "models",     # the vocabulary and its special tokens, synthetic GGUFs, quantization, the model cache
    "harmony",    # render, track and parse the Harmony format
    "backends",   # where tokens are decoded: in-process, llama-server, replay
    "records",    # the result columns, rows on disk, the environment record, merging shards
    "agent",      # the tool loop, the tools, the agent's outcome contract
    "metrics",    # every number derived from raw timestamps and samples
    "tasks",      # the agent task suite and its verifiers
    "workloads",  # what a point runs on a backend
    "report",     # report.md, figures, compare, llama-bench import
    "gate",       # regression gate
    "sweep",      # one point, the Hydra app, the in-process worker, the runners
    "cli",        # the `harness` command
)
RANK = {name: i for i, name in enumerate(LAYERS)}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package (the task suite's fixture programs are data, not the package)."""
    return {module_name(p, root): p for p in sorted(root.rglob("*.py")) if "data" not in p.relative_to(root).parts}


def _resolve(name: str, known: Mapping[str, Path]) -> str | None:
    """The module `name` refers to: itself, else its longest known prefix (an attribute of a module)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(module: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The harness modules `module` imports, wherever in its code the import stands. `from P import m`
    of a submodule m depends on m (not on the package P's own code); of a name, on the module P."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: Iterable[str] = ()
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for name in names:
            if name == "harness" or name.startswith("harness."):
                target = _resolve(name, known)
                if target and target != module and target != "harness":
                    found.add(target)
    return found


def graph(root: Path) -> dict[str, set[str]]:
    known = modules(root)
    return {m: imports(m, p, known) for m, p in known.items()}


def layer(module: str) -> str:
    """The layer of a module: its top-level subpackage (or the top-level module itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def upward(edges: Mapping[str, set[str]]) -> list[str]:
    """Imports from a lower layer into a higher one, and modules in no layer of LAYERS."""
    bad = []
    for src, targets in sorted(edges.items()):
        if src == "harness":
            continue
        if layer(src) not in RANK:
            bad.append(f"{src}: in no layer; add {layer(src)!r} to LAYERS")
            continue
        for dst in sorted(targets):
            if layer(dst) in RANK and RANK[layer(dst)] > RANK[layer(src)]:
                bad.append(f"{src} -> {dst} ({layer(src)} imports from the higher layer {layer(dst)})")
    return bad


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each a cycle's members."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def package_edges(edges: Mapping[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for src, targets in edges.items():
        out.setdefault(layer(src), set()).update(layer(d) for d in targets if layer(d) != layer(src))
    return out


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return graph(HARNESS)


def test_every_layer_is_a_part_of_the_package() -> None:
    parts = {p.stem if p.is_file() else p.name for p in HARNESS.iterdir()
             if (p.is_file() and p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert parts == set(LAYERS)


def test_no_import_goes_up_a_layer(edges: dict[str, set[str]]) -> None:
    assert upward(edges) == []


def test_no_cycle_between_subpackages(edges: dict[str, set[str]]) -> None:
    assert cycles(package_edges(edges)) == []


def test_no_cycle_between_modules(edges: dict[str, set[str]]) -> None:
    assert cycles(edges) == []


def test_the_checks_see_what_they_forbid(tmp_path: Path) -> None:
    """An upward import (function-level), a subpackage cycle and a module cycle are all found."""
    root = tmp_path / "harness"
    files = {
        "__init__.py": "",
        "config/__init__.py": "",
        "config/schema.py": "def f() -> None:\n    from harness.models import vocab\n",
        "models/__init__.py": "",
        "models/vocab.py": "from harness.config import schema\n",
        "models/cache.py": "from . import vocab\nimport harness.models.quantize\n",
        "models/quantize.py": "from harness.models.cache import x\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    found = graph(root)
    assert found["harness.config.schema"] == {"harness.models.vocab"}
    assert found["harness.models.cache"] == {"harness.models.vocab", "harness.models.quantize"}
    assert upward(found) == ["harness.config.schema -> harness.models.vocab (config imports from the higher "
                             "layer models)"]
    assert cycles(package_edges(found)) == [["config", "models"]]
    assert cycles(found) == [["harness.config.schema", "harness.models.vocab"],
                             ["harness.models.cache", "harness.models.quantize"]]
