"""The layers of the README's layout, checked on every import statement of ``src/makerfirst`` —
those at the top of a module, inside functions and under ``TYPE_CHECKING`` alike (naming a module
for the type checker still couples the two).

    domain                imports nothing of ours but the domain
    algorithms, portfolio pure: no asyncio, no I/O library, no adapter, store, engine or runner
    execution             only the domain, ports, clock, algorithms and policy
    everything            names a concrete adapter (``adapters.*``, ``persistence.store``) only in
                          bootstrap; cli and web reach them through bootstrap

Two packages sit beside the adapters by design and may use some of them: ``persistence`` is the
store's own package, and ``replay`` builds its backtest venue on the simulator's matching engine
(``adapters.sim``: one set of fill rules for paper and backtests) and reads products files; it
never reaches the live adapter, the sim-server or the store.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "makerfirst"

IO_LIBRARIES = (
    *("asyncio", "sqlalchemy", "alembic", "ccxt", "httpx", "fastapi", "starlette", "uvicorn"),
    *("aiohttp", "requests", "socket", "urllib.request"),
)
CONCRETE = ("makerfirst.adapters", "makerfirst.persistence.store")
# Who may name a concrete adapter, and which ones.
CONCRETE_ALLOWED: dict[str, tuple[str, ...]] = {
    "makerfirst.bootstrap": CONCRETE,
    "makerfirst.adapters": CONCRETE,
    "makerfirst.persistence": ("makerfirst.persistence.store",),
    "makerfirst.replay": ("makerfirst.adapters.sim", "makerfirst.adapters.products_file"),
}
OURS_ABOVE_PURE = tuple(
    f"{PACKAGE}.{layer}"
    for layer in ("adapters", "persistence", "execution", "runner", "replay", "observability")
) + tuple(f"{PACKAGE}.{layer}" for layer in ("web", "cli", "bootstrap", "ports", "clock"))


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module (for ``from a import b``: ``a.b`` and ``a`` are both checked)
    line: int


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def imports_of(module: str, source: str, *, is_package: bool = False) -> Iterator[Import]:
    """Every module ``source`` (the text of ``module``) imports, relative imports resolved."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - node.level + 1]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            yield Import(module, origin, node.lineno)
            for alias in node.names:  # ``from makerfirst.adapters import sim`` names a submodule
                yield Import(module, f"{origin}.{alias.name}", node.lineno)


DOMAIN = (f"{PACKAGE}.domain",)
PURE = (f"{PACKAGE}.algorithms", f"{PACKAGE}.portfolio")
EXECUTION = (f"{PACKAGE}.execution",)
EXECUTION_MAY_USE = tuple(
    f"{PACKAGE}.{m}" for m in ("domain", "ports", "clock", "algorithms", "policy", "execution")
)
EXECUTION_NEVER = ("sqlalchemy", "ccxt", "httpx", "fastapi", "uvicorn", "aiohttp", "requests")


def violations(found: Import) -> list[str]:
    """What is wrong with one import, by the layer rules above (empty: nothing)."""
    here, target = found.module, found.target
    ours = _within(target, (PACKAGE,)) and target != PACKAGE
    where = f"{here}:{found.line} imports {target}"
    wrong: list[str] = []
    if _within(here, DOMAIN) and ours and not _within(target, DOMAIN):
        wrong.append(f"{where}: the domain imports nothing of ours but the domain")
    if _within(here, PURE) and (_within(target, IO_LIBRARIES) or _within(target, OURS_ABOVE_PURE)):
        wrong.append(f"{where}: algorithms and portfolio are pure (no I/O, no layer above them)")
    if _within(here, EXECUTION) and (
        (ours and not _within(target, EXECUTION_MAY_USE)) or _within(target, EXECUTION_NEVER)
    ):
        wrong.append(f"{where}: execution talks to the world only through ports")
    if _within(target, CONCRETE):
        owner = next((o for o in CONCRETE_ALLOWED if _within(here, (o,))), None)
        if owner is None or not _within(target, CONCRETE_ALLOWED[owner]):
            wrong.append(f"{where}: only bootstrap names concrete adapters; go through makerfirst.bootstrap")
    return wrong


