"""SIGTERM drains a real gateway process: not ready at once, new calls refused, the
call in flight goes on to its end, every decision written, then the process exits."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest

from scale_helpers import RawCall, speech_frames
from test_scale_drills import gateway, start_all
from turngate.store import open_store

pytestmark = pytest.mark.slow


def test_sigterm_refuses_new_calls_lets_the_call_in_flight_finish_and_writes_everything(tmp_path):
    db = tmp_path / "drain.db"
    gw = gateway(tmp_path, "gw", f"sqlite:///{db}", TURNGATE_DRAIN_GRACE_S="60")
    start_all([gw])
    try:
        async def run() -> str:
            call = RawCall(gw.url)
            await call.connect()
            await call.silence(1000)
            gw.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while httpx.get(gw.url + "/readyz", timeout=10).status_code != 503:
                assert time.monotonic() < deadline, "still ready 10 s after SIGTERM"
                await asyncio.sleep(0.1)
            assert not httpx.get(gw.url + "/readyz").json()["checks"]["not_draining"]["ok"]
            refused = await RawCall(gw.url).webhook()
            assert "<Stream" not in refused and "busy" in refused
            heard = len(call.received)
            await call.send_media(speech_frames("What are your opening hours?"))
            await call.silence(3000)
            assert gw.proc.poll() is None, "the gateway exited with a call in flight"
            assert len(call.received) > heard, "the bot went quiet during the drain"
            await call.stop()
            return call.call_sid

        sid = asyncio.run(run())
        assert gw.proc.wait(20) == 0
    finally:
        gw.__exit__()
    store = open_store(f"sqlite:///{db}")
    try:
        rec = store.get_call(sid)
        assert rec.call.ended_at is not None and rec.call.outcome
        assert [d.seq for d in rec.decisions] == list(range(1, len(rec.decisions) + 1))
        assert any(d.gate == "route" for d in rec.decisions)  # decided during the drain, and written
    finally:
        store.close()
    assert "drain: every call has ended" in (tmp_path / "gw.log").read_text()
