"""Silero VAD batched across every live call of the process, behind a WebRTC pre-gate.

Theory of operation
-------------------
Twilio delivers 20 ms frames (160 samples); Silero wants 32 ms windows (256 samples
plus 32 samples of context). Each stream owns one row of a shared float32 buffer;
``push`` appends a frame to its row (a plain int16 -> float32 copy: scaling to
[-1, 1) is done once per batch, which costs a third of a per-frame multiply) and
runs WebRTC VAD on it. The row keeps the 32 samples before the read position, so a window and its context
are one contiguous 288-sample slice and nothing is copied per frame except the frame
itself. Every few windows ``run`` moves the unread tail (< 1 window) to the front.

``push_mulaw`` is the batched form of ingress for a whole tick: it decodes every
stream's mu-law payload in one table lookup and writes all rows in one scatter,
leaving WebRTC VAD (which needs each frame as int16) as the only per-frame call.

The shell calls ``run`` once per tick (every 10-20 ms) for the whole process. It
takes every stream with a complete window, computes the window levels in one numpy
call, and runs ONE Silero inference over those that the pre-gate does not skip,
gathering and scattering their rows of the recurrent state ``[2, rows, 128]``. A
stream that fell more than one window behind is served in further rounds of the
same ``run``, so its windows stay in order.

Pre-gate
--------
A window skips Silero (probability reported as 0.0) when all of these hold:
WebRTC VAD flagged no frame overlapping it, it flagged none for ``quiet_ms``
before it either, and Silero's last probability on that stream was below
``max_probability``. Silero's state is then *kept as it was* after the last window
it ran on: the caller's last sound plus ``quiet_ms`` of quiet. That is not what
continuous inference would hold after seconds of quiet (it settles into a state that
is slower to rise), and measured on real speech the difference is in our favour:
onsets are detected earlier, at the cost of rare isolated windows over 0.5 in loud
noise (docs/benchmarks.md, "Hot path"). The context of the first window after a skip
is the real last 32 samples, since the buffer holds them anyway. Resetting the state
to zeros instead is available (``resume="reset"``); it was measured slower to detect
onsets than keeping the state.

Drop policy: a row holds ``BACKLOG_WINDOWS`` windows of unread audio; if the shell
stops calling ``run`` for longer than that, the oldest unread windows are dropped
(counted in ``stats.windows_dropped``) rather than growing without bound.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from turngate.audio.level import levels_db
from turngate.audio.mulaw import DECODE_TABLE
from turngate.vad.silero import CONTEXT, STATE_SIZE, WINDOW, SileroModel
from turngate.vad.webrtc import FRAME_SAMPLES, WebRtcVad, process

__all__ = ["PreGate", "SileroBatch", "BatchStats", "BACKLOG_WINDOWS"]

BACKLOG_WINDOWS = 6
# A row: context, then consumed windows up to _COMPACT_AT (run() moves the unread tail
# to the front once a stream's read position passes it), then room for a full backlog.
_COMPACT_AT = CONTEXT + WINDOW * 4
_ROW = _COMPACT_AT + WINDOW * (BACKLOG_WINDOWS + 1)
_FRAME = 160
_FRAME_SPAN = np.arange(_FRAME, dtype=np.intp)
_SPAN = np.arange(CONTEXT + WINDOW, dtype=np.intp)
_SCALE = np.float32(1.0 / 32768.0)
_MAX_PUSH = WINDOW * 2  # longer pushes are split into 20 ms frames


@dataclass(frozen=True, slots=True, kw_only=True)
class PreGate:
    """When a window may skip Silero. ``enabled=False`` runs Silero on every window."""

    enabled: bool = True
    mode: int = 3                  # WebRTC VAD aggressiveness, 0..3
    quiet_ms: int = 96             # WebRTC quiet this long before the window, too
    max_probability: float = 0.2   # Silero's last word on the stream must be below this
    resume: Literal["keep", "reset"] = "keep"


@dataclass(slots=True)
class BatchStats:
    windows_run: int = 0       # windows Silero evaluated
    windows_skipped: int = 0   # windows the pre-gate answered with 0.0
    windows_dropped: int = 0   # backlog overflow (shell not calling run)
    inferences: int = 0        # onnxruntime calls (one per round of run)


class _Stream:
    __slots__ = (
        "stream_id", "row", "buf", "write", "read", "consumed", "received", "voiced_until",
        "last_probability", "skipping", "queued", "live", "vad",
    )

    def __init__(self, stream_id: Hashable, row: int, buf: np.ndarray, vad: object | None) -> None:
        self.stream_id = stream_id
        self.row = row
        self.buf = buf            # this stream's row of the shared buffer (a view)
        self.write = CONTEXT      # next free sample in the row
        self.read = CONTEXT       # first sample of the next window
        self.consumed = 0         # stream samples taken by windows so far
        self.received = 0         # stream samples pushed so far
        self.voiced_until = 0     # stream sample where the last WebRTC-voiced frame ended
        self.last_probability = 0.0
        self.skipping = False
        self.queued = False
        self.live = True
        self.vad = vad            # WebRTC VAD handle, None without the pre-gate


class SileroBatch:
    """Per-stream 32 ms Silero VAD for all calls of a process, one inference per tick.

    Not thread-safe: call it from the event loop thread only (it never blocks on
    I/O; one ``run`` over 256 streams costs a few milliseconds of CPU).
    """

    def __init__(
        self,
        *,
        pregate: PreGate = PreGate(),
        model: SileroModel | None = None,
        capacity: int = 64,
    ) -> None:
        self._model = model or SileroModel()
        self._pregate = pregate
        self._quiet = pregate.quiet_ms * 8
        self._streams: dict[Hashable, _Stream] = {}
        self._ready: list[_Stream] = []
        self._free: list[int] = []
        self._capacity = 0
        self._buf = np.zeros((0, _ROW), dtype=np.float32)
        self._state = np.zeros((2, 0, STATE_SIZE), dtype=np.float32)
        self._grow(max(1, capacity))
        self.stats = BatchStats()

    # -- stream lifecycle -------------------------------------------------------------

    def register(self, stream_id: Hashable) -> None:
        """Start a stream (call start): fresh state, empty buffer."""
        if stream_id in self._streams:
            raise KeyError(f"stream {stream_id!r} is already registered")
        if not self._free:
            self._grow(self._capacity * 2)
        row = self._free.pop()
        self._buf[row, :CONTEXT] = 0.0
        self._state[:, row, :] = 0.0
        vad = WebRtcVad(self._pregate.mode).handle if self._pregate.enabled else None
        self._streams[stream_id] = _Stream(stream_id, row, self._buf[row], vad)

    def unregister(self, stream_id: Hashable) -> None:
        """End a stream (call end). Unread audio is discarded. Unknown ids are ignored."""
        s = self._streams.pop(stream_id, None)
        if s is not None:
            s.live = False
            self._free.append(s.row)

    def __len__(self) -> int:
        return len(self._streams)

    def __contains__(self, stream_id: object) -> bool:
        return stream_id in self._streams

    # -- per frame --------------------------------------------------------------------

    def push(self, stream_id: Hashable, pcm: np.ndarray) -> None:
        """Append int16 samples (normally one 20 ms Twilio frame) to the stream's window.

        WebRTC VAD runs on frames of 80, 160 or 240 samples; a push of another size
        counts as voiced (the pre-gate cannot judge it, so Silero will).
        """
        s = self._streams[stream_id]
        n = len(pcm)
        if n > _MAX_PUSH:
            for i in range(0, n, 160):
                self.push(stream_id, pcm[i:i + 160])
            return
        if n == 0:
            return
        if s.write + n > _ROW:
            self._make_room(s, n)
        w = s.write
        s.buf[w:w + n] = pcm
        s.write = w + n
        s.received += n
        if s.vad is not None and (n not in FRAME_SAMPLES or process(s.vad, 8000, pcm, n)):
            s.voiced_until = s.received
        if not s.queued and s.write - s.read >= WINDOW:
            s.queued = True
            self._ready.append(s)

    def push_mulaw(self, frames: list[tuple[Hashable, bytes]]) -> None:
        """Append one tick's Twilio payloads (8 kHz mu-law bytes), for many streams at once.

        Equivalent to ``push(stream_id, mulaw.decode(payload))`` for each pair in order,
        for about three quarters of the CPU (bench/hotpath.py). A stream may appear more
        than once. An unknown stream raises ``KeyError`` after the frames before it are in.
        """
        if len(frames) < 4:   # too few to pay for the join and the scatter
            for stream_id, payload in frames:
                self.push(stream_id, DECODE_TABLE.take(np.frombuffer(payload, dtype=np.uint8)))
            return
        streams = self._streams
        pcm = DECODE_TABLE.take(np.frombuffer(b"".join([p for _, p in frames]), dtype=np.uint8))
        view = memoryview(pcm)
        rows: list[int] = []     # scatter list for 20 ms frames: row, write position, offset
        starts: list[int] = []
        picks: list[int] = []
        offset = 0
        try:
            for stream_id, payload in frames:
                s = streams[stream_id]
                n = len(payload)
                if n != _FRAME or s.write + n > _ROW:
                    # Odd size, or a stalled stream whose row must be compacted: write what is
                    # pending first (the row may move), then take the one-frame path.
                    self._scatter(rows, starts, picks, pcm)
                    rows, starts, picks = [], [], []
                    self.push(stream_id, pcm[offset:offset + n])
                    offset += n
                    continue
                w = s.write
                rows.append(s.row)
                starts.append(w)
                picks.append(offset)
                s.write = w + n
                s.received += n
                if s.vad is not None and process(s.vad, 8000, view[offset:offset + n], n):
                    s.voiced_until = s.received
                if not s.queued and s.write - s.read >= WINDOW:
                    s.queued = True
                    self._ready.append(s)
                offset += n
        finally:
            self._scatter(rows, starts, picks, pcm)

    def _scatter(self, rows: list[int], starts: list[int], picks: list[int], pcm: np.ndarray) -> None:
        if not rows:
            return
        idx = np.array(starts, dtype=np.intp)[:, None] + _FRAME_SPAN
        if len(picks) * _FRAME == len(pcm):   # every frame of the tick was a 20 ms frame
            src = pcm.reshape(-1, _FRAME)
        else:
            src = pcm[np.array(picks, dtype=np.intp)[:, None] + _FRAME_SPAN]
        self._buf[np.array(rows, dtype=np.intp)[:, None], idx] = src

    # -- per tick ---------------------------------------------------------------------

    def run(self) -> list[tuple[Hashable, float, float]]:
        """Evaluate every complete window: ``[(stream_id, probability, level_db), ...]``.

        In the order streams completed their windows; a stream appears more than once
        only if it had more than one complete window (a late tick), oldest first.
        """
        results: list[tuple[Hashable, float, float]] = []
        while self._ready:
            batch = [s for s in self._ready if s.live]
            self._ready = []
            if batch:
                self._round(batch, results)
        return results

    def _round(self, batch: list[_Stream], results: list[tuple[Hashable, float, float]]) -> None:
        gate = self._pregate
        gated, quiet, ceiling = gate.enabled, self._quiet, gate.max_probability
        reset = gate.resume == "reset"
        rows: list[int] = []
        starts: list[int] = []
        run_pos: list[int] = []
        for i, s in enumerate(batch):
            rows.append(s.row)
            starts.append(s.read - CONTEXT)
            if not gated or s.voiced_until + quiet > s.consumed or s.last_probability >= ceiling:
                run_pos.append(i)
                if reset and s.skipping:
                    self._state[:, s.row, :] = 0.0
                s.skipping = False
            else:
                s.skipping = True

        row_idx = np.array(rows, dtype=np.intp)
        windows = self._buf[row_idx[:, None], np.array(starts, dtype=np.intp)[:, None] + _SPAN]
        windows *= _SCALE   # the gather made a copy: scale it in place, [B, 288]
        levels = levels_db(windows[:, CONTEXT:]).tolist()

        probs = [0.0] * len(batch)
        if run_pos:
            if len(run_pos) == len(batch):
                run_rows, x = row_idx, windows
            else:
                sel = np.array(run_pos, dtype=np.intp)
                run_rows, x = row_idx[sel], windows[sel]
            p, new_state = self._model.infer(x, self._state[:, run_rows, :])
            self._state[:, run_rows, :] = new_state
            for i, v in zip(run_pos, p.tolist()):
                probs[i] = v
                batch[i].last_probability = v
            self.stats.inferences += 1
        self.stats.windows_run += len(run_pos)
        self.stats.windows_skipped += len(batch) - len(run_pos)

        ready = self._ready
        for s, prob, level in zip(batch, probs, levels):
            s.read += WINDOW
            s.consumed += WINDOW
            results.append((s.stream_id, prob, level))
            if s.read >= _COMPACT_AT:
                tail = s.write - s.read
                s.buf[: CONTEXT + tail] = s.buf[s.read - CONTEXT : s.write]
                s.read, s.write = CONTEXT, CONTEXT + tail
            if s.write - s.read >= WINDOW:
                ready.append(s)   # fell behind: served in the next round, in order
            else:
                s.queued = False

    # -- storage ----------------------------------------------------------------------

    def _make_room(self, s: _Stream, incoming: int) -> None:
        buf = s.buf
        backlog = s.write - s.read
        # Keep at most BACKLOG_WINDOWS unread windows' worth, minus the incoming frame.
        limit = WINDOW * BACKLOG_WINDOWS + WINDOW - incoming
        if backlog > limit:
            drop = -(-(backlog - limit) // WINDOW) * WINDOW  # whole windows, oldest first
            s.read += drop
            s.consumed += drop
            backlog -= drop
            self.stats.windows_dropped += drop // WINDOW
        buf[: CONTEXT + backlog] = buf[s.read - CONTEXT : s.write]
        s.read = CONTEXT
        s.write = CONTEXT + backlog

    def _grow(self, capacity: int) -> None:
        old = self._capacity
        buf = np.zeros((capacity, _ROW), dtype=np.float32)
        buf[:old] = self._buf
        state = np.zeros((2, capacity, STATE_SIZE), dtype=np.float32)
        state[:, :old] = self._state
        self._buf, self._state, self._capacity = buf, state, capacity
        for s in getattr(self, "_streams", {}).values():
            s.buf = buf[s.row]   # re-point the row views at the new buffer
        self._free.extend(range(capacity - 1, old - 1, -1))
