"""Caller audio kept for review, only where the policy allows, with PII muted.

With ``retention: {audio: true}`` in the policy, the shell keeps the caller's inbound
audio (8 kHz mu-law, 20 ms frames, in arrival order) and, when the call ends, writes
it as a 16-bit WAV to ``<audio_dir>/<call_id>.wav``. Before anything is written, every
stretch of caller speech that held PII is replaced by silence: from the onset of the
caller sound that the guard's finding came from (the last ``caller_started`` or barge-in
``pause`` onset before the guard decision, less a margin) to the guard's decision.
The guard decides on the words, after they were said, so this over-mutes rather than
under-mutes; speech in which the guard found nothing is kept.

:func:`muted_spans` is pure (decisions in, spans out) and is what the tests check.
"""

from __future__ import annotations

import re
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import mulaw
from ..core.decisions import Decision

__all__ = ["AudioKeeper", "muted_spans", "audio_path", "MARGIN_MS"]

MARGIN_MS = 400
FRAME_MS = 20


def audio_path(folder: str, call_id: str) -> Path:
    """The WAV's path; a call id is a peer's string, so only its safe characters make the name."""
    return Path(folder) / ((re.sub(r"[^A-Za-z0-9_-]", "_", call_id)[:64] or "call") + ".wav")


def _holds_pii(d: Decision) -> bool:
    return d.gate == "guard" and bool(d.evidence.get("findings"))


def muted_spans(decisions: Sequence[Decision]) -> list[tuple[int, int]]:
    """Call-relative [start, end) ms ranges to silence, merged and sorted."""
    spans: list[tuple[int, int]] = []
    onset = 0
    for d in decisions:
        if d.gate == "turn" and d.outcome in ("caller_started", "pause", "yield") and "onset_ms" in d.evidence:
            onset = int(d.evidence["onset_ms"])
        if _holds_pii(d):
            spans.append((max(0, onset - MARGIN_MS), d.at_ms + MARGIN_MS))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


class AudioKeeper:
    """The caller's frames of one call, held until the call ends."""

    __slots__ = ("frames",)

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write(self, path: Path, decisions: Sequence[Decision]) -> dict[str, Any]:
        """Mute, write the WAV, and return what the call's summary says about it."""
        pcm = mulaw.decode(b"".join(self.frames)).astype(np.int16)
        spans = muted_spans(decisions)
        per_ms = 8
        for a, b in spans:
            pcm[a * per_ms:b * per_ms] = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(pcm.tobytes())
        return {"file": str(path), "seconds": round(len(pcm) / 8000, 2), "muted_ms": [list(s) for s in spans]}
