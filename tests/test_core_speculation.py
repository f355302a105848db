"""A speculative answer (``speculate``): started at a candidate end on the final there,
played only if the turn ends on exactly those words and the gates decide the same, and
dropped (cancelled, nothing in the context) when the caller goes on, the words change,
the gates differ or the provider fails. Fake clock; times from the parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace

from turngate.core import State
from turngate.core.actions import CancelModel, SendAudio, StartModel, Synthesize
from turngate.core.call import Call
from turngate.core.events import (
    FinalTranscript, ModelDone, ModelFailed, ModelTextDelta, PartialTranscript, SpeechSynthesized, TurnScored,
)
from turngate.core.gatekeeper import CallerTurnVerdict
from turngate.testing import OpenGatekeeper, Timeline, silence, speech

from test_core_transitions import kinds
from test_core_turn_model import P, SURE, UNSURE, candidate_end, new_call, spoke_then_fell_silent

SPEC = replace(P, speculate=True)
WORDS = "i would like to move my appointment"


def at_candidate_with_final(t: Timeline, text: str = WORDS) -> tuple[int, list]:
    """Speak, fall silent, reach the candidate end; the early final comes back. Returns the
    score request and the actions the final caused."""
    spoke_then_fell_silent(t, text)
    ask = candidate_end(t)
    return ask.request, t.at(FinalTranscript(text=text))


def outcomes(t: Timeline) -> list[str]:
    return [d.outcome for d in t.decisions("turn")]


def test_the_answer_starts_on_the_early_final_and_plays_once_the_turn_ends():
    t = new_call(SPEC)
    request, acts = at_candidate_with_final(t)
    starts = kinds(acts, StartModel)
    assert len(starts) == 1 and starts[0].context[-1] == {"role": "user", "content": WORDS}
    assert t.call.state is State.CALLER_SPEAKING  # nothing decided: the turn is not over
    assert "speculate" in outcomes(t)
    gen = starts[0].generation
    # The model streams and the first sentence is synthesized while the caller is silent...
    acts = t.at(ModelTextDelta(generation=gen, text="Sure, I can move it."))
    acts += t.at(ModelDone(generation=gen))
    [synth] = kinds(acts, Synthesize)
    acts = t.at(SpeechSynthesized(generation=gen, segment=synth.segment, text=synth.text, audio=b"\x7f" * 8000))
    assert not kinds(acts, SendAudio)  # ...but nothing plays before the turn has ended
    assert t.call.context == []        # and nothing of the turn is committed yet
    # The model says the turn is complete: the answer is there already, and plays at once.
    acts = t.at(TurnScored(request=request, probability=SURE, elapsed_ms=120.0))
    assert kinds(acts, SendAudio)
    assert not kinds(acts, StartModel)  # no second generation
    assert t.call.state is State.SPEAKING
    adopted = t.decisions("turn")[outcomes(t).index("speculation_adopted")]
    assert adopted.evidence["generation"] == gen and adopted.evidence["audio_ready"] is True
    assert t.call.context == [{"role": "user", "content": WORDS}]


def test_a_caller_who_goes_on_drops_the_draft_and_the_whole_turn_is_answered():
    t = new_call(SPEC)
    request, acts = at_candidate_with_final(t)
    gen = kinds(acts, StartModel)[0].generation
    t.at(TurnScored(request=request, probability=UNSURE, elapsed_ms=120.0))
    acts = t.windows(speech(), 10)  # "... on Friday"
    assert [c.generation for c in kinds(acts, CancelModel)] == [gen]
    dropped = t.decisions("turn")[outcomes(t).index("speculation_dropped")]
    assert dropped.reason == "caller_resumed"
    assert t.call.gen is None and t.call.spec is None and t.call.context == []
    t.at(PartialTranscript(text="on friday"))
    while t.call.turn.silence_start is None:
        t.at(silence(), silence().window_ms / 1000)
    ask = candidate_end(t)
    acts = t.at(FinalTranscript(text="on friday"))
    [again] = kinds(acts, StartModel)  # a new draft, on the whole turn
    assert again.context[-1]["content"] == WORDS + " on friday"
    t.at(TurnScored(request=ask.request, probability=SURE, elapsed_ms=120.0))
    assert t.call.state is State.THINKING
    assert outcomes(t).count("speculation_adopted") == 1
    assert t.call.context == [{"role": "user", "content": WORDS + " on friday"}]


def test_without_speculate_the_answer_waits_for_the_end_of_turn():
    t = new_call(P)
    request, acts = at_candidate_with_final(t)
    assert not kinds(acts, StartModel)
    acts = t.at(TurnScored(request=request, probability=SURE, elapsed_ms=120.0))
    assert len(kinds(acts, StartModel)) == 1
    assert "speculate" not in outcomes(t)


@dataclass
class ShiftingGates(OpenGatekeeper):
    """Previews one route and decides another: what a gate state changed between the
    candidate end and the turn's end would do."""

    def preview(self, text: str, *, stt_confidence: float | None = None) -> CallerTurnVerdict:
        return replace(super().preview(text), route="faq_draft")


def test_gates_that_decide_otherwise_drop_the_draft_and_answer_fresh():
    t = Timeline(Call("CA1", gates=ShiftingGates(), params=SPEC))
    request, acts = at_candidate_with_final(t)
    draft = kinds(acts, StartModel)[0]
    acts = t.at(TurnScored(request=request, probability=SURE, elapsed_ms=120.0))
    assert [c.generation for c in kinds(acts, CancelModel)] == [draft.generation]
    [fresh] = kinds(acts, StartModel)
    assert fresh.generation != draft.generation and fresh.route == "faq"
    dropped = t.decisions("turn")[outcomes(t).index("speculation_dropped")]
    assert dropped.reason == "gates_differ"


@dataclass
class HandoffGates(OpenGatekeeper):
    def preview(self, text: str, *, stt_confidence: float | None = None) -> CallerTurnVerdict:
        return replace(super().preview(text), action="handoff", queue="care")


def test_a_handoff_is_never_drafted():
    t = Timeline(Call("CA1", gates=HandoffGates(), params=SPEC))
    _, acts = at_candidate_with_final(t)
    assert not kinds(acts, StartModel) and not kinds(acts, Synthesize)
    assert "speculate" not in outcomes(t)


def test_a_failed_draft_is_dropped_and_the_turn_answered_the_ordinary_way():
    t = new_call(SPEC)
    request, acts = at_candidate_with_final(t)
    gen = kinds(acts, StartModel)[0].generation
    t.at(ModelFailed(generation=gen, reason="503", kind="error"))
    assert t.call.spec is None and t.call.gen is None
    assert t.decisions("turn")[-1].reason == "provider_failed"
    assert not t.decisions("model")  # the failure of a draft is not the answer's failure
    acts = t.at(TurnScored(request=request, probability=SURE, elapsed_ms=120.0))
    assert len(kinds(acts, StartModel)) == 1
