"""Handoff and keypad timelines in the core: tell the caller, then transfer."""

from __future__ import annotations

from dataclasses import replace

from turngate.core import Call, State
from turngate.core.actions import ClearPlayback, QueueCrmNote, SendMark, Synthesize, TransferCall, WriteDecision
from turngate.core.decisions import Verdict
from turngate.core.events import CallStarted, DtmfReceived, MarkPlayed, SpeechSynthesized
from turngate.core.gatekeeper import KeypadVerdict
from turngate.testing import OpenGatekeeper, Timeline, speech

from test_core_transitions import caller_turn, kinds


class Handing(OpenGatekeeper):
    def caller_text(self, text, *, final, agent_speaking, stt_confidence=None):
        v = super().caller_text(text, final=final, agent_speaking=agent_speaking)
        if final:
            return replace(v, action="handoff", queue="payments", note="NOTE", reply="Connecting you now.",
                           verdicts=(Verdict(gate="handoff", outcome="handoff", reason="explicit_request",
                                             rule="handoff.explicit_request"),))
        return v


def test_handoff_announces_then_transfers_when_the_words_have_played():
    t = Timeline(Call("CA1", gates=Handing()))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    caller_turn(t, "put me through to a person")
    synth = kinds(t.actions, Synthesize)[-1]
    assert synth.text == "Connecting you now."
    assert not kinds(t.actions, TransferCall), "no transfer before the caller heard why"
    t.at(SpeechSynthesized(generation=synth.generation, segment=0, text=synth.text, audio=b"\x7f" * 800))
    # a cough over the announcement does not stop it
    assert not kinds(t.windows(speech(level_db=-10), 3), ClearPlayback)
    acts = t.at(MarkPlayed(name=kinds(t.actions, SendMark)[-1].name))
    assert kinds(acts, TransferCall) == [TransferCall(queue="payments", reason="explicit_request", note="NOTE")]
    assert t.call.state is State.TRANSFERRING
    transfer = t.decisions("handoff")[-1]
    assert (transfer.outcome, transfer.reason, transfer.rule) == ("transfer", "explicit_request", "handoff.transfer")


def test_the_crm_note_is_queued_with_the_handoff_decision_not_after_the_announcement():
    # A process lost while the caller hears "connecting you" must still owe the note: it goes
    # out in the step that decided the handoff (one store transaction), once.
    t = Timeline(Call("CA1", gates=Handing()))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    caller_turn(t, "put me through to a person")
    order = [a for a in t.actions if isinstance(a, (QueueCrmNote, Synthesize))
             or (isinstance(a, WriteDecision) and a.decision.gate == "handoff")]
    assert [type(a).__name__ for a in order] == ["WriteDecision", "QueueCrmNote", "Synthesize"]
    assert order[1] == QueueCrmNote(queue="payments", reason="explicit_request", note="NOTE")
    synth = order[2]
    t.at(SpeechSynthesized(generation=synth.generation, segment=0, text=synth.text, audio=b"\x7f" * 800))
    acts = t.at(MarkPlayed(name=kinds(t.actions, SendMark)[-1].name))
    assert kinds(acts, TransferCall) and not kinds(acts, QueueCrmNote), "the note is not queued twice"


def test_a_handoff_without_an_announcement_queues_its_note_with_the_transfer():
    class Silent(Handing):
        def caller_text(self, text, *, final, agent_speaking, stt_confidence=None):
            return replace(super().caller_text(text, final=final, agent_speaking=agent_speaking), reply="")

    t = Timeline(Call("CA1", gates=Silent()))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    caller_turn(t, "put me through to a person")
    assert kinds(t.actions, QueueCrmNote) == [QueueCrmNote(queue="payments", reason="explicit_request", note="NOTE")]
    assert kinds(t.actions, TransferCall)


def test_a_keypad_verdict_with_a_reply_is_spoken_when_the_line_is_quiet():
    class Pin(OpenGatekeeper):
        def dtmf(self, digit, at_ms=0):
            if digit == "#":
                return KeypadVerdict(verdicts=(Verdict(gate="guard", outcome="require_auth", reason="dtmf_pin_mismatch",
                                                       rule="guard.auth.dtmf_pin"),), reply="That PIN did not match.")
            return KeypadVerdict()

    t = Timeline(Call("CA1", gates=Pin()))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    for d in "12#":
        t.at(DtmfReceived(digit=d), 0.25)
    assert t.decisions("guard")[-1].reason == "dtmf_pin_mismatch"
    assert kinds(t.actions, Synthesize)[-1].text == "That PIN did not match."
    assert t.call.state is State.THINKING


def test_a_model_with_no_first_token_in_budget_is_failed_over_then_handed_off():
    from turngate.core.actions import CancelModel, StartModel
    t = Timeline(Call("CA1", gates=OpenGatekeeper()))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    caller_turn(t)
    first = kinds(t.actions, StartModel)[-1]
    assert t.call.next_deadline() == first_deadline(t)
    acts = t.fire_timer()  # 2.5 s of nothing from the model
    assert CancelModel(generation=first.generation, reason="ttft_budget") in acts
    second = kinds(acts, StartModel)[0]
    assert second.profile == "strong_guard"  # the gatekeeper's fallback profile
    model = [d for d in t.decisions("model")]
    assert [(d.outcome, d.reason) for d in model] == [("timeout", "ttft_budget_exceeded"),
                                                      ("fallback", "ttft_budget_exceeded")]
    acts = t.fire_timer()  # the fallback stalls too: the policy hands off
    assert kinds(acts, TransferCall) and t.call.state is State.TRANSFERRING


def first_deadline(t):
    return t.clock.now + t.call.p.model_ttft_budget_ms / 1000


def test_a_stalled_tts_never_leaves_the_caller_in_silence():
    from turngate.core.actions import CancelSynthesis, StartModel
    from turngate.core.events import ModelDone, ModelTextDelta
    t = Timeline(Call("CA1", gates=OpenGatekeeper()))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    caller_turn(t)
    gen = kinds(t.actions, StartModel)[-1].generation
    t.at(ModelTextDelta(generation=gen, text="Here is your answer. "), 0.3)
    t.at(ModelDone(generation=gen))
    acts = t.fire_timer()  # no audio within the first-audio budget
    assert CancelSynthesis(generation=gen, reason="first_audio_budget") in acts
    assert t.decisions("model")[0].reason == "first_audio_budget_exceeded"
    assert kinds(acts, StartModel), "the fallback generation starts"
