"""Run an STT engine in worker processes, behind the same ``SttEngine`` Protocol.

Why: pocketsphinx decodes with the GIL held, so in-process recognition of many
calls stalls the asyncio shell's own thread for as long as the decoders run
(bench/stt.py: 0.1-0.45 CPU-seconds per audio second per call). Worker
processes take that off the gateway's interpreter and onto other cores; the
gateway thread only pickles 320-byte frames and waits on a pipe with the GIL
released.

Each worker builds its engine once from ``factory`` (a picklable callable, e.g.
``functools.partial(PocketsphinxEngine, phrases)``) and serves many streams.
A stream lives on one worker for its whole call; calls are spread over the
workers by how many streams each holds. Requests to one worker are serialised
by a lock (the worker is single-threaded anyway).
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

import numpy as np

from turngate.errors import ProviderError
from turngate.speech.stt import SttEngine, SttResult

__all__ = ["ProcessSttEngine", "ProcessSttStream"]


def _serve(conn: Connection, factory: Callable[[], SttEngine]) -> None:
    """Worker main loop: (stream_id, op, payload) in, ("ok", value) or ("error", text) out."""
    engine = factory()
    streams = {}
    conn.send(("ok", None))  # ready
    while True:
        try:
            sid, op, payload = conn.recv()
        except EOFError:
            return
        try:
            if op == "open":
                streams[sid] = engine.new_stream()
                value = None
            elif op == "feed":
                value = streams[sid].feed(np.frombuffer(payload, dtype=np.int16))
            elif op == "start":
                value = streams[sid].start_utterance()
            elif op == "end":
                value = streams[sid].end_utterance()
            elif op == "settle":
                settle = getattr(streams[sid], "settle", None)
                value = settle() if settle is not None else None
            elif op == "close":
                stream = streams.pop(sid, None)
                value = stream.close() if stream is not None else None
            elif op == "stop":
                conn.send(("ok", None))
                return
            else:
                raise ValueError(f"unknown op {op!r}")
            conn.send(("ok", value))
        except Exception as exc:  # reported to the caller's thread as a ProviderError
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self, ctx: mp.context.BaseContext, factory: Callable[[], SttEngine]) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, factory), daemon=True,
                                   name="turngate-stt")
        self.process.start()
        child.close()
        self.lock = threading.Lock()
        self.streams = 0

    def wait_ready(self) -> None:
        self._reply()

    def call(self, sid: int, op: str, payload: object = None) -> object:
        with self.lock:
            try:
                self.conn.send((sid, op, payload))
            except (BrokenPipeError, OSError) as exc:
                raise ProviderError("stt", f"worker process is gone ({exc})") from exc
            return self._reply()

    def _reply(self) -> object:
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise ProviderError("stt", f"worker process died (exit code {self.process.exitcode})") from exc
        if status != "ok":
            raise ProviderError("stt", str(value))
        return value


class ProcessSttEngine:
    """``SttEngine`` whose streams run in ``workers`` child processes."""

    def __init__(self, factory: Callable[[], SttEngine], *, workers: int = 1,
                 start_method: str = "spawn") -> None:
        # spawn, not fork: the gateway process has threads (asyncio, executors) by now.
        ctx = mp.get_context(start_method)
        self._workers = [_Worker(ctx, factory) for _ in range(max(1, workers))]
        for worker in self._workers:
            worker.wait_ready()  # engines build in parallel; surface a bad factory here
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def new_stream(self) -> ProcessSttStream:
        with self._lock:
            worker = min(self._workers, key=lambda w: w.streams)
            worker.streams += 1
            sid = next(self._ids)
        worker.call(sid, "open")
        return ProcessSttStream(self, worker, sid)

    def _released(self, worker: _Worker) -> None:
        with self._lock:
            worker.streams -= 1

    def close(self) -> None:
        for worker in self._workers:
            try:
                worker.call(0, "stop")
            except ProviderError:
                pass
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
            worker.conn.close()


class ProcessSttStream:
    """Proxy for one call's stream in a worker; same contract as ``SttStream``."""

    def __init__(self, engine: ProcessSttEngine, worker: _Worker, sid: int) -> None:
        self._engine = engine
        self._worker: _Worker | None = worker
        self._sid = sid

    def start_utterance(self) -> None:
        self._require().call(self._sid, "start")

    def feed(self, pcm8k: np.ndarray) -> list[SttResult]:
        data = np.asarray(pcm8k, dtype=np.int16).tobytes()
        return self._require().call(self._sid, "feed", data)  # type: ignore[return-value]

    def end_utterance(self) -> SttResult:
        return self._require().call(self._sid, "end")  # type: ignore[return-value]

    def settle(self) -> None:
        """Deferred work of the last utterance (see PocketsphinxStream.settle), in the worker."""
        self._require().call(self._sid, "settle")

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        try:
            worker.call(self._sid, "close")
        finally:
            self._engine._released(worker)

    def _require(self) -> _Worker:
        if self._worker is None:
            raise RuntimeError("STT stream is closed")
        return self._worker
