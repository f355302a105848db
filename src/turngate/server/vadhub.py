"""One VAD batch per process, ticked by the event loop.

Sessions push each 20 ms frame; the first push after a tick schedules the next
run ``tick_s`` later, so every frame that arrives meanwhile, from any call, goes
into the same batched Silero inference. Results go straight to each session's
``on_vad`` callback, synchronously: no task or queue hop per frame.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable

import numpy as np

from ..vad.batch import SileroBatch

log = logging.getLogger("turngate.vad")
VadCallback = Callable[[float, float], None]


class VadHub:
    def __init__(self, batch: SileroBatch | None = None, *, tick_s: float = 0.008) -> None:
        self.batch = batch or SileroBatch()
        self.tick_s = tick_s
        self._callbacks: dict[Hashable, VadCallback] = {}
        self._scheduled: asyncio.TimerHandle | None = None

    def register(self, stream_id: Hashable, callback: VadCallback) -> None:
        self.batch.register(stream_id)
        self._callbacks[stream_id] = callback

    def unregister(self, stream_id: Hashable) -> None:
        self._callbacks.pop(stream_id, None)
        if stream_id in self.batch:
            self.batch.unregister(stream_id)

    def push(self, stream_id: Hashable, pcm: np.ndarray) -> None:
        self.batch.push(stream_id, pcm)
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_later(self.tick_s, self._run)

    def _run(self) -> None:
        self._scheduled = None
        for stream_id, probability, level in self.batch.run():
            cb = self._callbacks.get(stream_id)
            if cb is None:
                continue
            try:
                cb(probability, level)
            except Exception:  # one call's bug must not stop VAD for every other call
                log.exception("VAD callback failed for %s", stream_id)
