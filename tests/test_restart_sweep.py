"""A single gateway restarted on its SQLite store ends the calls its earlier run left open
(kill -9 gives no chance to end them), as ``gateway_lost``, keeping their decisions.
On PostgreSQL it must not: other live processes may hold such calls."""

from __future__ import annotations

from datetime import datetime, timezone

from turngate.core.decisions import Decision
from turngate.store import open_store

from server_harness import make_providers, running_server


def _open_call(store, sid: str) -> None:
    store.start_call(sid, stream_sid="MZ1", caller="+15550100", started_at=datetime.now(timezone.utc),
                     policy_version="p1")
    store.append([Decision(call_id=sid, seq=1, at_ms=0, gate="turn", outcome="caller_started", reason="vad",
                           rule="turn.start", policy_version="p1")])


def test_a_restart_on_sqlite_ends_the_earlier_run_s_open_calls_and_keeps_their_decisions(tmp_path):
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    store = open_store(url)
    _open_call(store, "CAlost")
    store.start_call("CAdone", stream_sid="MZ2", caller="", started_at=datetime.now(timezone.utc),
                     policy_version="p1")
    store.end_call("CAdone", ended_at=datetime.now(timezone.utc), outcome="completed", summary={})
    store.close()
    with running_server(make_providers(url)):
        pass
    store = open_store(url)
    try:
        lost, done = store.get_call("CAlost"), store.get_call("CAdone")
        assert lost.call.outcome == "gateway_lost" and lost.call.ended_at is not None
        assert [d.rule for d in lost.decisions] == ["turn.start"]
        assert done.call.outcome == "completed", "an ended call keeps its own outcome"
    finally:
        store.close()


def test_postgresql_open_calls_are_left_to_the_live_processes(postgres_url):
    store = open_store(postgres_url)
    _open_call(store, "CAheld")
    with running_server(make_providers(postgres_url)):
        pass
    try:
        assert store.get_call("CAheld").call.ended_at is None
    finally:
        store.close()
