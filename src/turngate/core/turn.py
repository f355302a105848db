"""The caller's turn: their words so far, the open STT utterance, and when the turn ends.

A turn opens on the caller's onset (or when a barge-in hands them the turn) and
ends on a silence whose length depends on the words so far (``end_of_turn_rule``:
a trailing "and" keeps it open longer, a complete question closes it sooner), or
at ``max_turn_ms``. Then the STT final is awaited (``final_due``); a final that
never comes is answered from the partials.

``partial`` is the caller's text as the core knows it: the finals of utterances the
caller continued (``pending``) followed by the current utterance's partial. While we
are paused it holds the interjection's words (see ``core/bargein.py``).
"""

from __future__ import annotations

from .actions import Action, FinishTranscription, StartTranscription
from .decisions import Verdict
from .gatekeeper import CallerTurnVerdict
from .params import TurnParams
from .utterance import end_of_turn_rule


class CallerTurn:
    def __init__(self, params: TurnParams) -> None:
        self.p = params
        self.transcribing = False   # an STT utterance is open
        self.partial = ""
        self.pending = ""           # finals of a turn the caller resumed before we answered
        self.pending_confidence: float | None = None  # the recogniser's least confidence in them
        self.started: float | None = None
        self.deadline: float | None = None   # end of turn, once the caller fell silent
        self.rule = ""                       # the end-of-turn rule that set ``deadline``
        self.final_due: float | None = None  # the turn ended; its STT final is awaited until then
        self._logged: dict[str, tuple[str, str]] = {}

    def begin(self, now: float, out: list[Action], *, keep_text: bool = False) -> None:
        self.started = now
        self.deadline = None
        self._logged = {}
        if not keep_text:
            self.pending = ""
            self.pending_confidence = None
        self.partial = self.pending
        self.open_utterance(out)

    def open_utterance(self, out: list[Action]) -> None:
        """Open an STT utterance unless one is open."""
        if not self.transcribing:
            out.append(StartTranscription(preroll_ms=self.p.preroll_ms))
            self.transcribing = True

    def close_utterance(self, out: list[Action], *, discard: bool) -> bool:
        """Close the open STT utterance, if any (``discard``: no final wanted). True if one was open."""
        if not self.transcribing:
            return False
        out.append(FinishTranscription(discard=discard))
        self.transcribing = False
        return True

    def fell_silent(self, silence_start: float) -> None:
        silence, self.rule = end_of_turn_rule(self.partial, self.p)
        self.deadline = silence_start + silence / 1000

    def heard(self, text: str, silence_start: float) -> None:
        """A partial while the caller speaks: the words so far may move the end of turn."""
        self.partial = (self.pending + " " + text).strip()
        if self.deadline is not None:
            self.fell_silent(silence_start)

    def max_deadline(self) -> float | None:
        return None if self.started is None else self.started + self.p.max_turn_ms / 1000

    def forget_logged(self) -> None:
        self._logged = {}

    def changed_verdicts(self, verdict: CallerTurnVerdict) -> list[Verdict]:
        """Partials arrive every 100-200 ms; a gate's verdict is logged only when it changes."""
        fresh = []
        for v in verdict.verdicts:
            key = (v.outcome, v.rule)
            if self._logged.get(v.gate) != key and v.outcome not in ("allow", "hold"):
                self._logged[v.gate] = key
                fresh.append(v)
        return fresh
