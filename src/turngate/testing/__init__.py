"""Test doubles shipped with turngate, for its own tests and for users' tests.

- ``FakeClock``: a clock you step; time never passes by itself.
- ``OpenGatekeeper``: gates that allow everything and route everything to one path.
- ``Timeline``: feed ``(now, event)`` pairs to a ``Call`` and collect actions.
- ``ScriptedStt``: an STT engine double that yields scripted partials and finals.

The audio-clock call harness (real caller audio through mu-law, the batched
Silero VAD, an STT engine and the call core, with Twilio-like playout, marks,
``clear`` and an echo path) is ``turngate.testing.harness.AudioHarness``; it is what
``bench/bargein.py`` drives. See its docstring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.actions import Action, WriteDecision
from ..core.call import Call
from ..core.decisions import Decision, Verdict
from ..core.events import Event, VoiceActivity
from ..core.gatekeeper import AgentTextVerdict, CallerTurnVerdict, FailureVerdict, KeypadVerdict


@dataclass
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class OpenGatekeeper:
    """Allows everything; every final starts a model generation on ``route``."""

    route: str = "faq"
    profile: str = "low_latency"
    greeting_text: str = ""
    policy_version: str = "test"
    fallback_profile: str = "strong_guard"
    seen: list[tuple[str, bool]] = field(default_factory=list)
    not_understood_limit: int = 2
    wordless: int = 0  # turns of speech with no words in a row

    def caller_text(self, text: str, *, final: bool, agent_speaking: bool,
                    stt_confidence: float | None = None) -> CallerTurnVerdict:
        self.seen.append((text, final))
        if final:
            self.wordless = 0
        verdicts = (Verdict(gate="route", outcome="route", reason="test", rule=f"route.{self.route}"),) if final else ()
        return CallerTurnVerdict(verdicts=verdicts, redacted=text, action="respond" if final else "none",
                                 route=self.route, profile=self.profile)

    def agent_text(self, text: str) -> AgentTextVerdict:
        return AgentTextVerdict(verdicts=(), text=text)

    def preview(self, text: str, *, stt_confidence: float | None = None) -> CallerTurnVerdict:
        return CallerTurnVerdict(verdicts=(), redacted=text, action="respond", route=self.route, profile=self.profile)

    def dtmf(self, digit: str, at_ms: int = 0) -> KeypadVerdict:
        return KeypadVerdict(verdicts=(Verdict(gate="turn", outcome="dtmf", reason="keypad", rule="turn.dtmf"),))

    def generation_failed(self, profile: str, reason: str, attempts: int) -> FailureVerdict:
        if attempts < 2:
            return FailureVerdict(verdicts=(Verdict(gate="model", outcome="fallback", reason=reason,
                                                    rule="model.fallback"),), fallback_profile=self.fallback_profile)
        return FailureVerdict(verdicts=(Verdict(gate="handoff", outcome="handoff", reason="provider_failure",
                                                rule="handoff.provider_failure"),), queue="general", note="provider failure")

    def not_understood(self) -> FailureVerdict:
        self.wordless += 1
        if self.wordless < self.not_understood_limit:
            return FailureVerdict(verdicts=(Verdict(gate="handoff", outcome="stay", reason="no_trigger",
                                                    rule="handoff.none"),))
        return FailureVerdict(verdicts=(Verdict(gate="handoff", outcome="handoff", reason="not_understood",
                                                rule="handoff.not_understood"),), queue="general",
                              note="not understood", reply="One moment please.")

    def greeting(self) -> str:
        return self.greeting_text


def speech(p: float = 0.9, level_db: float = -20.0) -> VoiceActivity:
    return VoiceActivity(probability=p, level_db=level_db)


def silence(level_db: float = -60.0) -> VoiceActivity:
    return VoiceActivity(probability=0.02, level_db=level_db)


@dataclass
class Timeline:
    """Drive a call through ``(dt_seconds, event)`` steps on a fake clock."""

    call: Call
    clock: FakeClock = field(default_factory=FakeClock)
    actions: list[Action] = field(default_factory=list)

    def at(self, event: Event, dt: float = 0.0) -> list[Action]:
        self.clock.advance(dt)
        acts = self.call.handle(event, self.clock.now)
        self.actions.extend(acts)
        return acts

    def windows(self, event: VoiceActivity, count: int) -> list[Action]:
        out: list[Action] = []
        for _ in range(count):
            out += self.at(event, event.window_ms / 1000)
        return out

    def run(self, steps: Iterable[tuple[float, Event]]) -> list[Action]:
        out: list[Action] = []
        for dt, ev in steps:
            out += self.at(ev, dt)
        return out

    def fire_timer(self) -> list[Action]:
        from ..core.events import TimerFired
        d = self.call.next_deadline()
        if d is not None and d > self.clock.now:
            self.clock.now = d
        return self.at(TimerFired())

    def decisions(self, gate: str | None = None) -> list[Decision]:
        ds = [a.decision for a in self.actions if isinstance(a, WriteDecision)]
        return [d for d in ds if gate is None or d.gate == gate]


class ScriptedStt:
    """An STT engine double: each utterance yields the next scripted text as
    partials (word by word) and then its final. A word per ``feed`` by default;
    with ``words_per_s``, a word per that much fed audio, as a recogniser's partials
    come at the pace of speech (load runs: a partial per 20 ms frame would run the
    gates 50 times a second for every talking caller)."""

    def __init__(self, utterances: Iterable[str] = (), *, words_per_s: float | None = None) -> None:
        self.utterances = list(utterances)
        self.words_per_s = words_per_s

    def new_stream(self) -> "_ScriptedSttStream":
        return _ScriptedSttStream(self.utterances, self.words_per_s)


class _ScriptedSttStream:
    def __init__(self, utterances: list[str], words_per_s: float | None = None) -> None:
        self._queue = list(utterances)
        self._words: list[str] = []
        self._said: list[str] = []
        self._samples_per_word = None if not words_per_s else 8000 / words_per_s
        self._samples = 0

    def start_utterance(self) -> None:
        self._words = self._queue.pop(0).split() if self._queue else []
        self._said = []
        self._samples = 0

    def feed(self, pcm8k: object) -> list:
        from ..speech.stt import SttResult
        if not self._words:
            return []
        if self._samples_per_word is not None:
            self._samples += len(pcm8k)  # type: ignore[arg-type]
            due = int(self._samples // self._samples_per_word) + 1 - len(self._said)
            if due <= 0:
                return []
        self._said.append(self._words.pop(0))
        return [SttResult(text=" ".join(self._said), is_final=False, confidence=0.9)]

    def end_utterance(self) -> object:
        from ..speech.stt import SttResult
        text = " ".join(self._said + self._words)
        self._words = []
        return SttResult(text=text, is_final=True, confidence=0.9)

    def close(self) -> None:
        pass
