"""Bounded audio queues: what is dropped when a consumer falls behind, and why.

The only per-call queue that can grow without the core's consent is the STT
audio queue: a recogniser that lags (an overloaded worker process) receives
every frame the caller sends while an utterance is open. It is bounded at
``Config.stt_backlog_ms`` of audio; past it the *oldest* queued frames are
dropped, counted (``turngate_audio_dropped_frames_total{queue="stt"}``) and
logged once per episode. Oldest, because a recogniser that far behind is
answered from its partials anyway (the core's ``turn.stt_timeout_partial``),
and the caller's latest words are what a late final must still contain.

Decisions and outbox rows are never dropped (``store/writer.py`` spills instead).
"""

from __future__ import annotations

from collections import deque
from typing import Any

FRAME_MS = 20


def trim_stt_audio(cmds: deque[tuple[str, Any]], max_frames: int) -> int:
    """Drop the oldest audio frames in ``cmds`` beyond ``max_frames``; returns how many.

    ``cmds`` is a session's STT command queue: ``("start", None)``,
    ``("audio", [pcm, ...])``, ``("finish", discard)``. Commands other than audio are
    never dropped, so an utterance still starts and ends where the core said."""
    total = 0
    for cmd, arg in cmds:
        if cmd == "audio":
            total += len(arg)
    excess = total - max_frames
    if excess <= 0:
        return 0
    dropped = 0
    for cmd, arg in cmds:
        if cmd != "audio":
            continue
        n = min(len(arg), excess - dropped)
        # Keep at least one frame per command so the worker's audio step never sees an empty list.
        n = min(n, len(arg) - 1)
        if n > 0:
            del arg[:n]
            dropped += n
        if dropped >= excess:
            break
    return dropped
