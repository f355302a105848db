"""Voice activity detection for the caller channel.

:class:`SileroBatch` is the gateway's detector: Silero VAD (ONNX, 8 kHz, 32 ms
windows) batched across every live call of the process, with WebRTC VAD as a
per-frame pre-gate that lets quiet windows skip Silero. The shell registers a
stream per call, pushes each decoded 20 ms frame, and calls ``run`` once per tick;
each result becomes one ``VoiceActivity(probability=..., level_db=...)`` event
for that call's core.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

import numpy as np

from turngate.vad.batch import BatchStats, PreGate, SileroBatch
from turngate.vad.silero import SileroModel, SileroStream, model_path
from turngate.vad.webrtc import WebRtcVad

__all__ = [
    "VoiceDetector", "SileroBatch", "PreGate", "BatchStats", "SileroModel", "SileroStream",
    "WebRtcVad", "model_path",
]


class VoiceDetector(Protocol):
    """What the shell needs from a process-wide VAD (a test double fits in 20 lines)."""

    def register(self, stream_id: Hashable) -> None: ...

    def unregister(self, stream_id: Hashable) -> None: ...

    def push(self, stream_id: Hashable, pcm: np.ndarray) -> None: ...

    def run(self) -> list[tuple[Hashable, float, float]]: ...
