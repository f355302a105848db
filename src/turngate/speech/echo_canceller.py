"""Echo cancellation for lines that send our own voice back loudly.

On a line with a poor hybrid (12 dB echo return loss or worse) our own answer comes
back in the caller's channel louder than a quiet caller, and level rules alone either
stop for it (the bot stutters) or make callers shout. An adaptive echo canceller that
knows exactly what we played removes it: WebRTC's audio processing module (AEC3), as
shipped in the ``livekit`` wheel, at 8 kHz in 10 ms frames.

The far end (``far``) is our audio *as the caller's phone plays it*: the shell keeps a
local model of Twilio's playout (``sim.playout.Speaker``, the same one the simulator
uses) fed with what we send and cleared when we clear, and plays 20 ms of it per
inbound frame. AEC3 estimates the remaining delay (network and the line's own).

It costs about 100-300 us per 20 ms frame, twenty times the rest of the hot path, so
the call core turns it on per call only when that line has shown a poor echo return
loss (``StartEchoCanceller``); clean lines never pay for it.
"""

from __future__ import annotations

import numpy as np

FRAME_10MS = 80  # samples at 8 kHz


class EchoCanceller:
    """One call's canceller: ``far(pcm)`` for each frame of ours that played, then
    ``near(pcm) -> pcm`` for the caller's frame heard at the same time."""

    def __init__(self, sample_rate: int = 8000) -> None:
        from livekit import rtc  # a native library: loaded only when a call needs it

        self._rtc = rtc
        self.rate = sample_rate
        self._apm = rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)

    def _frames(self, pcm: np.ndarray):  # type: ignore[no-untyped-def]
        n = FRAME_10MS * self.rate // 8000
        for i in range(0, len(pcm) - n + 1, n):
            yield self._rtc.AudioFrame(np.ascontiguousarray(pcm[i:i + n], np.int16).tobytes(), self.rate, 1, n)

    def far(self, pcm: np.ndarray) -> None:
        for f in self._frames(pcm):
            self._apm.process_reverse_stream(f)

    def near(self, pcm: np.ndarray) -> np.ndarray:
        out = []
        for f in self._frames(pcm):
            self._apm.process_stream(f)
            out.append(np.frombuffer(bytes(f.data), np.int16))
        return np.concatenate(out) if out else pcm


def available() -> bool:
    try:
        from livekit import rtc  # noqa: F401
    except Exception:  # an old glibc or a missing wheel: the gateway runs without it
        return False
    return True
