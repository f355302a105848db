"""Timeline tests of the call core on a fake clock: one per transition in the
table, plus the illegal ones. No sleeps: time is stepped."""

from __future__ import annotations

import itertools

import pytest

from turngate.core import Call, State, Trigger, TRANSITIONS, transition
from turngate.core.actions import (
    CancelModel, ClearPlayback, FinishTranscription, SendAudio, SendMark, StartModel,
    StartTranscription, Synthesize, TransferCall,
)
from turngate.core.events import (
    CallStarted, FinalTranscript, MarkPlayed, ModelDone, ModelFailed, ModelTextDelta,
    PartialTranscript, SpeechSynthesized, StreamStopped,
)
from turngate.errors import IllegalTransition
from turngate.testing import OpenGatekeeper, Timeline, silence, speech

MS = 8  # mu-law bytes per ms


def new_call(greeting: str = "") -> Timeline:
    t = Timeline(Call("CA1", gates=OpenGatekeeper(greeting_text=greeting)))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    return t


def kinds(actions, cls):
    return [a for a in actions if isinstance(a, cls)]


def caller_turn(t: Timeline, text: str = "what are your opening hours") -> None:
    """Listening -> caller speaking -> thinking (final delivered, model started)."""
    t.windows(speech(), 10)
    t.at(PartialTranscript(text=text))
    t.windows(silence(), 4)
    t.fire_timer()
    assert t.call.state is State.THINKING
    t.at(FinalTranscript(text=text))


def speaking(t: Timeline, ms: int = 3000) -> int:
    """Drive a call to speaking with ``ms`` of agent audio; returns the generation."""
    caller_turn(t)
    gen = kinds(t.actions, StartModel)[-1].generation
    t.at(ModelTextDelta(generation=gen, text="We are open from nine to five on weekdays. "))
    t.at(ModelDone(generation=gen))
    synth = kinds(t.actions, Synthesize)[-1]
    t.at(SpeechSynthesized(generation=gen, segment=synth.segment, text=synth.text, audio=b"\x7f" * (ms * MS)))
    assert t.call.state is State.SPEAKING
    return gen


def echo_marks(t: Timeline, actions, n: int | None = None) -> list:
    out = []
    for m in kinds(actions, SendMark)[:n]:
        out += t.at(MarkPlayed(name=m.name), 0.1)
    return out


# ---------------------------------------------------------------- one per transition

def t_listening_speech_start():
    t = new_call()
    acts = t.windows(speech(), 2)
    assert t.call.state is State.CALLER_SPEAKING
    assert kinds(acts, StartTranscription)
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.rule) == ("caller_started", "turn.speech_start")
    return t


def t_listening_respond():
    t = new_call(greeting="Hello, this is the clinic.")
    assert t.call.state is State.THINKING
    assert kinds(t.actions, Synthesize)[0].text == "Hello, this is the clinic."


def t_caller_speaking_end_of_turn():
    t = new_call()
    t.windows(speech(), 10)
    t.at(PartialTranscript(text="what time do you open on saturday"))
    acts = t.windows(silence(), 6)
    assert t.call.state is State.CALLER_SPEAKING  # 192 ms of silence is not the end yet
    deadline = t.call.next_deadline()
    assert deadline is not None
    acts = t.fire_timer()
    assert t.call.state is State.THINKING
    assert kinds(acts, FinishTranscription) == [FinishTranscription(discard=False)]
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.rule) == ("end_of_turn", "turn.end.complete")


def t_thinking_first_audio():
    t = new_call()
    speaking(t)
    d = [d for d in t.decisions("turn") if d.outcome == "agent_started"]
    assert d and d[0].rule == "turn.first_audio"


def t_thinking_speech_start():
    t = new_call()
    caller_turn(t)
    gen = kinds(t.actions, StartModel)[-1].generation
    acts = t.windows(speech(), 3)
    assert t.call.state is State.CALLER_SPEAKING
    assert CancelModel(generation=gen, reason="caller_resumed") in acts
    assert t.decisions("turn")[-1].rule == "turn.caller_priority"


def t_thinking_generation_failed():
    t = new_call()
    caller_turn(t)
    gate = t.call.gates
    gate.fallback_profile = ""  # no fallback configured
    gate.generation_failed = lambda profile, reason, attempts: __import__(
        "turngate.core.gatekeeper", fromlist=["FailureVerdict"]).FailureVerdict(verdicts=())
    gen = kinds(t.actions, StartModel)[-1].generation
    t.at(ModelFailed(generation=gen, reason="timeout"))
    assert t.call.state is State.LISTENING


