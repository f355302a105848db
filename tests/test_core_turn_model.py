"""The end-of-turn model at candidate turn ends, on a fake clock: the core asks for a
score after a short silence, ends the turn at once on a confident one, waits longer on
an unsure one, ignores stale scores, and without a model ends turns on silence alone.
Times come from the parameters and ``next_deadline``, never from literals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from turngate.core import State
from turngate.core.actions import FinishTranscription, ScoreTurn, StartTranscription
from turngate.core.call import Call
from turngate.core.events import CallStarted, FinalTranscript, PartialTranscript, TurnScored
from turngate.core.params import TurnParams
from turngate.testing import OpenGatekeeper, Timeline, silence, speech

from test_core_transitions import kinds

P = TurnParams(turn_model_after_ms=200, turn_model_threshold=0.5, end_silence_unsure_ms=1000)
SURE = P.turn_model_threshold + 0.3
UNSURE = P.turn_model_threshold - 0.3


def new_call(params: TurnParams = P) -> Timeline:
    t = Timeline(Call("CA1", gates=OpenGatekeeper(), params=params))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    return t


def spoke_then_fell_silent(t: Timeline, text: str = "i would like to move my appointment") -> float:
    """The caller speaks, then the VAD hears silence until it says the sound ended.
    Returns the silence's start (from the end-of-turn deadline the words set)."""
    t.windows(speech(), 30)
    t.at(PartialTranscript(text=text))
    while t.call.turn.silence_start is None:
        t.at(silence(), silence().window_ms / 1000)
    assert t.call.state is State.CALLER_SPEAKING
    return t.call.turn.silence_start


def candidate_end(t: Timeline) -> ScoreTurn:
    """Run the clock to the candidate end; the core asks for a score (and closes the STT
    utterance, so its final is computed meanwhile)."""
    acts = t.fire_timer()
    asks = kinds(acts, ScoreTurn)
    assert len(asks) == 1, acts
    assert kinds(acts, FinishTranscription) == [FinishTranscription(discard=False)]
    return asks[0]


def test_a_short_silence_is_a_candidate_end_that_asks_for_a_score():
    t = new_call()
    start = spoke_then_fell_silent(t)
    assert t.call.next_deadline() == pytest.approx(start + P.turn_model_after_ms / 1000)
    ask = candidate_end(t)
    assert ask.request == 1 and 0 < ask.audio_ms <= 8000
    assert t.call.state is State.CALLER_SPEAKING  # asking decides nothing yet


def test_a_confident_score_ends_the_turn_at_once_with_the_score_in_the_record():
    t = new_call()
    spoke_then_fell_silent(t)
    ask = candidate_end(t)
    t.at(TurnScored(request=ask.request, probability=SURE, elapsed_ms=80.0))
    assert t.call.state is State.THINKING  # the final, asked for at the candidate end, is awaited
    end = t.decisions("turn")[-1]
    assert (end.outcome, end.rule) == ("end_of_turn", "turn.end.model_complete")
    assert end.evidence["final_at_candidate"] is True
    assert end.evidence["turn_score"] == pytest.approx(SURE)
    assert end.evidence["turn_threshold"] == P.turn_model_threshold
    assert end.evidence["model_ms"] == 80.0
    t.at(FinalTranscript(text="i would like to move my appointment"))
    assert t.call.context[-1]["content"] == "i would like to move my appointment"


def test_an_unsure_score_waits_the_longer_silence_and_says_so():
    t = new_call()
    start = spoke_then_fell_silent(t)
    words_deadline = t.call.turn.deadline
    ask = candidate_end(t)
    t.at(TurnScored(request=ask.request, probability=UNSURE))
    hold = t.decisions("turn")[-1]
    assert (hold.outcome, hold.rule) == ("hold", "turn.hold.model_unsure")
    assert hold.evidence["turn_score"] == pytest.approx(UNSURE)
    assert t.call.next_deadline() == pytest.approx(start + P.end_silence_unsure_ms / 1000)
    assert t.call.next_deadline() > words_deadline
    t.clock.now = words_deadline
    t.windows(silence(), 1)
    assert t.call.state is State.CALLER_SPEAKING  # the words' silence alone no longer ends it
    t.fire_timer()
    end = t.decisions("turn")[-1]
    assert (end.outcome, end.rule) == ("end_of_turn", "turn.end.model_unsure")
    assert end.evidence["turn_score"] == pytest.approx(UNSURE)


