"""A recogniser that stalls or falls behind (an overloaded STT worker): the caller's
words are never dropped in silence, and each fallback is a decision record."""

from __future__ import annotations

from turngate.core import Call, State
from turngate.core.actions import (ClearPlayback, FinishTranscription, QueueCrmNote, StartModel, Synthesize,
                                   TransferCall)
from turngate.core.events import (CallStarted, FinalTranscript, ModelDone, ModelTextDelta, PartialTranscript,
                                  SpeechSynthesized)
from turngate.core.params import TurnParams
from turngate.testing import OpenGatekeeper, Timeline, silence, speech

from test_core_bargein import answering, caller
from test_core_transitions import echo_marks, kinds, new_call


def paused_and_the_final_never_came():
    """The caller spoke 800 ms over our answer (one word so far, no request yet, so the
    pause waits for the final), went quiet, and the final did not come: we played on."""
    t = answering()
    caller(t, 10)
    t.at(PartialTranscript(text="the"))
    caller(t, 15)
    t.windows(silence(), 25)
    resume = t.decisions("turn")[-1]
    assert (resume.outcome, resume.reason) == ("resume", "no_final")
    return t


def test_a_final_that_never_comes_answers_the_words_the_partials_gave():
    t = new_call()
    t.windows(speech(), 40)
    t.at(PartialTranscript(text="what are your opening"))
    t.windows(speech(), 10)
    t.at(PartialTranscript(text="what are your opening hours"))
    t.windows(silence(), 15)
    assert t.call.state is State.THINKING and kinds(t.actions, FinishTranscription)
    acts = t.fire_timer()  # FINAL_WAIT_MS later, still no final
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.reason, d.rule) == ("partial_used", "stt_final_timeout", "turn.stt_timeout_partial")
    assert kinds(acts, StartModel)
    assert t.call.context[-1] == {"role": "user", "content": "what are your opening hours"}
    t.at(FinalTranscript(text="what are your opening hours please"))  # the late final: stale
    assert [m for m in t.call.context if m["role"] == "user"] == [
        {"role": "user", "content": "what are your opening hours"}]


def test_a_stalled_final_after_a_sound_without_words_is_noise():
    t = new_call()
    t.windows(speech(), 10)
    t.windows(silence(), 30)
    t.fire_timer()
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.reason) == ("no_transcript", "stt_final_timeout")
    assert t.call.state is State.LISTENING


def test_a_pauses_final_that_comes_after_we_played_on_still_stops_us():
    t = paused_and_the_final_never_came()
    acts = t.at(FinalTranscript(text="stop wait"), 0.5)  # the recogniser catches up
    assert kinds(acts, ClearPlayback), "the late stop clears playback again"
    pause, abandon, end = t.decisions("turn")[-3:]
    assert (pause.outcome, pause.reason) == ("pause", "late_final")
    assert abandon.outcome == "abandon" and abandon.evidence["late"] is True
    assert end.reason == "after_interruption"  # the caller's words are already final: answer now
    assert t.call.context[-1] == {"role": "user", "content": "stop wait"}


def test_a_late_final_with_only_a_backchannel_changes_nothing():
    t = paused_and_the_final_never_came()
    acts = t.at(FinalTranscript(text="uh huh okay"), 0.5)
    assert not kinds(acts, ClearPlayback) and t.call.state is State.SPEAKING


ASK_AGAIN = "Sorry, I didn't catch that. Could you say it again?"


def asking_call() -> Timeline:
    t = Timeline(Call("CA1", gates=OpenGatekeeper(),
                      params=TurnParams(no_words_reply=ASK_AGAIN, no_words_min_ms=600)))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    return t


def wordless_turn(t: Timeline, windows: int, final: str | None = "") -> list:
    """The caller's sound for ``windows`` VAD windows, silence to the end of the turn, then
    its final (``None``: the final never comes)."""
    n = len(t.actions)
    t.windows(speech(), windows)
    t.windows(silence(), 30)
    assert t.call.state is State.THINKING
    if final is None:
        t.fire_timer()
    else:
        t.at(FinalTranscript(text=final))
    return t.actions[n:]


def play_out(t: Timeline, actions, *, listening: bool = True) -> None:
    """Synthesize every sentence asked for in ``actions`` and echo the marks: the caller
    heard it all (and the call listens again)."""
    for syn in kinds(actions, Synthesize):
        t.at(SpeechSynthesized(generation=syn.generation, segment=syn.segment, text=syn.text, audio=b"\x7f" * 800))
    echo_marks(t, t.actions)
    assert (t.call.state is State.LISTENING) is listening


