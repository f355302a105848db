"""What the local provider servers share: an ASGI app on a free loopback port in a
background thread, a thread-safe record of what it received, and a gate a test
opens to release a stalled answer.

The listening socket is bound before the thread starts, so ``url`` is valid at
once: a client that connects before uvicorn accepts waits in the backlog, and no
test polls for readiness.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

__all__ = ["ServerThread", "Recorder", "Gate"]


class Recorder:
    """Everything a fake received, in order; tests read it and wait on it."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()

    def add(self, item: Any) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def snapshot(self) -> list[Any]:
        with self._cond:
            return list(self.items)

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 10.0) -> list[Any]:
        """Block until ``predicate(items)`` holds; the timeout only guards a broken test."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.items), timeout):
                raise TimeoutError(f"condition not met; received {len(self.items)} items")
            return list(self.items)


class Gate:
    """An asyncio event on the server's loop that any thread may open."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._opened = False

    def _bind(self) -> asyncio.Event:
        if self._event is None:
            self._loop = asyncio.get_running_loop()
            self._event = asyncio.Event()
            if self._opened:
                self._event.set()
        return self._event

    async def wait(self) -> None:
        await self._bind().wait()

    def open(self) -> None:
        self._opened = True
        if self._loop is not None and self._event is not None:
            self._loop.call_soon_threadsafe(self._event.set)


class ServerThread:
    """``with ServerThread(app) as url:`` serves ``app`` on 127.0.0.1 until the block ends."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP,
        # and without it a second small message waits ~40 ms for the client's delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio"))
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"fake-{self.port}")

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> str:
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(10)
        self._sock.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
