"""The architecture, enforced: imports point inward and the pure layers touch no I/O.

Each layer has an allow-list of the turngate packages it may reach, and the check
follows imports *transitively* through other turngate modules: a pure module that
imports a helper that imports the store fails, however many hops away. A second
check reads the syntax tree of every pure module for a clock, the environment or
a file. Only ``turngate.config`` reads the environment.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "turngate"

# Layer -> the turngate packages its modules (and everything they import) may reach.
PURE_LAYERS: dict[str, tuple[str, ...]] = {
    # The core's one reach outside: the G.711 tables, for a ducked answer's gain.
    "turngate.core": ("turngate.core", "turngate.errors", "turngate.audio.mulaw"),
    # Audio: codecs and signal measures; the backchannel scorer reads its trained trees
    # through the same one door as the gates (turngate.data, when the model is loaded).
    "turngate.audio": ("turngate.audio", "turngate.data"),
    "turngate.twilio.codec": ("turngate.twilio.codec", "turngate.core", "turngate.errors"),
    # The gates: pure functions over text and call context. Besides the core's types and
    # the policy, they reach package data through one door (turngate.data: the guard's
    # trained models, read when a gatekeeper is built) and the sentence encoder (loaded
    # once when a router is built without one, and tuned on its examples when the policy
    # asks; the shell normally passes it in). The policy brings its YAML error locator.
    "turngate.gates": ("turngate.gates", "turngate.core", "turngate.errors", "turngate.policy",
                       "turngate.yaml_lines",
                       "turngate.llm.profiles", "turngate.llm", "turngate.data", "turngate.embedding.minilm",
                       "turngate.embedding.tuning"),
    # The model policy's pure parts: the circuit breaker (time is an argument), the
    # models: section, the error tree.
    "turngate.llm.breaker": ("turngate.llm.breaker",),
    "turngate.llm.errors": ("turngate.llm.errors", "turngate.errors", "turngate.core"),
    "turngate.llm.profiles": ("turngate.llm.profiles", "turngate.core", "turngate.errors"),
}
# Third-party modules that do I/O or run an event loop: no pure module may reach them.
IO_MODULES = ("asyncio", "socket", "threading", "subprocess", "multiprocessing", "starlette", "uvicorn",
              "websockets", "httpx", "sqlalchemy", "psycopg", "onnxruntime", "requests", "urllib.request")
# Calls that read a clock, the environment or a file.
CLOCK = {("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "sleep"),
         ("datetime", "now"), ("datetime", "utcnow"), ("date", "today")}
ENV = {("os", "environ"), ("os", "getenv"), ("os", "putenv")}
FILES = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "load", "loadtxt", "fromfile"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_path(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.exists():
            return p
    return None


def direct_imports(path: Path) -> set[str]:
    """Every module ``path`` imports, with relative imports resolved and ``from pkg import mod``
    counted as importing ``pkg.mod`` when that is a module."""
    tree = ast.parse(path.read_text(), str(path))
    pkg = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.rsplit(".", node.level - 1)[0] if node.level > 1 else pkg
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            out.add(mod)
            for a in node.names:
                if module_path(f"{mod}.{a.name}") is not None:
                    out.add(f"{mod}.{a.name}")
    return out


@cache
def reach(name: str) -> frozenset[tuple[str, tuple[str, ...]]]:
    """Every module reachable from ``name`` through turngate modules, with the path that
    reaches it (for the error message)."""
    seen: dict[str, tuple[str, ...]] = {name: (name,)}
    todo = [name]
    while todo:
        cur = todo.pop()
        path = module_path(cur)
        if path is None:
            continue
        for imp in direct_imports(path):
            if imp not in seen:
                seen[imp] = seen[cur] + (imp,)
                if imp.startswith("turngate"):
                    todo.append(imp)
    return frozenset(seen.items())


def within(mod: str, prefixes: tuple[str, ...]) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in prefixes)


def violations(name: str, allowed: tuple[str, ...]) -> list[str]:
    bad = []
    for mod, via in reach(name):
        if mod.startswith("turngate") and not within(mod, allowed):
            bad.append(" -> ".join(via))
        elif within(mod, IO_MODULES):
            bad.append(" -> ".join(via))
    return sorted(bad)


def pure_modules() -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for layer, allowed in PURE_LAYERS.items():
        root = module_path(layer)
        assert root is not None, f"layer {layer} does not exist"
        files = sorted(root.parent.rglob("*.py")) if root.name == "__init__.py" else [root]
        out += [(module_name(f), allowed) for f in files]
    return out


@pytest.mark.parametrize("name,allowed", pure_modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_pure_modules_reach_only_their_layer_and_no_io(name, allowed):
    bad = violations(name, allowed)
    assert not bad, f"{name} reaches outside its layer:\n  " + "\n  ".join(bad)


def test_the_check_follows_imports_through_other_modules(tmp_path, monkeypatch):
    """A forbidden import two hops away fails: core -> helper -> turngate.store."""
    fake = tmp_path / "turngate"
    (fake / "core").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "core" / "__init__.py").write_text("")
    (fake / "core" / "call.py").write_text("from .helper import thing\n")
    (fake / "core" / "helper.py").write_text("from ..store.sql import open_store\nthing = 1\n")
    (fake / "store").mkdir()
    (fake / "store" / "__init__.py").write_text("")
    (fake / "store" / "sql.py").write_text("import sqlalchemy\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    reach.cache_clear()
    try:
        bad = violations("turngate.core.call", PURE_LAYERS["turngate.core"])
    finally:
        reach.cache_clear()
    assert "turngate.core.call -> turngate.core.helper -> turngate.store.sql" in bad
    assert "turngate.core.call -> turngate.core.helper -> turngate.store.sql -> sqlalchemy" in bad


def calls_in(path: Path) -> list[tuple[int, str]]:
    """Reads of a clock, the environment or a file in ``path``'s syntax tree."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            pair = (node.value.id, node.attr)
            if pair in CLOCK or pair in ENV:
                found.append((node.lineno, ".".join(pair)))
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in FILES:
                found.append((node.lineno, f"{name}()"))
    return found


@pytest.mark.parametrize("name,allowed", pure_modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_pure_modules_read_no_clock_environment_or_file(name, allowed):
    path = module_path(name)
    assert path is not None
    found = calls_in(path)
    assert not found, f"{name} reads {found}"


def test_only_config_reads_the_environment():
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        if path.name == "config.py" and path.parent == PKG:
            continue
        offenders += [f"{path.relative_to(SRC)}:{line} {what}" for line, what in calls_in(path)
                      if what in {".".join(p) for p in ENV}]
    assert not offenders, offenders


def test_no_training_code_ships_in_the_runtime_package():
    assert not [p for p in PKG.rglob("train_*.py")], "training scripts belong in tools/, not src/turngate"


def _matched_classes(path: Path, function: str) -> set[str]:
    """Class names in the ``case X():`` patterns of ``function`` in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    names: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.MatchClass) and isinstance(node.cls, ast.Name):
            names.add(node.cls.id)
    return names


@pytest.mark.parametrize("where,function", [("server/session.py", "_dispatch"),
                                            ("testing/harness.py", "_act")])
def test_every_action_the_core_can_return_is_carried_out_by_the_shell(where, function):
    from typing import get_args

    from turngate.core.actions import Action

    actions = {cls.__name__ for cls in get_args(Action)}
    missing = actions - _matched_classes(PKG / where, function)
    assert not missing, f"{where}:{function} does not handle {sorted(missing)}"
