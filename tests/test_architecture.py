"""Imports point inward: the call core, the gates and the Twilio codec never reach
for I/O, clocks or the shell. A new import that breaks this fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "turngate"
PURE = sorted([*SRC.joinpath("core").glob("*.py"), *SRC.joinpath("gates").rglob("*.py"),
               SRC / "twilio" / "codec.py", SRC / "policy.py"])
FORBIDDEN = ("asyncio", "socket", "threading", "subprocess", "starlette", "uvicorn", "websockets", "httpx",
             "sqlalchemy", "psycopg", "turngate.server", "turngate.sim", "turngate.store", "turngate.speech",
             "turngate.vad", "turngate.demo", "turngate.cli", "turngate.embedding.cache")
# Offline tools that train a shipped model file are not on the call path.
EXEMPT = {"train_injection.py"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    pkg = "turngate." + ".".join(path.relative_to(SRC).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.rsplit(".", node.level - 1)[0] if node.level > 1 else pkg
                out.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                out.add(node.module)
    return out


@pytest.mark.parametrize("path", [p for p in PURE if p.name not in EXEMPT], ids=lambda p: str(p.relative_to(SRC)))
def test_pure_layers_import_no_io_and_nothing_outward(path):
    bad = sorted(m for m in imports(path) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_core_reads_no_clock():
    for path in SRC.joinpath("core").glob("*.py"):
        text = path.read_text()
        for call in ("time.time(", "time.monotonic(", "datetime.now(", "perf_counter("):
            assert call not in text, f"{path.name} reads the clock ({call})"
