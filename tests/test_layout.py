"""The one-way layout: which package may import which, and no import cycles (no chain needed).

Layers, bottom to top; a module imports only its own layer or the ones below:

    carbonix/                         the core: chain access, deployments, ledger, Merkle, EIP-712,
                                      settings, SQL, exchange and settlement clients
    oracle/ indexer/ (paymaster/ webapp/ later)   the services, each on the core
    cli/                              the ``carbonix`` command line and the demo, on everything
    tests/ bench/ scripts/            tools, on anything; nothing imports them

Services do not import each other, with one exception: the REST API (``indexer.api``) reads the
oracle's store read-only for data quality and accuracy, so it may import the oracle's schema
(``oracle.store``) and its accuracy queries (``oracle.accuracy``), which the oracle owns. The
oracle never imports the indexer. Any import cycle between project modules fails, whether the
imports sit at module level, under ``if TYPE_CHECKING:`` or inside a function.

The checker parses every module with ``ast``; ``test_checker_finds_*`` prove on small trees written
to a temporary folder that it catches each kind of violation.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CORE = "core"
SERVICE = "service"
CLI = "cli"
TOOLS = "tools"
LAYERS = {
    "carbonix": CORE,
    "oracle": SERVICE,
    "indexer": SERVICE,
    "paymaster": SERVICE,
    "webapp": SERVICE,
    "cli": CLI,
    "tests": TOOLS,
    "bench": TOOLS,
    "scripts": TOOLS,
}
RANK = {CORE: 0, SERVICE: 1, CLI: 2, TOOLS: 3}
# (importer prefix, imported prefix): the only edges allowed from one service to another.
SERVICE_EDGES = {("indexer.api", "oracle.store"), ("indexer.api", "oracle.accuracy")}

Graph = dict[str, dict[str, int]]  # module -> {imported module: first line}


def project_modules(root: Path) -> dict[str, Path]:
    """Every Python module of the project by dotted name: the packages (top-level folders with an
    ``__init__.py``) and the tool folders of ``LAYERS``."""
    tops = {p.parent.name for p in root.glob("*/__init__.py")} | {n for n in LAYERS if (root / n).is_dir()}
    modules = {}
    for top in sorted(tops):
        for path in sorted((root / top).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import of ``name`` loads: the longest known prefix of it."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> Iterable[tuple[str, int]]:
    """The project modules every import statement anywhere in the module loads (functions, ``if``
    blocks and ``TYPE_CHECKING`` included), with the line: ``from a import b`` loads module ``a.b``
    when there is one, else ``a`` (``b`` is a name defined in ``a``)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            names = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != module:
                yield target, node.lineno


def import_graph(modules: dict[str, Path]) -> Graph:
    graph: Graph = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in _imports(module, path, modules):
            edges.setdefault(target, line)
        graph[module] = edges
    return graph


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def forbidden_edges(graph: Graph, modules: dict[str, Path], root: Path) -> list[str]:
    """Every import that goes up a layer, into the tools, or from one service into another outside
    ``SERVICE_EDGES``; and every package without a layer."""
    problems = []
    for top in sorted({m.split(".")[0] for m in graph} - set(LAYERS)):
        problems.append(f"{top}: package {top} has no layer in tests/test_layout.py LAYERS")
    for module, edges in sorted(graph.items()):
        top = module.split(".")[0]
        layer = LAYERS.get(top)
        if layer is None:
            continue
        for target, line in sorted(edges.items()):
            target_top = target.split(".")[0]
            target_layer = LAYERS.get(target_top, TOOLS)
            where = f"{modules[module].relative_to(root)}:{line}: {module} imports {target}"
            if RANK[target_layer] > RANK[layer]:
                problems.append(f"{where} (the {layer} layer may not import the {target_layer} layer)")
            elif (
                layer == SERVICE
                and target_layer == SERVICE
                and top != target_top
                and not any(_under(module, a) and _under(target, b) for a, b in SERVICE_EDGES)
            ):
                problems.append(f"{where} (from one service into another, not in SERVICE_EDGES)")
    return problems


def import_cycles(graph: Graph) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), each as the
    modules in import order with the first repeated at the end."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_cycle_in(graph, c) for c in components)


