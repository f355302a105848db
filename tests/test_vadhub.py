"""The process-wide VAD hub: frames from many calls in one tick, one batched inference."""

from __future__ import annotations

import asyncio

import numpy as np

from turngate.audio import mulaw
from turngate.server.vadhub import VadHub
from turngate.vad.batch import SileroBatch


def test_frames_from_several_calls_in_one_tick_share_one_inference_and_reach_their_own_call():
    async def run():
        hub = VadHub(SileroBatch(), tick_s=0.001)
        got: dict[str, list[float]] = {"a": [], "b": []}
        for sid in got:
            hub.register(sid, lambda p, lvl, sid=sid: got[sid].append(lvl))
        loud = mulaw.encode((np.sin(np.arange(160) / 3) * 8000).astype(np.int16))
        quiet = mulaw.encode((np.sin(np.arange(160) / 3) * 300).astype(np.int16))
        for _ in range(8):  # 160 ms: five 32 ms windows per call
            hub.push_mulaw("a", loud)
            hub.push_mulaw("b", quiet)
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.01)
        hub.unregister("b")
        hub.push_mulaw("a", loud)
        await asyncio.sleep(0.01)
        return got, hub.batch.stats

    got, stats = asyncio.run(run())
    assert len(got["a"]) == 5 and len(got["b"]) == 5
    assert min(got["a"]) > -20 and max(got["b"]) < -35  # each call got its own windows
    assert stats.windows_run + stats.windows_skipped == 10  # 5 windows each; the last frame is no window yet
    assert stats.inferences == 5  # the two calls' windows went through Silero together