def test_the_caller_going_on_makes_the_pending_score_stale():
    t = new_call()
    spoke_then_fell_silent(t)
    first = candidate_end(t)
    t.windows(speech(), 10)  # they were only looking for a word
    assert t.at(TurnScored(request=first.request, probability=SURE)) == []
    assert t.call.state is State.CALLER_SPEAKING
    spoke_then_fell_silent(t, "i would like to move my appointment to friday")
    second = candidate_end(t)
    assert second.request == first.request + 1
    t.at(TurnScored(request=first.request, probability=SURE))  # a late answer to the old request
    assert t.call.state is State.CALLER_SPEAKING
    t.at(TurnScored(request=second.request, probability=SURE))
    assert t.call.state is State.THINKING


def test_a_score_that_comes_after_the_turn_ended_on_silence_changes_nothing():
    t = new_call(replace(P, end_silence_ms=P.turn_model_after_ms + 50))
    spoke_then_fell_silent(t)
    ask = candidate_end(t)
    t.fire_timer()  # the words' silence ran out before the (slow) model answered
    end = t.decisions("turn")[-1]
    assert (end.rule, end.evidence["turn_score"]) == ("turn.end.silence", "pending")
    n = len(t.actions)
    t.at(TurnScored(request=ask.request, probability=UNSURE))
    assert t.actions[n:] == [] and t.call.state is State.THINKING


def test_a_confident_score_does_not_override_words_that_end_open():
    t = new_call()
    start = spoke_then_fell_silent(t, "i would like to move my appointment")
    ask = candidate_end(t)
    t.at(PartialTranscript(text="i would like to move my appointment and"))  # the last word came late
    t.at(TurnScored(request=ask.request, probability=SURE))
    assert t.call.state is State.CALLER_SPEAKING
    assert t.call.next_deadline() == pytest.approx(start + P.end_silence_open_ms / 1000)
    t.fire_timer()
    end = t.decisions("turn")[-1]
    assert end.rule == "turn.end.open_ending" and end.evidence["turn_score"] == pytest.approx(SURE)


def test_words_that_end_open_are_not_scored_at_all():
    # No score could end such a turn sooner or later: the model is not run.
    t = new_call()
    start = spoke_then_fell_silent(t, "my card number is four one one one")
    t.fire_timer()  # the candidate end
    assert not kinds(t.actions, ScoreTurn) and t.call.state is State.CALLER_SPEAKING
    t.fire_timer()
    end = t.decisions("turn")[-1]
    assert (end.rule, end.evidence["turn_score"]) == ("turn.end.unfinished_number", None)
    assert t.clock.now == pytest.approx(start + P.end_silence_open_ms / 1000)


def test_without_a_model_the_turn_ends_on_silence_alone():
    # The shell has no model: it never answers the request; the words' silence ends the turn.
    t = new_call()
    start = spoke_then_fell_silent(t)
    candidate_end(t)
    t.fire_timer()
    end = t.decisions("turn")[-1]
    assert (end.outcome, end.rule) == ("end_of_turn", "turn.end.silence")
    assert t.clock.now == pytest.approx(start + P.end_silence_ms / 1000)


def test_with_the_model_off_no_score_is_asked():
    t = new_call(replace(P, turn_model_after_ms=0))
    start = spoke_then_fell_silent(t)
    acts = t.fire_timer()
    assert not kinds(t.actions, ScoreTurn) and kinds(acts, FinishTranscription)  # closed at the end, as before
    assert t.clock.now == pytest.approx(start + P.end_silence_ms / 1000)
    assert t.decisions("turn")[-1].evidence["turn_score"] is None


def test_an_early_final_that_came_before_the_score_is_answered_at_once():
    t = new_call()
    spoke_then_fell_silent(t)
    ask = candidate_end(t)
    t.at(FinalTranscript(text="i would like to move my appointment"))  # the recogniser was quicker
    assert t.call.state is State.CALLER_SPEAKING
    t.at(TurnScored(request=ask.request, probability=SURE))
    assert t.call.state is State.THINKING and t.call.turn.final_due is None
    assert t.call.context[-1]["content"] == "i would like to move my appointment"


