"""A recogniser that stalls or falls behind (an overloaded STT worker): the caller's
words are never dropped in silence, and each fallback is a decision record."""

from __future__ import annotations

from turngate.core import State
from turngate.core.actions import ClearPlayback, FinishTranscription, StartModel
from turngate.core.events import FinalTranscript, PartialTranscript
from turngate.testing import silence, speech

from test_core_bargein import answering, caller
from test_core_transitions import kinds, new_call


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
