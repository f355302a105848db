"""The caller's turn: their words so far, the open STT utterance, and when the turn ends.

A turn opens on the caller's onset (or when a barge-in hands them the turn) and
ends on a silence whose length depends on the words so far (``end_of_turn_rule``:
a trailing "and" keeps it open longer, a complete question closes it sooner), or
at ``max_turn_ms``. A short silence (``turn_model_after_ms``) is a candidate end: the
turn asks the shell to score its audio with the end-of-turn model (``ScoreTurn``, one
request number per candidate); a score at or over ``turn_model_threshold`` ends the
turn at once unless the words end open; under it the silence needed grows to
``end_silence_unsure_ms``. A score for an older request (the caller spoke again
since) is stale and ignored; no score at all leaves the word rule's silence in
charge. At the candidate end the STT utterance closes as well (``final_at_candidate``):
its final is computed while the model scores, and if the caller goes on a new utterance
opens and that final joins ``pending``. Then the STT final is awaited (``final_due``); a final that
never comes is answered from the partials.

``partial`` is the caller's text as the core knows it: the finals of utterances the
caller continued (``pending``) followed by the current utterance's partial. While we
are paused it holds the interjection's words (see ``core/bargein.py``).
"""

from __future__ import annotations

from .actions import Action, FinishTranscription, ScoreTurn, StartTranscription
from .decisions import Verdict
from .gatekeeper import CallerTurnVerdict
from .params import TurnParams
from .utterance import end_of_turn_rule