def t_thinking_speech_noise():
    t = new_call()
    t.windows(speech(), 5)
    t.windows(silence(), 5)
    t.fire_timer()
    assert t.call.state is State.THINKING
    t.at(FinalTranscript(text=""))
    assert t.call.state is State.LISTENING
    assert t.decisions("turn")[-1].rule == "turn.noise"


def t_speaking_playback_done():
    t = new_call()
    speaking(t, ms=500)
    sent = kinds(t.actions, SendMark)
    echo_marks(t, sent)
    assert t.call.state is State.LISTENING
    assert t.call.context[-1] == {"role": "assistant", "content": "We are open from nine to five on weekdays."}
    assert t.decisions("turn")[-1].outcome == "agent_done"


def t_speaking_barge_in():
    t = new_call()
    speaking(t)
    acts = t.windows(speech(level_db=-18), 2)
    assert t.call.state is State.PAUSED
    assert kinds(acts, ClearPlayback)
    assert t.decisions("turn")[-1].outcome == "pause"


def t_paused_resume():
    t = new_call()
    speaking(t)
    t.windows(speech(level_db=-18), 8)
    t.at(PartialTranscript(text="uh huh"))
    acts = t.windows(silence(), 5)
    assert kinds(acts, FinishTranscription) == [FinishTranscription(discard=False)]
    acts = t.at(FinalTranscript(text="uh huh"))
    assert t.call.state is State.SPEAKING
    assert kinds(acts, SendAudio)
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.rule) == ("resume", "bargein.final_backchannel")


def t_paused_abandon():
    t = new_call()
    gen = speaking(t)
    t.windows(speech(level_db=-18), 8)
    t.at(PartialTranscript(text="stop wait"))
    assert t.call.state is State.PAUSED, "a short sound waits for its final to agree"
    t.windows(silence(), 5)
    acts = t.at(FinalTranscript(text="stop wait"))
    # abandoned; and since the utterance is complete, the caller's turn ends on it at once
    assert t.call.state is State.THINKING
    # The model had finished; the answer is still cancelled, with what the caller heard, so
    # a speech-to-speech model can truncate its own record of it.
    heard = next(d for d in t.decisions("turn") if d.outcome == "abandon").evidence["heard_ms"]
    assert [a for a in acts if isinstance(a, CancelModel)] == [
        CancelModel(generation=gen, reason="interrupt", heard_ms=heard)]
    d = [d for d in t.decisions("turn") if d.outcome == "abandon"][-1]
    assert (d.outcome, d.rule) == ("abandon", "bargein.interrupt_phrase")
    assert t.decisions("turn")[-1].rule == "turn.end.after_interruption"


def t_paused_preempt():
    class Drifting(OpenGatekeeper):
        def caller_text(self, text, *, final, agent_speaking, stt_confidence=None):
            v = super().caller_text(text, final=final, agent_speaking=agent_speaking)
            if agent_speaking and "refund" in text:  # the route moves with margin mid-answer
                from dataclasses import replace
                return replace(v, drift=True, route="refund")
            return v

    t = Timeline(Call("CA1", gates=Drifting()))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    speaking(t)
    t.windows(speech(level_db=-18), 4)
    t.at(PartialTranscript(text="so i"))
    t.windows(speech(level_db=-18), 20)
    t.at(PartialTranscript(text="i want a refund"))
    assert t.call.state is State.CALLER_SPEAKING
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.reason, d.rule) == ("abandon", "intent_drift", "route.drift_preempt")


def t_thinking_handoff():
    class Handing(OpenGatekeeper):
        def caller_text(self, text, *, final, agent_speaking, stt_confidence=None):
            from turngate.core.gatekeeper import CallerTurnVerdict
            from turngate.core.decisions import Verdict
            return CallerTurnVerdict(verdicts=(Verdict(gate="handoff", outcome="handoff", reason="explicit_request",
                                                       rule="handoff.explicit"),),
                                     redacted=text, action="handoff" if final else "none", queue="general",
                                     note="caller asked for a person")

    t = Timeline(Call("CA1", gates=Handing()))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    caller_turn(t, "let me talk to a person")
    assert t.call.state is State.TRANSFERRING
    assert kinds(t.actions, TransferCall)[-1] == TransferCall(queue="general", reason="explicit_request",
                                                              note="caller asked for a person")


def speaking_on_fallback(t: Timeline) -> int:
    """The first attempt fails before a word; the fallback attempt speaks and is still streaming."""
    caller_turn(t)
    gen = kinds(t.actions, StartModel)[-1].generation
    t.at(ModelFailed(generation=gen, reason="stream_reset"))
    second = kinds(t.actions, StartModel)[-1]
    assert (second.generation, second.attempt, second.profile) == (gen, 2, "strong_guard")
    t.at(ModelTextDelta(generation=gen, attempt=2, text="We are open from nine to five on weekdays. "))
    synth = kinds(t.actions, Synthesize)[-1]
    t.at(SpeechSynthesized(generation=gen, segment=synth.segment, text=synth.text, audio=b"\x7f" * (3000 * MS)))
    assert t.call.state is State.SPEAKING
    return gen


