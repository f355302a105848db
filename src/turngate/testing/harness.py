"""AudioHarness: a whole call on the audio clock, in one thread, no sockets.

It runs real caller audio through the same parts the gateway uses (mu-law,
the batched Silero VAD with its WebRTC pre-gate, the STT engine, the call core)
and plays the bot's audio the way Twilio does: marks echo when their audio has
played, ``clear`` drops what is buffered. Time is the audio position, so results
are exact and repeatable: reaction times are in audio milliseconds, and nothing
sleeps. Benchmarks (``bench/bargein.py``) and tests use it; the real-WebSocket
path is the simulator's job.

What it does not model: compute latency (STT, TTS and the end-of-turn model answer
"instantly" in audio time; their cost is measured separately: ``score_ms`` holds the
wall time of each end-of-turn score) and network jitter.

The end-of-turn model is the real one (``vad/smart_turn.py``) when its wheel is
installed; ``turn_model=None`` runs without it, as a deployment that removed it does.

Usage::

    h = AudioHarness(stt=PocketsphinxEngine(phrases), echo=EchoSpec(delay_ms=120, attenuation_db=18))
    h.start_bot_turn(bot_pcm, text, words)      # the agent is speaking
    h.feed(caller_pcm)                          # caller audio mixed with our echo
    h.clears_ms, h.decisions("turn")
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, assert_never

import numpy as np

from ..audio import mulaw
from ..audio.echo_check import EchoCheck
from ..core.actions import (
    Action, CancelModel, CancelSynthesis, ClearPlayback, EndCall, FinishTranscription, QueueCrmNote, QueueFollowUp,
    ScoreTurn, SendAudio, SendMark, StartEchoCanceller, StartModel, StartTranscription, Synthesize, TransferCall,
    WriteDecision,
)
from ..core.call import Call
from ..core.decisions import Decision
from ..core.events import (
    CallStarted, Event, FinalTranscript, MarkPlayed, ModelDone, ModelTextDelta, PartialTranscript,
    TimerFired, TurnScored, VoiceActivity, WordTime,
)
from ..core.gatekeeper import Gatekeeper
from ..core.params import TurnParams
from ..sim.playout import Speaker
from ..speech.stt import SttEngine
from ..speech.tts import synthesized_event
from . import OpenGatekeeper

FRAME = 160  # 20 ms at 8 kHz
_DEFAULT: Any = object()


@dataclass(frozen=True, slots=True)
class EchoSpec:
    """Our own playback leaking back into the caller channel (no AEC on the line)."""

    delay_ms: int = 120
    attenuation_db: float = 18.0
    # A hybrid smears its echo over a few milliseconds: 0 is a pure delay; more is a
    # seeded, exponentially decaying random tail this long, band-limited to the phone
    # band, scaled so that the echo return loss is still ``attenuation_db``.
    dispersion_ms: int = 0

    def response(self) -> np.ndarray:
        if self.dispersion_ms <= 0:
            return np.array([10 ** (-self.attenuation_db / 20)])
        from scipy.signal import butter, lfilter

        n = self.dispersion_ms * 8
        rng = np.random.default_rng(self.dispersion_ms)
        ir = rng.standard_normal(n) * np.exp(-np.arange(n) / (n / 4))
        b, a = butter(2, [300, 3400], btype="band", fs=8000)
        ir = lfilter(b, a, ir)
        return ir / np.linalg.norm(ir) * 10 ** (-self.attenuation_db / 20)


class AudioHarness:
    def __init__(self, *, gates: Gatekeeper | None = None, params: TurnParams | None = None,
                 stt: SttEngine | None = None, vad: object | None = None, echo: EchoSpec | None = None,
                 tts: Callable[[str], tuple[bytes, tuple[WordTime, ...]]] | None = None,
                 model_reply: str = "Okay.", turn_model: Any = _DEFAULT) -> None:
        from ..vad.batch import SileroBatch
        from ..vad import smart_turn

        self.gates = gates or OpenGatekeeper()
        self.call = Call("harness", gates=self.gates, params=params)
        self.vad = vad or SileroBatch()
        self.vad.register("harness")  # type: ignore[attr-defined]
        self.stt = stt.new_stream() if stt is not None else None
        self.echo = echo
        self.tts = tts
        self.model_reply = model_reply
        self.turn_model = smart_turn.load() if turn_model is _DEFAULT else turn_model
        self.score_ms: list[float] = []      # wall time of each end-of-turn score
        self.scores: list[tuple[int, float]] = []  # (audio ms, probability) of each score
        self._heard: deque[np.ndarray] = deque(maxlen=400)  # the last 8 s of caller audio
        self.t_ms = 0
        self.actions: list[tuple[int, Action]] = []
        self.clears_ms: list[int] = []
        self.speaker = Speaker()  # Twilio's side of playback: the one model the simulator uses too
        self._due_marks: list[str] = []  # marks with no audio ahead, echoed on the next tick
        self._echo_ir = echo.response() if echo is not None else np.ones(1)
        self._echo_delay = echo.delay_ms * 8 if echo is not None else 0
        self._echo_hist = np.zeros(self._echo_delay + len(self._echo_ir) + FRAME)  # our recent playout
        self.canceller: Any = None  # an echo canceller, once the core asks for one
        self.echo_check = EchoCheck()  # as the shell's (server/echo.py): each speech window's echo check
        self._stt_open = False
        self._preroll: deque[np.ndarray] = deque(maxlen=20)
        self._bot_audio: dict[int, tuple[bytes, str, tuple[WordTime, ...]]] = {}
        self.played_ms = 0  # bot audio actually played to the caller
        self._handle(CallStarted(call_id="harness", stream_sid="MZharness"))

    # ------------------------------------------------------------ driving
    @property
    def now(self) -> float:
        return self.t_ms / 1000

    def start_bot_turn(self, audio: bytes, text: str, words: tuple[WordTime, ...] = ()) -> None:
        """Put the call in ``speaking`` with this utterance (as if the caller had asked)."""
        for a in self.call.take_turn("question", self.now):
            self._act(a)
        gen = self.call.gen
        assert gen is not None
        self._handle(ModelTextDelta(generation=gen.number, text=text))
        self._handle(ModelDone(generation=gen.number))
        synth = [a for _, a in self.actions if isinstance(a, Synthesize) and a.generation == gen.number]
        for s in synth:
            self._handle(synthesized_event(gen.number, s.segment, text, audio, words))

    def feed(self, caller_pcm: np.ndarray) -> None:
        """Feed caller audio (8 kHz int16), 20 ms at a time, with our echo mixed in."""
        n = len(caller_pcm) // FRAME
        for i in range(n):
            self.step(caller_pcm[i * FRAME:(i + 1) * FRAME])

    def step(self, caller_frame: np.ndarray) -> None:
        bot, marks, played = self._play()
        if np.any(bot):
            self.played_ms += 20
        frame = caller_frame.astype(np.int32)
        if self.echo is not None:
            # Our played audio, delayed and through the line's echo path, sample by sample.
            ir = self._echo_ir
            self._echo_hist = np.concatenate([self._echo_hist[FRAME:], bot.astype(np.float64)])
            seg = self._echo_hist[len(self._echo_hist) - FRAME - self._echo_delay - len(ir) + 1:
                                  len(self._echo_hist) - self._echo_delay]
            frame = frame + np.convolve(seg, ir, mode="valid").astype(np.int32)
        frame16 = np.clip(frame, -32768, 32767).astype(np.int16)
        # Through the phone codec, as the gateway receives it.
        frame16 = mulaw.decode(mulaw.encode(frame16))
        if self.canceller is not None:
            self.canceller.far(bot)
            frame16 = self.canceller.near(frame16)
        self.echo_check.frame(mulaw.encode(frame16), played)
        self.t_ms += 20
        for m in marks:
            self._handle(MarkPlayed(name=m))
        self._preroll.append(frame16)
        self._heard.append(frame16)
        if self._stt_open and self.stt is not None:
            for r in self.stt.feed(frame16):
                if not r.is_final:
                    self._handle(PartialTranscript(text=r.text, confidence=r.confidence))
        self.vad.push("harness", frame16)  # type: ignore[attr-defined]
        for _, p, lvl in self.vad.run():  # type: ignore[attr-defined]
            residual = self.echo_check.window(check=p >= self.call.p.speech_threshold, level_db=lvl)
            self._handle(VoiceActivity(probability=p, level_db=lvl, residual_db=residual))
        d = self.call.next_deadline()
        if d is not None and d <= self.now:
            self._handle(TimerFired())

    def _play(self) -> tuple[np.ndarray, list[str], bytes]:
        """Play 20 ms; return the audio played and the marks that became due."""
        played = self.speaker.play(FRAME, now_ms=self.t_ms)  # mu-law: one byte a sample
        marks, self._due_marks = self._due_marks + list(played.marks), []
        pcm = mulaw.decode(played.audio) if played.audio else np.zeros(0, np.int16)
        if len(pcm) < FRAME:
            pcm = np.concatenate([pcm, np.zeros(FRAME - len(pcm), np.int16)])
        return pcm, marks, played.audio

    # ------------------------------------------------------------ actions
    def _handle(self, ev: Event) -> None:
        actions = self.call.handle(ev, self.now)
        # At a candidate end the core asks for a score and closes the STT utterance at once;
        # on the shell the final (tens of ms) is back before the score (~130 ms), so here too.
        actions.sort(key=lambda a: isinstance(a, ScoreTurn))
        for a in actions:
            self._act(a)

    def _act(self, a: Action) -> None:
        self.actions.append((self.t_ms, a))
        match a:
            case SendAudio():
                self.speaker.push_audio(a.payload)
            case SendMark():
                self._due_marks.extend(self.speaker.push_mark(a.name))
            case ClearPlayback():
                self.clears_ms.append(self.t_ms)
                for m in self.speaker.clear():
                    self._handle(MarkPlayed(name=m))
            case StartTranscription():
                self._stt_open = True
                if self.stt is not None:
                    self.stt.start_utterance()
                    pre = list(self._preroll)[-max(1, a.preroll_ms // 20):]
                    for r in self.stt.feed(np.concatenate(pre)):
                        if not r.is_final:
                            self._handle(PartialTranscript(text=r.text, confidence=r.confidence))
            case FinishTranscription():
                self._stt_open = False
                if self.stt is not None:
                    final = self.stt.end_utterance()
                    if not a.discard:
                        self._handle(FinalTranscript(text=final.text, confidence=final.confidence))
                    settle = getattr(self.stt, "settle", None)
                    if settle is not None:
                        settle()  # deferred decoding passes: after the final, as the shell does
                elif not a.discard:
                    self._handle(FinalTranscript(text=""))
            case StartModel():
                self._handle(ModelTextDelta(generation=a.generation, text=self.model_reply))
                self._handle(ModelDone(generation=a.generation))
            case Synthesize():
                if self.tts is not None:
                    audio, words = self.tts(a.text)
                    self._handle(synthesized_event(a.generation, a.segment, a.text, audio, words))
            case StartEchoCanceller():
                from ..speech.echo_canceller import EchoCanceller
                self.canceller = EchoCanceller()
            case ScoreTurn():
                if self.turn_model is not None:
                    import time
                    frames = list(self._heard)[-max(1, a.audio_ms // 20):]
                    t0 = time.perf_counter()
                    p = self.turn_model.score(np.concatenate(frames))
                    ms = (time.perf_counter() - t0) * 1000
                    self.score_ms.append(ms)
                    self.scores.append((self.t_ms, p))
                    self._handle(TurnScored(request=a.request, probability=p, elapsed_ms=ms))
            case (CancelModel() | CancelSynthesis() | TransferCall() | QueueCrmNote() | QueueFollowUp()
                  | WriteDecision() | EndCall()):
                pass
            case _:
                assert_never(a)

    # ------------------------------------------------------------ reading
    def decisions(self, gate: str | None = None) -> list[Decision]:
        return [a.decision for _, a in self.actions
                if isinstance(a, WriteDecision) and (gate is None or a.decision.gate == gate)]
