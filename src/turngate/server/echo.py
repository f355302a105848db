"""The shell's side of a call's echo: what the caller's phone is playing of ours (a
local model of Twilio's playout, fed with what we send and cleared when we clear,
played 20 ms per inbound frame) is the reference for

- the echo check of each VAD window that heard speech (``audio/echo_check.py``): the
  window's level with our echo taken out goes to the core with the window, on every
  call, at a cost only where the VAD heard speech while our audio could echo;
- the echo canceller (``speech/echo_canceller.py``), started when the core asks
  (``StartEchoCanceller``): each inbound frame is cleaned before the VAD and the
  recogniser hear it.
"""

from __future__ import annotations

import logging

import numpy as np

from ..audio import mulaw
from ..audio.echo_check import EchoCheck
from ..sim.playout import Speaker
from ..speech.echo_canceller import EchoCanceller

log = logging.getLogger("turngate.echo")


class LineEcho:
    def __init__(self, speech_threshold: float) -> None:
        self.playout = Speaker()
        self.check = EchoCheck()
        self.canceller: EchoCanceller | None = None
        self._threshold = speech_threshold

    def start_canceller(self, call_id: str) -> None:
        try:
            self.canceller = EchoCanceller()
        except Exception as e:  # no native library on this machine: the level rules carry on alone
            log.warning("call %s: echo canceller unavailable (%s); the line's echo is handled by level alone",
                        call_id, type(e).__name__)

    def sent(self, payload: bytes) -> None:
        self.playout.push_audio(payload)

    def cleared(self) -> None:
        self.playout.clear()

    def heard(self, payload: bytes) -> bytes:
        """One inbound mu-law frame, cleaned of our echo if a canceller runs."""
        # Nothing queued at the phone (the common case): nothing of ours plays in this frame.
        played = self.playout.play(len(payload), now_ms=0.0).audio if self.playout.buffered_bytes else b""
        if self.canceller is not None:
            far = mulaw.decode(played) if played else np.zeros(0, np.int16)
            if len(far) < len(payload):
                far = np.concatenate([far, np.zeros(len(payload) - len(far), np.int16)])
            self.canceller.far(far)
            payload = mulaw.encode(self.canceller.near(mulaw.decode(payload)))
        self.check.frame(payload, played)
        return payload

    def residual_db(self, probability: float, level_db: float) -> float | None:
        """The echo check of the next VAD window (in order, one call per window)."""
        return self.check.window(check=probability >= self._threshold, level_db=level_db)
