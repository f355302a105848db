"""The shell's side of echo cancellation for one call: what the caller's phone is
playing of ours (a local model of Twilio's playout, fed with what we send and cleared
when we clear) is the canceller's reference; each inbound frame is cleaned before the
VAD and the recogniser hear it. Started when the core asks (``StartEchoCanceller``)."""

from __future__ import annotations

import logging

import numpy as np

from ..audio import mulaw
from ..sim.playout import Speaker
from ..speech.echo_canceller import EchoCanceller

log = logging.getLogger("turngate.echo")


class LineEchoCanceller:
    def __init__(self, canceller: EchoCanceller) -> None:
        self.canceller = canceller
        self.playout = Speaker()

    @classmethod
    def start(cls, call_id: str) -> "LineEchoCanceller | None":
        try:
            return cls(EchoCanceller())
        except Exception as e:  # no native library on this machine: the level rules carry on alone
            log.warning("call %s: echo canceller unavailable (%s); the line's echo is handled by level alone",
                        call_id, type(e).__name__)
            return None

    def sent(self, payload: bytes) -> None:
        self.playout.push_audio(payload)

    def cleared(self) -> None:
        self.playout.clear()

    def clean(self, payload: bytes) -> bytes:
        """One inbound mu-law frame with our echo removed."""
        played = self.playout.play(len(payload), now_ms=0.0).audio
        far = mulaw.decode(played) if played else np.zeros(0, np.int16)
        if len(far) < len(payload):
            far = np.concatenate([far, np.zeros(len(payload) - len(far), np.int16)])
        self.canceller.far(far)
        return mulaw.encode(self.canceller.near(mulaw.decode(payload)))
