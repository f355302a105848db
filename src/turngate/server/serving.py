"""uvicorn, except that the first SIGTERM drains before it stops.

uvicorn's own shutdown closes every open WebSocket with 1012 at once, which would
cut every call in flight. :class:`DrainingServer` takes the first SIGTERM itself
and runs :func:`turngate.server.drain.drain` (refuse new calls, let calls in
flight end within the grace period, flush decisions and the outbox), then lets
uvicorn shut down. A second SIGTERM, or SIGINT, stops at once as uvicorn does.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import uvicorn

from .drain import drain


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, grace_s: float) -> None:
        super().__init__(config)
        self.grace_s = grace_s
        self._draining = False

    def handle_exit(self, sig: int, frame: Any) -> None:
        # Runs as a signal handler on the loop's thread: only schedule work here.
        app_state = getattr(self.config.app, "state", None)
        if self._draining or sig != signal.SIGTERM or getattr(app_state, "admission", None) is None:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        loop = asyncio.get_event_loop()
        loop.call_soon_threadsafe(lambda: loop.create_task(self._drain(app_state)))

    async def _drain(self, app_state: Any) -> bool:
        try:
            return await drain(app_state.admission, grace_s=self.grace_s, flush=app_state.drain_flush)
        finally:
            self.should_exit = True