def test_a_caller_who_goes_on_after_an_early_final_keeps_one_turn():
    t = new_call()
    spoke_then_fell_silent(t, "i would like to move my appointment")
    ask = candidate_end(t)
    t.at(FinalTranscript(text="i would like to move my appointment"))
    acts = t.windows(speech(), 10)  # ... to friday
    assert kinds(acts, StartTranscription), "a new utterance opens for the rest of the words"
    t.at(TurnScored(request=ask.request, probability=SURE))  # stale: the caller went on
    assert t.call.state is State.CALLER_SPEAKING
    t.at(PartialTranscript(text="to friday"))
    assert t.call.turn.partial == "i would like to move my appointment to friday"
    while t.call.turn.silence_start is None:
        t.at(silence(), silence().window_ms / 1000)
    ask2 = candidate_end(t)
    t.at(TurnScored(request=ask2.request, probability=SURE))
    t.at(FinalTranscript(text="to friday"))
    assert t.call.context[-1]["content"] == "i would like to move my appointment to friday"


EARLY = replace(P, final_after_ms=P.turn_model_after_ms // 2)


def test_the_utterance_closes_sooner_than_the_candidate_end_with_final_after_ms():
    # The final's second pass runs before the model is asked, not beside it. A value under
    # the VAD's hangover closes it as soon as the silence is known.
    t = new_call(EARLY)
    n = len(t.actions)
    start = spoke_then_fell_silent(t)
    closed = kinds(t.actions[n:], FinishTranscription)
    assert closed == [FinishTranscription(discard=False)] and not kinds(t.actions[n:], ScoreTurn)
    assert t.clock.now >= start + EARLY.final_after_ms / 1000 - 1e-9
    assert t.call.next_deadline() == pytest.approx(start + EARLY.turn_model_after_ms / 1000)
    acts = t.fire_timer()  # the candidate end: the score only, the utterance is already closed
    asks = kinds(acts, ScoreTurn)
    assert len(asks) == 1 and not kinds(acts, FinishTranscription)
    t.at(FinalTranscript(text="i would like to move my appointment"))
    t.at(TurnScored(request=asks[0].request, probability=SURE))
    end = [d for d in t.decisions("turn") if d.outcome == "end_of_turn"][-1]
    assert end.evidence["final_at_candidate"] is True
    assert t.call.context[-1]["content"] == "i would like to move my appointment"


def test_the_early_close_leaves_words_that_end_open_to_their_silence():
    t = new_call(EARLY)
    n = len(t.actions)
    start = spoke_then_fell_silent(t, "i would like to move my appointment to")
    assert not kinds(t.actions[n:], FinishTranscription) and t.call.turn.transcribing
    t.fire_timer()  # the candidate end: open words are not scored
    assert not kinds(t.actions[n:], ScoreTurn)
    t.fire_timer()
    end = t.decisions("turn")[-1]
    assert end.rule == "turn.end.open_ending"
    assert t.clock.now == pytest.approx(start + EARLY.end_silence_open_ms / 1000)


def test_a_caller_who_goes_on_after_the_early_close_opens_a_new_utterance():
    t = new_call(EARLY)
    spoke_then_fell_silent(t)
    assert not t.call.turn.transcribing  # closed early
    acts = t.windows(speech(), 10)
    assert kinds(acts, StartTranscription) and t.call.turn.close_due is None


def test_the_utterance_reopened_after_a_pause_does_not_hear_the_words_before_it_again():
    # Its preroll reaches back to the pause's start, not into the closed utterance's words.
    t = new_call(EARLY)
    start = spoke_then_fell_silent(t)
    acts = t.windows(speech(), 10)
    (opened,) = kinds(acts, StartTranscription)
    assert 0 < opened.preroll_ms <= round((t.clock.now - start) * 1000)
    assert opened.preroll_ms < EARLY.preroll_ms


def test_a_caller_who_resumes_after_the_turn_ended_in_the_pause_is_not_heard_twice_either():
    # The same rule when the turn had ended (a confident score) and the caller goes on. A long
    # preroll, so that the pause (candidate end plus the onset) is the shorter of the two.
    long_preroll = replace(EARLY, preroll_ms=2000)
    t = new_call(long_preroll)
    start = spoke_then_fell_silent(t)
    ask = kinds(t.fire_timer(), ScoreTurn)[0]
    t.at(TurnScored(request=ask.request, probability=SURE))
    assert t.call.state is State.THINKING
    (opened,) = kinds(t.windows(speech(), 10), StartTranscription)
    assert t.call.state is State.CALLER_SPEAKING
    assert 0 < opened.preroll_ms <= round((t.clock.now - start) * 1000) < long_preroll.preroll_ms
