"""Fault drills with real gateway processes on the real PostgreSQL.

Each gateway is ``turngate serve`` with the scripted STT (``TURNGATE_STT=scripted``),
so what the caller "says" is known; VAD, the core, the gates, TTS, the writer and
the outbox are the real ones. The PostgreSQL server is shared with other people's
tests and is never stopped: an outage is a :class:`turngate.testing.tcpproxy.TcpProxy`
between one gateway and it, cut and restored.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import websockets

from scale_helpers import RawCall, fetch_ended, speech_frames
from turngate.demo import Gateway
from turngate.store import open_store
from turngate.testing.tcpproxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCRIPT = "what are your opening hours\nI want to talk to a person\n"


def gateway(tmp: Path, name: str, store: str, **env: str) -> Gateway:
    (tmp / "script.txt").write_text(SCRIPT)
    return Gateway(store=store, log_path=str(tmp / f"{name}.log"), env={
        "TURNGATE_STT": "scripted", "TURNGATE_STT_SCRIPT": str(tmp / "script.txt"),
        "TURNGATE_STREAM_SECRET": "drill-secret", "TURNGATE_OUTBOX_FILE": str(tmp / "outbox.jsonl"),
        "TURNGATE_STT_WORKERS": "0", **env})


def start_all(gws: list[Gateway]) -> None:
    """Start gateways side by side (each takes seconds to load its stack)."""
    errors: list[BaseException] = []

    def enter(g: Gateway) -> None:
        try:
            g.__enter__()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=enter, args=(g,)) for g in gws]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for g in gws:
            g.__exit__()
        raise errors[0]


def snapshot(url: str, call_sid: str) -> list[dict]:
    return httpx.get(f"{url}/api/calls/{call_sid}", timeout=30).json().get("decisions", [])


def key(d: dict) -> tuple:
    return d["seq"], d["gate"], d["outcome"], d["reason"], d["rule"]


def assert_contiguous(decisions) -> None:
    seqs = [d.seq if hasattr(d, "seq") else d["seq"] for d in decisions]
    assert seqs == list(range(1, len(seqs) + 1)), seqs


async def talk(call: RawCall, *, after_s: float = 0.0) -> None:
    """The caller's side of a drill call: listen, ask, listen, ask for a person, listen."""
    await call.silence(1000)
    await call.send_media(speech_frames("What are your opening hours?"))
    await call.silence(3000 + int(after_s * 1000))
    await call.send_media(speech_frames("I want to talk to a person"))
    await call.silence(2500)


def test_kill_9_of_one_of_two_gateways_keeps_its_logs_and_leaves_the_other_s_calls_alone(tmp_path, postgres_url):
    a, b = gateway(tmp_path, "a", postgres_url), gateway(tmp_path, "b", postgres_url)
    start_all([a, b])
    try:
        async def run() -> tuple[dict, list, list]:
            calls_a = [RawCall(a.url) for _ in range(3)]
            calls_b = [RawCall(b.url) for _ in range(3)]
            for c in calls_a + calls_b:
                await c.connect()
            tasks_a = [asyncio.create_task(talk(c)) for c in calls_a]
            tasks_b = [asyncio.create_task(talk(c)) for c in calls_b]
            await asyncio.sleep(5.0)  # both carry calls: greetings played, first questions answered
            snaps = {c.call_sid: await asyncio.to_thread(snapshot, a.url, c.call_sid) for c in calls_a}
            await asyncio.sleep(0.3)
            a.proc.kill()  # SIGKILL: no drain, no flush, no goodbye
            b_received_at_kill = [len(c.received) for c in calls_b]
            b_decided_at_kill = [len(await asyncio.to_thread(snapshot, b.url, c.call_sid)) for c in calls_b]
            results_a = await asyncio.gather(*tasks_a, return_exceptions=True)
            results_b = await asyncio.gather(*tasks_b, return_exceptions=True)
            for c in calls_b:
                await c.stop()
            records_b = [await fetch_ended(b.url, c.call_sid, timeout_s=30) for c in calls_b]
            assert all(isinstance(r, websockets.ConnectionClosed) for r in results_a), results_a
            assert results_b == [None] * 3, results_b
            assert all(len(c.received) > n for c, n in zip(calls_b, b_received_at_kill)), "B's bot went quiet"
            # B's calls went on deciding after the kill (the second question was heard and acted on).
            assert all(len(r["decisions"]) > n for r, n in zip(records_b, b_decided_at_kill))
            return snaps, records_b, calls_b

        snaps, records_b, calls_b = asyncio.run(run())
        store = open_store(postgres_url)
        try:
            for sid, before in snaps.items():
                rec = store.get_call(sid)
                assert rec is not None and before, sid
                assert_contiguous(rec.decisions)
                stored = {key(d.to_dict()) for d in rec.decisions}
                assert {key(d) for d in before} <= stored, f"{sid}: a decision made before the kill was lost"
            for rec in records_b:
                assert_contiguous(rec["decisions"])
                assert rec["state"] == "ended" and rec["outcome"]
        finally:
            store.close()
    finally:
        a.__exit__(), b.__exit__()