def t_speaking_handoff():
    t = new_call()
    gen = speaking_on_fallback(t)
    # The model fails on its second attempt while audio is already out: hand off.
    acts = t.at(ModelFailed(generation=gen, attempt=2, reason="stream_reset"))
    assert t.call.state is State.TRANSFERRING
    assert kinds(acts, TransferCall)[0].reason == "provider_failure"


def _hangup_from(setup):
    def run():
        t = setup()
        acts = t.at(StreamStopped(reason="stop"))
        assert t.call.state is State.ENDED
        assert t.decisions("turn")[-1].outcome == "ended"
        return acts
    return run


def _at_listening():
    return new_call()


def _at_caller_speaking():
    t = new_call()
    t.windows(speech(), 3)
    return t


def _at_thinking():
    t = new_call()
    caller_turn(t)
    return t


def _at_speaking():
    t = new_call()
    speaking(t)
    return t


def _at_paused():
    t = _at_speaking()
    t.windows(speech(level_db=-18), 3)
    assert t.call.state is State.PAUSED
    return t


def _at_transferring():
    t = new_call()
    gen = speaking_on_fallback(t)
    t.at(ModelFailed(generation=gen, attempt=2, reason="x"))
    assert t.call.state is State.TRANSFERRING
    return t


S, T = State, Trigger
SCENARIOS = {
    (S.LISTENING, T.SPEECH_START): t_listening_speech_start,
    (S.LISTENING, T.RESPOND): t_listening_respond,
    (S.CALLER_SPEAKING, T.END_OF_TURN): t_caller_speaking_end_of_turn,
    (S.THINKING, T.FIRST_AUDIO): t_thinking_first_audio,
    (S.THINKING, T.SPEECH_START): t_thinking_speech_start,
    (S.THINKING, T.GENERATION_FAILED): t_thinking_generation_failed,
    (S.THINKING, T.SPEECH_NOISE): t_thinking_speech_noise,
    (S.SPEAKING, T.PLAYBACK_DONE): t_speaking_playback_done,
    (S.SPEAKING, T.BARGE_IN): t_speaking_barge_in,
    (S.PAUSED, T.RESUME): t_paused_resume,
    (S.PAUSED, T.ABANDON): t_paused_abandon,
    (S.PAUSED, T.PREEMPT): t_paused_preempt,
    (S.THINKING, T.HANDOFF): t_thinking_handoff,
    (S.SPEAKING, T.HANDOFF): t_speaking_handoff,
    (S.LISTENING, T.HANGUP): _hangup_from(_at_listening),
    (S.CALLER_SPEAKING, T.HANGUP): _hangup_from(_at_caller_speaking),
    (S.THINKING, T.HANGUP): _hangup_from(_at_thinking),
    (S.SPEAKING, T.HANGUP): _hangup_from(_at_speaking),
    (S.PAUSED, T.HANGUP): _hangup_from(_at_paused),
    (S.TRANSFERRING, T.HANGUP): _hangup_from(_at_transferring),
}


def test_every_transition_in_the_table_has_a_timeline_test():
    assert set(SCENARIOS) == set(TRANSITIONS)


@pytest.mark.parametrize("pair", list(SCENARIOS), ids=lambda p: f"{p[0]}--{p[1]}")
def test_transition(pair):
    SCENARIOS[pair]()


ILLEGAL = [(s, t) for s, t in itertools.product(State, Trigger) if (s, t) not in TRANSITIONS]


@pytest.mark.parametrize("pair", ILLEGAL, ids=lambda p: f"{p[0]}--{p[1]}")
def test_illegal_transition_raises_typed_error(pair):
    with pytest.raises(IllegalTransition) as e:
        transition(*pair)
    assert e.value.state == pair[0] and e.value.trigger == pair[1]


def test_hangup_cancels_the_generation_in_flight():
    t = new_call()
    caller_turn(t)
    gen = kinds(t.actions, StartModel)[-1].generation
    acts = t.at(StreamStopped(reason="stop"))
    assert CancelModel(generation=gen, reason="hangup:stop") in acts


def test_ended_call_ignores_late_events_without_raising():
    t = new_call()
    t.at(StreamStopped(reason="stop"))
    t.windows(speech(), 5)
    t.at(FinalTranscript(text="hello"))
    assert t.call.state is State.ENDED
