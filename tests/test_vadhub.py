"""The process-wide VAD hub: frames from many calls in one tick, one batched inference."""

from __future__ import annotations

import numpy as np

from turngate.audio import mulaw
from turngate.server.vadhub import VadHub
from turngate.vad.batch import SileroBatch


class StepScheduler:
    """Stands in for the event loop's call_later: the test fires each tick itself."""

    def __init__(self) -> None:
        self.due: list = []

    def __call__(self, delay_s, callback):
        self.due.append(callback)
        return callback

    def tick(self) -> None:
        due, self.due = self.due, []
        for callback in due:
            callback()


def test_frames_from_several_calls_in_one_tick_share_one_inference_and_reach_their_own_call():
    ticks = StepScheduler()
    hub = VadHub(SileroBatch(), call_later=ticks)
    got: dict[str, list[float]] = {"a": [], "b": []}
    for sid in got:
        hub.register(sid, lambda p, lvl, sid=sid: got[sid].append(lvl))
    loud = mulaw.encode((np.sin(np.arange(160) / 3) * 8000).astype(np.int16))
    quiet = mulaw.encode((np.sin(np.arange(160) / 3) * 300).astype(np.int16))
    for _ in range(8):  # 160 ms: five 32 ms windows per call
        hub.push_mulaw("a", loud)
        hub.push_mulaw("b", quiet)
        assert len(ticks.due) == 1, "the first frame of a tick schedules it; the rest join it"
        ticks.tick()
    hub.unregister("b")
    hub.push_mulaw("a", loud)
    ticks.tick()
    stats = hub.batch.stats
    assert len(got["a"]) == 5 and len(got["b"]) == 5
    assert min(got["a"]) > -20 and max(got["b"]) < -35  # each call got its own windows
    assert stats.windows_run + stats.windows_skipped == 10  # 5 windows each; the last frame is no window yet
    assert stats.inferences == 5  # the two calls' windows went through Silero together


def test_a_leaving_calls_queued_frames_are_dropped_and_a_failing_callback_stops_no_one():
    ticks = StepScheduler()
    hub = VadHub(SileroBatch(), call_later=ticks)
    got: list[float] = []

    def broken(p, lvl):
        raise RuntimeError("a session bug")

    hub.register("a", lambda p, lvl: got.append(lvl))
    hub.register("b", broken)
    frame = mulaw.encode((np.sin(np.arange(160) / 3) * 8000).astype(np.int16))
    for _ in range(4):
        hub.push_mulaw("a", frame)
        hub.push_mulaw("b", frame)
        ticks.tick()
    assert len(got) == 2  # 80 ms: two 32 ms windows reached "a" although "b" raised each time
    hub.push_mulaw("b", frame)
    hub.unregister("b")
    ticks.tick()
    assert "b" not in hub.batch