def said(actions) -> str:
    return " ".join(a.text for a in kinds(actions, Synthesize))


def test_a_turn_of_speech_with_no_words_is_asked_again_then_a_person_takes_over():
    t = asking_call()
    acts = wordless_turn(t, 40)  # 1.3 s of the caller's voice; the recogniser heard nothing
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.reason, d.rule) == ("no_words", "empty_transcript", "turn.noise.ask_again")
    assert d.evidence["spoke_ms"] >= 1200 and d.evidence["min_ms"] == 600
    assert t.decisions("handoff")[-1].outcome == "stay"
    assert said(acts) == ASK_AGAIN and t.call.state is State.THINKING
    assert not [m for m in t.call.context if m["role"] == "user"], "no words: nothing of the caller's enters the context"

    play_out(t, acts)
    acts = wordless_turn(t, 40)  # asked again, still no words: the gates' limit (2 in a row) is reached
    d, h = t.decisions("turn")[-1], t.decisions("handoff")[-1]
    assert d.rule == "turn.noise.handoff" and (h.outcome, h.reason) == ("handoff", "not_understood")
    assert said(acts) == "One moment please." and kinds(acts, QueueCrmNote)
    n = len(t.actions)
    play_out(t, acts, listening=False)
    assert kinds(t.actions[n:], TransferCall), "the transfer follows the announcement"


def test_words_in_between_let_the_next_wordless_turn_be_asked_again():
    t = asking_call()
    play_out(t, wordless_turn(t, 40))
    acts = wordless_turn(t, 40, final="what are your opening hours")
    gen = kinds(acts, StartModel)[-1].generation
    n = len(t.actions)
    t.at(ModelTextDelta(generation=gen, text="We open at nine."))
    t.at(ModelDone(generation=gen))
    play_out(t, t.actions[n:])
    acts = wordless_turn(t, 40)
    assert said(acts) == ASK_AGAIN


def test_a_short_wordless_sound_is_noise_and_an_empty_reply_turns_asking_off():
    t = asking_call()
    acts = wordless_turn(t, 12)  # ~380 ms: a cough, a bang
    d = t.decisions("turn")[-1]
    assert (d.rule, d.evidence["spoke_ms"] < 600) == ("turn.noise", True)
    assert not said(acts) and t.call.state is State.LISTENING

    t = new_call()  # TurnParams() asks nothing: the policy turns it on
    acts = wordless_turn(t, 40)
    assert t.decisions("turn")[-1].rule == "turn.noise" and not said(acts)


def test_a_stalled_final_with_no_partials_after_a_long_turn_is_asked_again():
    t = asking_call()
    acts = wordless_turn(t, 40, final=None)
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.reason, d.rule) == ("no_transcript", "stt_final_timeout", "turn.stt_timeout.ask_again")
    assert said(acts) == ASK_AGAIN


def test_the_bundled_policys_keeper_asks_again_then_hands_off_with_the_reason_in_the_crm_note():
    from turngate.gates.pipeline import keeper_factory
    from turngate.policy import load_policy

    policy = load_policy()
    keeper = keeper_factory(policy, "")({})
    t = Timeline(Call("CA1", gates=keeper, params=policy.turn_taking))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    play_out(t, wordless_turn(t, 40))
    acts = wordless_turn(t, 40)
    assert t.decisions("turn")[-1].rule == "turn.noise.handoff"
    (crm,) = kinds(acts, QueueCrmNote)
    assert crm.reason == "not_understood" and "HANDOFF: not_understood (rule handoff.not_understood)" in crm.note
    assert said(acts) == "One moment please. I am connecting you with a colleague who can help."


def test_a_cough_before_the_question_again_plays_does_not_count_the_turn_twice():
    t = asking_call()
    acts = wordless_turn(t, 40)  # counted once (the gates' limit is 2 in a row), asked again
    assert said(acts) == ASK_AGAIN and t.call.state is State.THINKING
    acts = wordless_turn(t, 8)   # a cough before the question played: the call yields to it
    d = t.decisions("turn")[-1]
    assert d.rule == "turn.noise.ask_again" and d.evidence["counted_already"], "one turn, counted once"
    assert [h.outcome for h in t.decisions("handoff")] == ["stay"] and said(acts) == ASK_AGAIN
    play_out(t, acts)            # now the caller has heard the question once
    acts = wordless_turn(t, 40)  # and still no words: the second in a row reaches a person
    assert t.decisions("handoff")[-1].reason == "not_understood" and said(acts) == "One moment please."
