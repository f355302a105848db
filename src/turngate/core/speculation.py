"""Starting the answer before the turn is over, and keeping it only if the turn was.

At a candidate end (``turn_model_after_ms`` of silence) the STT utterance closes and
its final arrives while the end-of-turn model is still scoring, or while the turn
waits out a longer silence (an unsure score, words that end open). With
``speculate`` on, the call asks the gates what they *would* decide on those words
(``Gatekeeper.preview``: nothing is committed) and, for an answer by a model or a
fixed reply, starts it at once: the model streams and its first sentences are
synthesized, but nothing is sent to the caller.

The turn then either ends on exactly those words, and the gates, now deciding for
real, say the same (action, route, profile, reply, redacted text, memory): the answer
is adopted and plays as soon as its audio is there, so the model's time to first
token and the first synthesis ran during the silence instead of after it. Or it
does not: the caller spoke again (the pause was mid-turn), the final added words, the
gates decided otherwise, or a provider failed. Then the answer is cancelled (nothing of
it was heard, so nothing enters the context) and the turn is answered the ordinary way.

A handoff is never speculative: its CRM note and transfer are acts, not drafts. Each
speculation is a ``turn`` decision when it starts and when it is adopted or dropped,
with the time it saved or why it was dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .actions import Action
from .gatekeeper import CallerTurnVerdict

if TYPE_CHECKING:
    from .call import Call


@dataclass(frozen=True, slots=True)
class Speculation:
    text: str
    verdict: CallerTurnVerdict
    generation: int
    started_at: float


def _same(a: CallerTurnVerdict, b: CallerTurnVerdict) -> bool:
    return (a.action, a.route, a.profile, a.reply, a.redacted, a.memory) == \
        (b.action, b.route, b.profile, b.reply, b.redacted, b.memory)


def start(call: Call, text: str, confidence: float | None, now: float, out: list[Action]) -> None:
    """The caller is silent and ``text`` is their turn so far: start its answer, unplayed."""
    from . import answering

    if call.gen is not None or call.spec is not None:
        return
    verdict = call.gates.preview(text, stt_confidence=confidence)
    if verdict.action not in ("respond", "none", "say"):
        return  # a handoff: never a draft
    if verdict.action == "say":
        g = answering.start_scripted(call, verdict.reply, verdict.route, now, out)
    else:
        context = (*call.context, {"role": "user", "content": verdict.redacted})
        g = answering.begin_model(call, verdict, context, now, out)
    call.spec = Speculation(text=text, verdict=verdict, generation=g.number, started_at=now)
    call.log.decide("turn", "speculate", "final_at_candidate", "turn.speculate", now, out,
                    generation=g.number, route=verdict.route, profile=g.profile,
                    words=len(text.split()))


def drop(call: Call, why: str, now: float, out: list[Action]) -> None:
    """Cancel the speculative answer (nothing of it was heard)."""
    spec = call.spec
    if spec is None:
        return
    call.spec = None
    if call.gen is not None and call.gen.number == spec.generation:
        call.cancel_generation(f"speculation_{why}", out)
    call.log.decide("turn", "speculation_dropped", why, "turn.speculation_dropped", now, out,
                    generation=spec.generation, held_ms=call.ms(now) - call.ms(spec.started_at))


def adopt(call: Call, text: str, verdict: CallerTurnVerdict, now: float, out: list[Action]) -> bool:
    """The turn ended on ``text`` and the gates decided ``verdict``: keep the speculative
    answer if it answers exactly that. False: it was dropped (or there was none)."""
    spec = call.spec
    if spec is None:
        return False
    if spec.text != text or not _same(spec.verdict, verdict):
        drop(call, "turn_differs" if spec.text != text else "gates_differ", now, out)
        return False
    call.spec = None
    g = call.gen
    assert g is not None and g.number == spec.generation
    call.log.decide("turn", "speculation_adopted", "same_turn", "turn.speculation_adopted", now, out,
                    generation=g.number, ahead_ms=call.ms(now) - call.ms(spec.started_at),
                    audio_ready=bool(g.playback.audio))
    return True
