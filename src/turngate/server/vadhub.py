"""One VAD batch per process, ticked by the event loop.

Sessions hand over each 20 ms frame as its mu-law payload; the first one after a
tick schedules the next run ``tick_s`` later, so every frame that arrives
meanwhile, from any call, is decoded in one go (``push_mulaw``) and goes into the
same batched Silero inference. Results go straight to each session's ``on_vad``
callback, synchronously: no task or queue hop per frame.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from typing import Any

from ..vad.batch import SileroBatch

log = logging.getLogger("turngate.vad")
VadCallback = Callable[[float, float], None]
# (delay_s, callback) -> a handle; the running loop's call_later unless a test steps its own.
Scheduler = Callable[[float, Callable[[], None]], Any]


def _loop_call_later(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
    return asyncio.get_running_loop().call_later(delay, callback)


class VadHub:
    def __init__(self, batch: SileroBatch | None = None, *, tick_s: float = 0.008,
                 call_later: Scheduler = _loop_call_later) -> None:
        self.batch = batch or SileroBatch()
        self.tick_s = tick_s
        self._call_later = call_later
        self._callbacks: dict[Hashable, VadCallback] = {}
        self._scheduled: Any = None
        self._pending: list[tuple[Hashable, bytes]] = []
        self._pushed_at: list[float] = []
        # Called with each frame's handling time (receipt to its window's actions dispatched).
        self.observe: Callable[[float], None] | None = None

    def register(self, stream_id: Hashable, callback: VadCallback) -> None:
        self.batch.register(stream_id)
        self._callbacks[stream_id] = callback

    def unregister(self, stream_id: Hashable) -> None:
        self._callbacks.pop(stream_id, None)
        keep = [i for i, (sid, _) in enumerate(self._pending) if sid != stream_id]
        self._pending = [self._pending[i] for i in keep]
        self._pushed_at = [self._pushed_at[i] for i in keep]  # parallel to _pending
        if stream_id in self.batch:
            self.batch.unregister(stream_id)

    def push_mulaw(self, stream_id: Hashable, payload: bytes) -> None:
        self._pending.append((stream_id, payload))
        self._pushed_at.append(time.perf_counter())
        if self._scheduled is None:
            self._scheduled = self._call_later(self.tick_s, self._run)

    def _run(self) -> None:
        self._scheduled = None
        pending, self._pending = self._pending, []
        pushed_at, self._pushed_at = self._pushed_at, []
        self.batch.push_mulaw(pending)  # unregister() already dropped a leaving call's frames
        for stream_id, probability, level in self.batch.run():
            cb = self._callbacks.get(stream_id)
            if cb is None:
                continue
            try:
                cb(probability, level)
            except Exception:  # one call's bug must not stop VAD for every other call
                log.exception("VAD callback failed for %s", stream_id)
        if self.observe is not None:
            done = time.perf_counter()
            for t in pushed_at:
                self.observe(done - t)