def source_modules() -> Iterator[tuple[str, Path]]:
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def tree_violations() -> list[str]:
    wrong: list[str] = []
    for module, path in source_modules():
        for found in imports_of(module, path.read_text(), is_package=path.name == "__init__.py"):
            wrong += violations(found)
    return sorted(set(wrong))


def test_the_source_tree_keeps_its_layers() -> None:
    assert len(list(source_modules())) > 100  # the walk found the package, not an empty folder
    assert tree_violations() == []


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("makerfirst.cli.fake", "from makerfirst.adapters.sim import exchange", "only bootstrap"),
        (
            "makerfirst.cli.fake",
            "from makerfirst.adapters.sim.exchange import SimulatedExchange",
            "only bootstrap",
        ),
        ("makerfirst.cli.fake", "def f():\n    import makerfirst.adapters.ccxt_exchange", "only bootstrap"),
        ("makerfirst.web.fake", "from makerfirst.persistence.store import SqlStore", "only bootstrap"),
        ("makerfirst.web.fake", "from makerfirst.persistence import store", "only bootstrap"),
        ("makerfirst.runner.fake", "from ..adapters.sim import exchange", "only bootstrap"),
        (
            "makerfirst.cli.fake",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from makerfirst.adapters import sim",
            "only bootstrap",
        ),
        (
            "makerfirst.replay.fake",
            "from makerfirst.adapters.ccxt_exchange import CcxtExchange",
            "only bootstrap",
        ),
        ("makerfirst.replay.fake", "from makerfirst.persistence.store import SqlStore", "only bootstrap"),
        ("makerfirst.domain.fake", "from makerfirst.policy import Policy", "the domain imports nothing"),
        ("makerfirst.domain.fake", "from ..ports import Store", "the domain imports nothing"),
        ("makerfirst.algorithms.fake", "import asyncio", "pure"),
        ("makerfirst.portfolio.fake", "from sqlalchemy import select", "pure"),
        ("makerfirst.algorithms.fake", "from makerfirst.execution.engine import ExecutionEngine", "pure"),
        ("makerfirst.portfolio.fake", "import ccxt.async_support", "pure"),
        (
            "makerfirst.execution.fake",
            "from makerfirst.persistence.schema import OrderRow",
            "only through ports",
        ),
        ("makerfirst.execution.fake", "from makerfirst.runner.loop import Runner", "only through ports"),
        ("makerfirst.execution.fake", "import httpx", "only through ports"),
    ],
)
def test_an_import_across_the_layers_is_caught(module: str, source: str, broken: str) -> None:
    found = [w for i in imports_of(module, source) for w in violations(i)]
    assert found, f"{source!r} in {module} should break the layers"
    assert any(broken in w for w in found)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("makerfirst.bootstrap", "from makerfirst.adapters.sim.exchange import SimulatedExchange"),
        ("makerfirst.cli.fake", "from makerfirst import bootstrap"),
        ("makerfirst.web.fake", "from makerfirst.ports import HistoryStore"),
        ("makerfirst.replay.fake", "from makerfirst.adapters.sim.matching import MatchingEngine"),
        ("makerfirst.domain.fake", "from makerfirst.domain.money import ZERO\nimport decimal"),
        ("makerfirst.execution.fake", "from makerfirst.ports import ExchangePort\nimport asyncio"),
        ("makerfirst.algorithms.fake", "from makerfirst.policy import Policy"),
    ],
)
def test_an_import_within_the_layers_passes(module: str, source: str) -> None:
    assert [w for i in imports_of(module, source) for w in violations(i)] == []


def test_the_check_reads_the_real_files_it_guards() -> None:
    """A copy of a real CLI module with one adapter import added is caught; the module as it is passes."""
    path = SRC / PACKAGE / "cli" / "run_cmd.py"
    text = path.read_text()
    clean = [w for i in imports_of("makerfirst.cli.run_cmd", text) for w in violations(i)]
    broken = text + "\nfrom makerfirst.adapters.sim.exchange import SimulatedExchange\n"
    caught = [w for i in imports_of("makerfirst.cli.run_cmd", broken) for w in violations(i)]
    assert clean == []
    assert len(caught) >= 1
