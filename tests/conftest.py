"""Shared fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

# Local PostgreSQL with trust auth (CI starts one; so does a developer's machine).
_PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=1"
_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A ``postgresql://`` URL whose ``search_path`` is a fresh schema of its own.

    Each test gets its own schema (dropped afterwards), so tests and parallel
    runs never see each other's tables. Skips when no server answers within 1 s,
    unless ``TURNGATE_REQUIRE_POSTGRES=1``, which turns the skip into a failure.
    """
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(_PG_DSN, autocommit=True)
    except psycopg.Error as e:
        if os.environ.get("TURNGATE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (TURNGATE_REQUIRE_POSTGRES=1) but unreachable: {e}")
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {e}")
    schema = f"tg_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            # libpq's `options` sets search_path for every connection from this URL.
            yield f"{_PG_URL}?connect_timeout=1&options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


class GatewayUrl(str):
    """The gateway's base URL, which also knows the folder of its store, log and outbox."""

    def __new__(cls, url: str, folder) -> "GatewayUrl":
        self = super().__new__(cls, url)
        self.dir = folder
        return self


@pytest.fixture(scope="session")
def embedded_gateway(tmp_path_factory) -> Iterator[str]:
    """One real ``turngate serve`` (embedded stack: Silero, pocketsphinx, flite,
    scripted agent, policy gates) for every end-to-end test of the session."""
    from turngate.demo import Gateway

    d = tmp_path_factory.mktemp("gateway")
    with Gateway(store=f"sqlite:///{d / 'calls.db'}", log_path=str(d / "gateway.log"),
                 env={"TURNGATE_OUTBOX_FILE": str(d / "outbox.jsonl")}) as gw:
        yield GatewayUrl(gw.url, d)
