"""What the embedded stack hears: a text spoken by a flite voice, sent through the phone path
(8 kHz, G.711 mu-law) and the gateway's own recogniser (pocketsphinx with the domain LM built
from the policy and the agent script, as ``turngate serve`` builds it). Synthetic voices: a
floor on what a caller's voice gives, not an estimate of it. Used by ``route_callers.py
--spoken`` and ``guard.py --spoken-risk``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from turngate.policy import load_policy  # noqa: E402

VOICES = ("slt", "awb", "rms")


class Heard:
    """What the gateway's recogniser makes of a text in each flite voice."""

    def __init__(self, policy_file: str | None, **engine_options) -> None:
        import stt  # bench/stt.py: the phone path

        from turngate.agent.scripted import load_agent_script
        from turngate.server.providers import stt_phrases
        from turngate.speech.flite_tts import FliteTts
        from turngate.speech.lm import normalize
        from turngate.speech.pocketsphinx_stt import PocketsphinxEngine

        self._stt, self._normalize = stt, normalize
        self.engine = PocketsphinxEngine(stt_phrases(load_policy(policy_file), load_agent_script(None)),
                                         **engine_options)
        self.tts = {v: FliteTts(v) for v in VOICES}
        self.errors = self.words = 0

    def __call__(self, text: str, voice: str) -> tuple[str, list[str]]:
        """(final, partials) of ``text`` spoken by ``voice``."""
        from turngate.audio import mulaw

        pad = np.zeros(2400, dtype=np.int16)  # 300 ms of line silence each side, as a VAD pre-roll gives
        pcm = np.concatenate([pad, mulaw.decode(self.tts[voice].synthesize(text).audio), pad])
        stream = self.engine.new_stream()
        stream.start_utterance()
        partials: list[str] = []
        for i in range(0, len(pcm), 160):
            partials += [r.text for r in stream.feed(pcm[i:i + 160]) if r.text and (not partials or r.text != partials[-1])]
        final = stream.end_utterance().text
        stream.close()
        ref = self._normalize(text)
        self.errors += self._stt.edits(ref, final.split())
        self.words += len(ref)
        return final, partials
