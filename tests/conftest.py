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


@pytest.fixture(scope="session")
def console_gateway(tmp_path_factory):
    """A real gateway (embedded stack) whose policy keeps replay records and audio, after five calls:
    four demo scenarios and a caller who reads out a card number, CVV and SSN. Shared by
    the console's browser tests and the replay tests; its traces go to a local OTLP/HTTP
    receiver. Yields (url, {scenario: call id}, store URL, [OTLP request bodies])."""
    import asyncio
    from pathlib import Path

    import httpx

    from turngate.demo import Gateway
    from turngate.sim.caller import run_scenario
    from turngate.sim.scenario import load_scenario

    from turngate.testing.fakes.openai_server import Behaviour, FakeOpenAI, serve_in_thread

    root = Path(__file__).resolve().parents[1]
    d = tmp_path_factory.mktemp("console")
    policy = d / "keep.yaml"
    # The low-latency profile is a model that never says a word (the local fake, stalled):
    # at its first_token_ms the scripted agent is started beside it and answers, so the
    # FAQ calls carry a fallback for the console to show.
    fake = FakeOpenAI()
    fake.models["stalls"] = Behaviour(stall_ms=60_000)
    fake_ctx = serve_in_thread(fake)
    fake_url = fake_ctx.__enter__()
    policy.write_text(console_policy_text(root, fake_url))
    names = ["long_answer_interrupted", "human_request", "payment_unauthenticated", "card_number"]
    paths = [root / "scenarios" / f"{n}.yaml" for n in names] + [root / "tests/scenarios/canary_pii.yaml"]
    store = f"sqlite:///{d / 'calls.db'}"
    bodies: list[bytes] = []
    receiver = _otlp_receiver(bodies)
    env = {"TURNGATE_OUTBOX_FILE": str(d / "outbox.jsonl"), "TURNGATE_POLICY": str(policy),
           "TURNGATE_OTEL_ENDPOINT": f"http://127.0.0.1:{receiver.server_port}/v1/traces",
           "TURNGATE_AUDIO_DIR": str(d / "audio")}
    try:
        with Gateway(store=store, log_path=str(d / "gateway.log"), env=env) as gw:

            async def calls():
                # At once, as a gateway's calls are: five calls in series took 100 s of the suite.
                return await asyncio.gather(*(run_scenario(load_scenario(p), gw.url, 1.0) for p in paths))

            ids = {r.scenario: r.call_id for r in asyncio.run(calls())}
            for cid in ids.values():  # every call written before any page is read
                httpx.get(f"{gw.url}/console/calls/{cid}", timeout=30)
            yield gw.url, ids, store, bodies
    finally:
        receiver.shutdown()
        receiver.server_close()
        fake_ctx.__exit__(None, None, None)


def console_policy_text(root, fake_url: str) -> str:
    """The console gateway's policy: the bundled one, keeping replay records and audio, with
    a low-latency model that stalls (served at ``fake_url``) and the scripted agent behind it."""
    return ((root / "policies/default.yaml").read_text()
            + "\nretention:\n  replay_events: true\n  audio: true\n"
            + "models:\n  profiles:\n"
            + f"    low_latency: {{provider: openai, base_url: '{fake_url}', model: stalls, first_token_ms: 600}}\n"
            + "  fallback:\n    low_latency: [scripted]\n")


def _otlp_receiver(bodies: list[bytes]):
    """A local OTLP/HTTP endpoint that keeps each request body (serving in a thread until closed)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            bodies.append(self.rfile.read(int(self.headers.get("content-length", 0))))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def policy():
    """The bundled policy."""
    from turngate.policy import load_policy

    return load_policy()


@pytest.fixture(scope="session")
def router(policy):
    """The bundled policy's router as the gateway builds it: with the shipped example
    embeddings, not a fresh encoding of them (tens of seconds per test run)."""
    from turngate.config import Config
    from turngate.embedding.cache import for_policy
    from turngate.gates.route import Router

    return Router.from_policy(policy, encoder=for_policy(policy, Config.from_env().cache_dir))