# Words that end open: their silence (end_silence_open_ms) stands whatever the model says.
_WORDS_DECIDE = frozenset({"turn.end.open_ending", "turn.end.unfinished_number"})


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
        # The end-of-turn model, per silence: when to ask, the request in flight, its answer.
        self.silence_start: float | None = None
        self.score_due: float | None = None
        self.requests = 0                    # ScoreTurn requests so far (numbers them)
        self.asked: int | None = None        # the request whose score would still count
        self.score: float | None = None      # the model's probability for this silence
        self.close_due: float | None = None  # the STT utterance closes then (final_after_ms)
        self.final_outstanding = False       # an utterance was closed for a final that has not come
        self.early_final = False             # this turn's utterance was closed in a pause (candidate end or sooner)
        self.closed_in_pause: float | None = None  # the start of the pause the last utterance closed in
        self.spoke_ms = 0                    # the ended turn's span from onset to its last sound
        self.spoke_before = 0                # ... of its part before the caller went on (a yield)
        # This turn's wordless speech was counted as not understood (and asked again). It stays
        # set when the caller goes on before the question plays (``begin(keep_text=True)``), so
        # the same turn is not counted twice; a turn begun afresh clears it.
        self.counted = False
        # The words (and their confidence) an answer is being prepared for, until it plays:
        # a caller who goes on before then takes them back into the turn (Call._take_back).
        self.answered: tuple[str, float | None] | None = None
        # While an ended turn's final is on its way and the caller went on, its partial words
        # stand in ``pending`` for it; this holds ``pending`` as it was before them, for the
        # final to replace them (Call._take_back). A final lost on the way leaves the partial.
        self.tentative: str | None = None
        self._logged: dict[str, tuple[str, str]] = {}

    def begin(self, now: float, out: list[Action], *, keep_text: bool = False) -> None:
        self.started = now
        self.spoke_before = self.spoke_ms if keep_text else 0
        self.counted = self.counted and keep_text
        self.early_final = False
        self.resumed()
        self._logged = {}
        if not keep_text:
            self.pending = ""
            self.pending_confidence = None
            self.tentative = None
        self.partial = self.pending
        self.open_utterance(now, out)

    def open_utterance(self, now: float, out: list[Action]) -> None:
        """Open an STT utterance unless one is open. If the last one closed in a pause, that
        one holds the words up to the pause: the preroll reaches back no further than the
        pause's start, or the end of a word is heard twice."""
        if not self.transcribing:
            preroll = self.p.preroll_ms
            if self.closed_in_pause is not None:
                preroll = max(0, min(preroll, round((now - self.closed_in_pause) * 1000)))
            out.append(StartTranscription(preroll_ms=preroll))
            self.transcribing = True
            self.closed_in_pause = None

    def close_utterance(self, out: list[Action], *, discard: bool) -> bool:
        """Close the open STT utterance, if any (``discard``: no final wanted). True if one was open."""
        if not self.transcribing:
            return False
        out.append(FinishTranscription(discard=discard))
        self.transcribing = False
        self.closed_in_pause = self.silence_start
        self.final_outstanding = not discard
        return True

    def fell_silent(self, silence_start: float) -> None:
        if silence_start != self.silence_start:
            self.silence_start, self.score, self.asked = silence_start, None, None
            after = self.p.turn_model_after_ms
            self.score_due = silence_start + after / 1000 if after > 0 else None
            early = self.p.final_after_ms if self.p.final_at_candidate else 0
            self.close_due = silence_start + early / 1000 if 0 < early < after else None
        self._set_deadline(silence_start)

    def _set_deadline(self, silence_start: float) -> None:
        silence, self.rule = end_of_turn_rule(self.partial, self.p)
        if self.score is not None and self.score < self.p.turn_model_threshold and \
                self.p.end_silence_unsure_ms > silence:
            silence, self.rule = self.p.end_silence_unsure_ms, "turn.end.model_unsure"
        self.deadline = silence_start + silence / 1000

    def resumed(self) -> None:
        """The caller's sound started again: no end of turn pending, any score in flight is stale."""
        self.deadline = self.silence_start = self.score_due = self.asked = self.score = None
        self.close_due = None

    def heard(self, text: str, silence_start: float) -> None:
        """A partial while the caller speaks: the words so far may move the end of turn."""
        self.partial = (self.pending + " " + text).strip()
        if self.deadline is not None:
            self._set_deadline(self.silence_start if self.silence_start is not None else silence_start)

    def words_decide(self) -> bool:
        """The words so far end open ("and", a number being read): their silence decides the
        end of turn, whatever the model would say."""
        return end_of_turn_rule(self.partial, self.p)[1] in _WORDS_DECIDE

    def close_early(self, out: list[Action]) -> None:
        """``final_after_ms`` into the silence: close the STT utterance for its final, unless
        the words end open (then, as at the candidate end, their silence decides alone)."""
        self.close_due = None
        if not self.words_decide() and self.close_utterance(out, discard=False):
            self.early_final = True

    def ask_score(self, now: float, out: list[Action]) -> None:
        """The candidate end is due: ask for the model's score of the turn's audio so far,
        unless the words end open: then no score can change the end (their silence is the
        longest), and the model's ~0.1 CPU-s is not spent."""
        self.score_due = None
        if self.words_decide():
            return
        self.requests += 1
        self.asked = self.requests
        started = self.started if self.started is not None else now
        audio_ms = min(8000, round((now - started) * 1000) + self.p.preroll_ms)
        out.append(ScoreTurn(request=self.requests, audio_ms=audio_ms))
        if self.p.final_at_candidate and self.close_utterance(out, discard=False):
            self.early_final = True

    def scored(self, request: int, probability: float) -> bool | None:
        """The model's answer. True: the turn is finished now; False: keep waiting (the
        deadline moved); None: stale (an older silence's request), nothing changes."""
        if request != self.asked or self.silence_start is None:
            return None
        self.asked = None
        self.score = probability
        if probability >= self.p.turn_model_threshold:
            if self.words_decide():
                return False  # the words say more is coming: their longer silence stands
            self.rule = "turn.end.model_complete"
            return True
        self._set_deadline(self.silence_start)
        return False

    def model_evidence(self) -> dict[str, object]:
        """What the end-of-turn model said about this silence, for the decision record."""
        if self.score is not None:
            return {"turn_score": round(self.score, 3), "turn_threshold": self.p.turn_model_threshold}
        if self.asked is not None:
            return {"turn_score": "pending"}
        return {"turn_score": None}

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