def _cycle_in(graph: Graph, component: set[str]) -> list[str]:
    """The shortest cycle through the component's first module (breadth-first inside it)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, {})):
            if nxt == start:
                return [*paths[node], start]
            if nxt in component and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def layout_problems(root: Path) -> list[str]:
    modules = project_modules(root)
    graph = import_graph(modules)
    cycles = [f"import cycle: {' -> '.join(c)}" for c in import_cycles(graph)]
    return forbidden_edges(graph, modules, root) + cycles


def test_layout_is_one_way_and_acyclic() -> None:
    problems = layout_problems(ROOT)
    assert not problems, "\n".join(problems)


def test_graph_sees_the_real_imports() -> None:
    """The checker is not vacuous on the real tree: it finds module-level imports, names imported
    from a package, imports inside functions and the allowed service -> service edge."""
    graph = import_graph(project_modules(ROOT))
    assert {"carbonix.ledger", "oracle.outbox", "indexer.api.app", "cli.main", "tests.test_layout"} <= set(graph)
    assert "carbonix.quorum" in graph["carbonix.ledger"]  # `from carbonix import enums, quorum`
    assert "cli.commands.chain" in graph["cli.main"]  # `from cli.commands import (..., chain, ...)`
    assert "cli.demo" in graph["cli.commands.demo"]  # imported inside the command function
    assert "oracle.store" in graph["indexer.api.app"]  # the one allowed service -> service edge
    assert "oracle.outbox" in graph["oracle.cosign"] and "oracle.cosign" not in graph["oracle.outbox"]


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checker_finds_forbidden_edges(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "carbonix/__init__.py": "",
            "carbonix/ledger.py": "def f():\n    from oracle import store\n",  # core -> service, in a function
            "carbonix/txs.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cli.main\n",
            "carbonix/ok.py": "from . import ledger\nimport json\n",  # relative, inside the core: fine
            "oracle/__init__.py": "",
            "oracle/store.py": "from carbonix import ledger\n",  # service -> core: fine
            "oracle/daemon.py": "from cli.main import app\n",  # service -> CLI
            "oracle/cosign.py": "from indexer import core\n",  # oracle -> indexer
            "indexer/__init__.py": "",
            "indexer/core.py": "import oracle.store\n",  # indexer proper -> oracle
            "indexer/api/__init__.py": "",
            "indexer/api/app.py": "from oracle import store\nfrom oracle.daemon import x\n",  # store fine, daemon not
            "cli/__init__.py": "",
            "cli/main.py": "from oracle import daemon\nfrom indexer.api import app\n",  # CLI -> anything: fine
            "surprise/__init__.py": "",  # a package nobody placed in a layer
            "tests/test_x.py": "import cli.main\n",  # tools -> anything: fine
            "carbonix/sql.py": "from tests import test_x\n",  # core -> tools
        },
    )
    modules = project_modules(root)
    assert forbidden_edges(import_graph(modules), modules, root) == [
        "surprise: package surprise has no layer in tests/test_layout.py LAYERS",
        "carbonix/ledger.py:2: carbonix.ledger imports oracle.store (the core layer may not import the service layer)",
        "carbonix/sql.py:1: carbonix.sql imports tests.test_x (the core layer may not import the tools layer)",
        "carbonix/txs.py:3: carbonix.txs imports cli.main (the core layer may not import the cli layer)",
        "indexer/api/app.py:2: indexer.api.app imports oracle.daemon (from one service into another, not in "
        "SERVICE_EDGES)",
        "indexer/core.py:1: indexer.core imports oracle.store (from one service into another, not in SERVICE_EDGES)",
        "oracle/cosign.py:1: oracle.cosign imports indexer.core (from one service into another, not in "
        "SERVICE_EDGES)",
        "oracle/daemon.py:1: oracle.daemon imports cli.main (the service layer may not import the cli layer)",
    ]


def test_checker_finds_cycles(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "carbonix/__init__.py": "",
            # ledger <-> quorum, one side hidden under TYPE_CHECKING
            "carbonix/ledger.py": "from carbonix import quorum\n",
            "carbonix/quorum.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .ledger import X\n",
            "oracle/__init__.py": "",
            # outbox -> pipeline -> cosign -> outbox, the last edge inside a function
            "oracle/outbox.py": "import oracle.pipeline\n",
            "oracle/pipeline.py": "from oracle.cosign import Cosigner\n",
            "oracle/cosign.py": "def f():\n    from oracle import outbox\n",
            "oracle/store.py": "from oracle import grading\n",  # a chain, no cycle
            "oracle/grading.py": "from carbonix import ledger\n",
        },
    )
    graph = import_graph(project_modules(root))
    assert import_cycles(graph) == [
        ["carbonix.ledger", "carbonix.quorum", "carbonix.ledger"],
        ["oracle.cosign", "oracle.outbox", "oracle.pipeline", "oracle.cosign"],
    ]
    assert layout_problems(root) == [
        "import cycle: carbonix.ledger -> carbonix.quorum -> carbonix.ledger",
        "import cycle: oracle.cosign -> oracle.outbox -> oracle.pipeline -> oracle.cosign",
    ]
