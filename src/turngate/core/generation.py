"""A generation: one answer of the agent, from the first model token to the last
mark Twilio echoes.

A ``Generation`` owns its model attempts (the first, a hedge after a stalled first
token, a fallback after an error), its text on the way to speech (sentences ->
TTS segments, put back in order as they return) and its ``Playback`` ledger. It
exists from the gates' "respond" (or a fixed reply) until its playback is done or it
is cancelled; nothing of it outlives it. The call decides what a failure means
(``core/fallback.py`` and the gates); the generation keeps the facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from .actions import Action, SendAudio, SendMark, Synthesize
from .events import SpeechSynthesized
from .gatekeeper import Gatekeeper
from .log import DecisionLog
from .params import TurnParams
from .playback import BYTES_PER_MS, Playback
from .sentences import pop_sentences


@dataclass(slots=True)
class Attempt:
    """One model stream of a generation."""

    number: int
    profile: str
    started_at: float
    active: bool = True


class SegmentQueue:
    """Sentences on their way through TTS. They return in any order and play in order;
    a failed one (``None``) is skipped."""

    def __init__(self) -> None:
        self.asked = 0        # next segment index to ask TTS for
        self.outstanding = 0  # asked and not yet returned
        self.added = 0        # next segment index to append to playback
        self._ready: dict[int, SpeechSynthesized | None] = {}

    def ask(self, generation: int, text: str) -> Synthesize:
        s = Synthesize(generation=generation, segment=self.asked, text=text)
        self.asked += 1
        self.outstanding += 1
        return s

    def returned(self, segment: int, audio: SpeechSynthesized | None) -> None:
        self.outstanding -= 1
        self._ready[segment] = audio

    def in_order(self) -> list[SpeechSynthesized]:
        out = []
        while self.added in self._ready:
            seg = self._ready.pop(self.added)
            self.added += 1
            if seg is not None and seg.audio:
                out.append(seg)
        return out

    @property
    def settled(self) -> bool:
        return self.outstanding == 0 and self.added == self.asked

    def give_up(self) -> None:
        """Segments asked for will not return (their synthesis was cancelled)."""
        self.outstanding = 0

    @property
    def abandoned(self) -> bool:
        return self.outstanding == 0 and self.added < self.asked


class Generation:
    def __init__(self, number: int, route: str, profile: str, *, scripted: bool, now: float,
                 params: TurnParams) -> None:
        self.number = number
        self.route = route
        self.root = profile           # the profile the gates chose; fallback chains start here
        self.scripted = scripted      # a fixed reply, not a model
        self.started_at = now
        self.attempts: dict[int, Attempt] = {}
        self.latest: Attempt | None = None  # the attempt started last
        self.winner: Attempt | None = None  # the attempt whose text is spoken
        self.model_done = scripted
        self.text_buf = ""
        self.said = ""                # sentences sent to TTS, for a fallback to continue from
        self.memory: tuple[tuple[str, str], ...] = ()  # the customer fields this route may see
        self.audio_ok = True          # the caller's audio of this turn may go to a model
        self.segments = SegmentQueue()
        self.playback = Playback(generation=number, chunk_bytes=params.chunk_ms * BYTES_PER_MS,
                                 lead_bytes=params.playback_lead_ms * BYTES_PER_MS)

    # ------------------------------------------------------------ attempts
    def start_attempt(self, profile: str, now: float) -> Attempt:
        a = Attempt(number=len(self.attempts) + 1, profile=profile, started_at=now)
        self.attempts[a.number] = a
        self.latest = a
        self.winner = None
        self.model_done = False
        self.text_buf = ""
        return a

    def successor(self, number: int, now: float, params: TurnParams) -> "Generation":
        """A fresh generation for a fallback whose TTS segments will never return (a stalled
        synthesis) or after a fixed reply: same route and history, nothing in flight."""
        g = Generation(number, self.route, self.root if not self.scripted else "scripted", scripted=False,
                       now=self.started_at, params=params)
        g.memory, g.audio_ok = self.memory, self.audio_ok
        g.attempts = {n: Attempt(a.number, a.profile, a.started_at, active=False) for n, a in self.attempts.items()}
        g.latest = g.attempts[len(g.attempts)] if g.attempts else None
        return g

    @property
    def profile(self) -> str:
        a = self.winner or self.latest
        return a.profile if a is not None else self.root


    @property
    def last_start(self) -> float:
        a = self.latest
        return a.started_at if a is not None else self.started_at

    @property
    def model_active(self) -> bool:
        return any(a.active for a in self.attempts.values())

    @property
    def tried(self) -> tuple[str, ...]:
        return tuple(a.profile for a in self.attempts.values())

    def live_attempt(self, number: int) -> Attempt | None:
        a = self.attempts.get(number)
        return a if a is not None and a.active else None

    def take_text(self, attempt: Attempt, text: str) -> list[Attempt] | None:
        """Text from ``attempt``. The first attempt to stream text wins; the others are
        returned, stopped, for the call to cancel. None: a loser's late text, ignored."""
        losers: list[Attempt] = []
        if self.winner is None:
            self.winner = attempt
            losers = [a for a in self.attempts.values() if a.active and a is not attempt]
            for a in losers:
                a.active = False
        elif self.winner is not attempt:
            return None
        self.text_buf += text
        return losers

    # ------------------------------------------------------------ text to speech
    def flush(self, gates: Gatekeeper, log: DecisionLog, now: float, out: list[Action], *, final: bool) -> bool:
        """Complete sentences go to TTS, each through the output guard first (a fixed
        reply is ours and skips it). True if the guard blocked one: the sentences after
        it stay in the buffer, for the call to decide whether another profile takes over."""
        sentences, self.text_buf = pop_sentences(self.text_buf, final=final)
        for k, sentence in enumerate(sentences):
            if not self.scripted:
                av = gates.agent_text(sentence)
                for v in av.verdicts:
                    log.record(v, now, out)
                if av.blocked:
                    self.text_buf = " ".join(sentences[k + 1:] + [self.text_buf]).strip()
                    return True
                if not av.text.strip():
                    continue
                sentence = av.text
            out.append(self.segments.ask(self.number, sentence))
            self.said = (self.said + " " + sentence).strip()
        return False

    def add_returned(self) -> None:
        for seg in self.segments.in_order():
            self.playback.add_segment(seg.segment, seg.text, seg.audio, seg.words, seg.level_db,
                                      seg.chunk_levels_db)

    @property
    def finished(self) -> bool:
        """Every word of the answer is in the playback ledger."""
        return self.model_done and not self.text_buf and self.segments.settled

    def pump(self, out: list[Action]) -> None:
        for chunk in self.playback.pump():
            out.append(SendAudio(payload=chunk.payload))
            out.append(SendMark(name=chunk.mark))