def test_postgresql_unreachable_mid_call_retries_writes_and_loses_or_duplicates_nothing(tmp_path, postgres_url):
    with TcpProxy("127.0.0.1", 5432) as proxy:
        proxied = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        gw = gateway(tmp_path, "gw", proxied)
        with gw:
            async def run() -> tuple[str, list, dict]:
                call = RawCall(gw.url)
                await call.connect()
                await call.silence(500)
                proxy.cut()
                ready = httpx.get(gw.url + "/readyz", timeout=5)
                # The whole first exchange (question, answer) happens with the database away.
                await call.send_media(speech_frames("What are your opening hours?"))
                await call.silence(3500)
                proxy.restore()
                await call.send_media(speech_frames("I want to talk to a person"))
                await call.silence(2500)
                before = await asyncio.to_thread(snapshot, gw.url, call.call_sid)
                await call.stop()
                rec = await fetch_ended(gw.url, call.call_sid, timeout_s=20)
                return call.call_sid, before, {"ready": ready, "rec": rec}

            sid, before, got = asyncio.run(run())
            assert got["ready"].status_code == 503 and not got["ready"].json()["checks"]["store"]["ok"]
            deadline = time.monotonic() + 15
            lines: list[dict] = []
            while time.monotonic() < deadline:
                out = tmp_path / "outbox.jsonl"
                lines = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
                if {x["kind"] for x in lines if x["call_id"] == sid} >= {"crm_note", "transfer"}:
                    break
                time.sleep(0.2)
        log = (tmp_path / "gw.log").read_text()
        assert "store write failed" in log  # the outage was real and the writer retried
        store = open_store(postgres_url)
        try:
            rec = store.get_call(sid)
            assert_contiguous(rec.decisions)
            assert {key(d) for d in before} <= {key(d.to_dict()) for d in rec.decisions}
            assert [x for x in before if x["gate"] == "route"], "no decision was made during the outage"
            assert {o.status for o in rec.outbox} == {"delivered"}
        finally:
            store.close()
        per_key = Counter(x["key"] for x in lines if x["call_id"] == sid)
        assert per_key and set(per_key.values()) == {1}, per_key


class Crm(BaseHTTPRequestHandler):
    """A CRM webhook that applies each Idempotency-Key once, as the outbox contract asks,
    and remembers every POST (key, kind, when) to show what crossed the wire."""

    posts: list[tuple[str, str, float]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.posts.append((self.headers.get("Idempotency-Key") or "", body["kind"], time.monotonic()))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_kill_9_right_after_a_handoff_decision_then_restart_applies_note_and_tasks_exactly_once_by_key(
        tmp_path, postgres_url):
    crm = ThreadingHTTPServer(("127.0.0.1", 0), Crm)
    Crm.posts = []
    killed_at: list[float] = []
    threading.Thread(target=crm.serve_forever, daemon=True).start()
    env = {"TURNGATE_CRM_WEBHOOK_URL": f"http://127.0.0.1:{crm.server_port}/crm",
           "TURNGATE_OUTBOX_LEASE_S": "3"}
    try:
        first = gateway(tmp_path, "first", postgres_url, **env)
        start_all([first])
        try:
            watch = open_store(postgres_url)

            def committed(call_sid: str) -> bool:
                # The store, not the live snapshot: the snapshot shows a decision before its
                # batch commits, and a kill in between rightly loses both the decision and the
                # transfer it carries in the same transaction (nothing would be owed).
                rec = watch.get_call(call_sid)
                return rec is not None and any(d.gate == "handoff" and d.outcome == "transfer"
                                               for d in rec.decisions)

            async def run() -> str:
                call = RawCall(first.url)
                await call.connect()
                talking = asyncio.create_task(talk(call))
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    if await asyncio.to_thread(committed, call.call_sid):
                        os.kill(first.proc.pid, signal.SIGKILL)  # at once, no grace
                        killed_at.append(time.monotonic())
                        break
                    await asyncio.sleep(0.01)
                else:
                    raise AssertionError("no handoff decision within 20 s")
                await asyncio.gather(talking, return_exceptions=True)
                return call.call_sid

            try:
                sid = asyncio.run(run())
            finally:
                watch.close()
        finally:
            first.__exit__()
        with gateway(tmp_path, "second", postgres_url, **env):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(k.startswith(sid) and t > killed_at[0]
                                                          for k, _, t in Crm.posts):
                time.sleep(0.2)
            time.sleep(4.0)  # past a lease and a delivery pass: a second delivery would show now
        store = open_store(postgres_url)
        try:
            rec = store.get_call(sid)
            assert_contiguous(rec.decisions)
            assert any(d.gate == "handoff" and d.outcome == "transfer" for d in rec.decisions)
            owed = {(o.key, o.kind) for o in rec.outbox if o.kind != "transfer"}
            # The note was queued with the handoff decision, so it is owed even when the kill
            # came while the caller was still being told (before the transfer itself).
            assert (f"{sid}:crm_note", "crm_note") in owed, owed
            assert {o.status for o in rec.outbox} == {"delivered"}
        finally:
            store.close()
        mine: dict[tuple[str, str], list[float]] = {}
        for k, kind, t in Crm.posts:
            if k.startswith(sid):
                mine.setdefault((k, kind), []).append(t)
        # Applied once each: the CRM, deduping by key, holds exactly the owed note and tasks.
        assert set(mine) == owed, mine
        # On the wire: once, unless the killed process had POSTed a row and died before
        # recording it (the at-least-once window the outbox documents); then the restart
        # sends it again under the same key, and never a third time.
        for k, times in mine.items():
            assert len(times) == 1 or (len(times) == 2 and times[0] < killed_at[0] < times[1]), (k, times)
    finally:
        crm.shutdown()
