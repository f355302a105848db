"""One call per model-selection rule of the bundled policy: the call core with the real
gate pipeline (the gateway's gatekeeper factory, the bundled router and guard), the caller's
turn taken as a live call takes it, and the `model/selected` record it leaves: which rule
chose, what the call did, and every input the choice read."""

from __future__ import annotations

import pytest

from turngate.config import Config
from turngate.core import Call, State
from turngate.core.actions import StartModel, Synthesize
from turngate.core.events import CallStarted, FinalTranscript, PartialTranscript, TimerFired
from turngate.embedding.cache import for_policy
from turngate.gates.customers import Customer, CustomerDirectory
from turngate.gates.pipeline import keeper_factory
from turngate.testing import Timeline, silence, speech

from test_core_stt_stalls import play_out

DIRECTORY = CustomerDirectory(by_phone={
    "+15550100": Customer(phone="+15550100", fields={"name": "Alex Morgan", "branch": "Main Street"}),
    "+15550111": Customer(phone="+15550111", fields={"repeat_caller": "true"}),
    "+15550122": Customer(phone="+15550122", fields={"risk": "true"}),
})
INPUTS = {"route", "route_outcome", "route_confidence", "route_profile", "guard_outcome", "injection",
          "stt_confidence", "reasks", "authenticated", "risk", "segment", "repeat_caller", "uncertain"}


@pytest.fixture(scope="module")
def factory(policy):
    return keeper_factory(policy, "", DIRECTORY, encoder=for_policy(policy, Config.from_env().cache_dir))


def call_saying(factory, *turns: str, caller: str = "+15550100", confidence: float | None = None):
    """A call in which the caller says each of ``turns`` in order, each after hearing the
    gateway's fixed reply to the one before (a model's answer is not played: the caller
    goes on before it, and their words take priority). Returns the call and the actions
    of the last turn."""
    call = Call("CA1", gates=factory({"from": caller}))
    t = Timeline(call)
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    acts = t.at(TimerFired(), 1.0)
    for text in turns:
        if call.gen is not None and call.gen.scripted:
            play_out(t, acts)
        t.windows(speech(), 10)
        t.at(PartialTranscript(text=text))
        t.windows(silence(), 4)
        t.fire_timer()
        acts = t.at(FinalTranscript(text=text, confidence=confidence))
    return call, acts


def selected(call):
    d = [d for d in call.decisions if d.gate == "model" and d.outcome == "selected"][-1]
    assert set(d.evidence["inputs"]) == INPUTS, "every input the choice read is in the record"
    return d


def test_a_short_faq_turn_takes_the_low_latency_profile(factory):
    call, acts = call_saying(factory, "what time do you open on saturday")
    d = selected(call)
    assert d.rule == "model_selection.short_faq_appointment" and d.evidence["inputs"]["route"] == "faq"
    assert [a.profile for a in acts if isinstance(a, StartModel)] == ["low_latency"]


def test_a_complaint_takes_the_strong_guard_profile(factory):
    call, acts = call_saying(factory, "I want to make a complaint about the terrible service")
    assert selected(call).rule == "model_selection.complaints_refunds"
    assert [a.profile for a in acts if isinstance(a, StartModel)] == ["strong_guard"]


def test_a_turn_with_a_date_of_birth_takes_the_strong_guard_profile(factory):
    call, acts = call_saying(factory, "my date of birth is the fourth of july nineteen eighty and I want to book an appointment")
    d = selected(call)
    assert d.rule == "model_selection.regulated" and d.evidence["inputs"]["guard_outcome"] == "redact"
    assert [a.profile for a in acts if isinstance(a, StartModel)] == ["strong_guard"]


def test_an_unclear_turn_is_answered_with_a_clarifying_question_not_a_model(factory, policy):
    call, acts = call_saying(factory, "it's about the other matter")
    d = selected(call)
    assert d.rule == "model_selection.unclear" and d.evidence["inputs"]["uncertain"] is True
    assert not [a for a in acts if isinstance(a, StartModel)]
    assert " ".join(a.text for a in acts if isinstance(a, Synthesize)).startswith("Sorry, I want to be sure")


def test_a_clear_question_the_recogniser_doubts_is_an_uncertain_turn(factory):
    call, acts = call_saying(factory, "what time do you open on saturday", confidence=0.3)
    d = selected(call)
    assert d.evidence["inputs"]["stt_confidence"] == 0.3 and d.evidence["inputs"]["uncertain"] is True
    assert d.rule == "model_selection.unclear" and not [a for a in acts if isinstance(a, StartModel)]


def test_a_recogniser_without_a_measure_leaves_the_turn_as_the_words_make_it(factory):
    call, acts = call_saying(factory, "what time do you open on saturday", confidence=None)
    d = selected(call)
    assert d.evidence["inputs"]["stt_confidence"] is None and d.evidence["inputs"]["uncertain"] is False
    sure, _ = call_saying(factory, "what time do you open on saturday", confidence=0.95)
    assert selected(sure).rule == d.rule == "model_selection.short_faq_appointment"


def test_still_unclear_after_the_caller_repeated_themselves_goes_to_a_person(factory):
    call, acts = call_saying(factory, "it's about the other matter", "it's about the other matter")
    d = selected(call)
    assert d.rule == "model_selection.unclear_after_reask" and d.evidence["inputs"]["reasks"] == 1
    assert call.state in (State.THINKING, State.TRANSFERRING) and not [a for a in acts if isinstance(a, StartModel)]
    assert any(v.gate == "handoff" and v.outcome == "handoff" for v in call.decisions)


def test_a_repeat_caller_who_wants_to_cancel_goes_to_a_person(factory):
    call, _ = call_saying(factory, "I want to cancel my account", caller="+15550111")
    d = selected(call)
    assert d.rule == "model_selection.repeat_complaint" and d.evidence["inputs"]["repeat_caller"] is True
    assert any(v.gate == "handoff" and v.outcome == "handoff" for v in call.decisions)


def test_a_caller_whose_record_carries_a_risk_signal_goes_to_a_person_first(factory):
    call, _ = call_saying(factory, "what time do you open on saturday", caller="+15550122")
    d = selected(call)
    assert d.rule == "model_selection.emotional_risk" and d.evidence["inputs"]["risk"] is True
    assert any(v.gate == "handoff" and v.outcome == "handoff" for v in call.decisions)
