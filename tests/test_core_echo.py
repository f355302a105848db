"""The echo return loss a call learns from its own line (core/echo.py), and what the
barge-in floor does with it."""

from __future__ import annotations

from turngate.core import Call, State
from turngate.core.actions import ClearPlayback, SendMark
from turngate.core.echo import EchoEstimate
from turngate.core.events import CallStarted, FinalTranscript, MarkPlayed
from turngate.core.params import TurnParams
from turngate.testing import OpenGatekeeper, Timeline, silence, speech

from test_core_bargein import long_answer, new
from test_core_transitions import kinds

W = 0.032  # one VAD window


def feed(est: EchoEstimate, level: float, ref: float, t0: float, n: int) -> float:
    t = t0
    for _ in range(n):
        est.observe(level, ref, t)
        t += W
    return t


def test_the_worst_echo_seen_sets_the_return_loss():
    est = EchoEstimate()
    t = feed(est, -40.0, -20.0, 0.0, 20)
    t = feed(est, -35.0, -20.0, t, 1)    # one louder echo window: the estimate is the worst
    t = feed(est, -40.0, -20.0, t, 20)
    assert est.erl_db(t) == 15.0


def test_nothing_is_trusted_before_half_a_second_of_our_audio():
    est = EchoEstimate()
    t = feed(est, -80.0, -20.0, 0.0, 10)
    assert est.erl_db(t) is None
    t = feed(est, -80.0, -60.0, t, 40)  # our audio too quiet to say anything about its echo
    assert est.erl_db(t) is None


def test_the_newest_windows_do_not_count_yet():
    est = EchoEstimate()
    t = feed(est, -80.0, -20.0, 0.0, 30)
    t = feed(est, -25.0, -20.0, t, 3)   # a caller starting to talk, quietly, right now
    assert est.erl_db(t) == 60.0


def test_an_interruption_is_forgotten_and_the_settled_figure_outlives_the_window():
    est = EchoEstimate()
    t = feed(est, -50.0, -20.0, 0.0, 30)
    start = t
    t = feed(est, -22.0, -20.0, t, 20)  # the caller talked over us
    est.forget_since(start)
    assert est.erl_db(t + 0.5) == 30.0
    assert est.erl_db(t + 60.0) == 30.0  # nothing recent: the call's last settled figure


def play_over(t: Timeline, ms: int, window) -> list:
    """Play ``ms`` of our answer while the caller's channel carries ``window`` (3 per mark)."""
    acts = []
    for _ in range(ms // 100):
        marks = [a.name for a in t.actions if isinstance(a, SendMark)]
        done = getattr(t, "marks_played", 0)
        acts += t.at(MarkPlayed(name=marks[done]), 0.004)
        t.marks_played = done + 1
        acts += t.windows(window, 3)
    return acts


def test_a_clean_line_lets_a_quiet_caller_interrupt():
    # Our audio plays at -20 dBFS. With the assumed 18 dB return loss a caller must beat
    # -35 dBFS; on a line that has shown no echo at all, -45 dBFS speech is the caller.
    t = new()
    long_answer(t)
    play_over(t, 1100, silence(level_db=-90))
    acts = t.windows(speech(p=0.95, level_db=-45), 2)
    assert kinds(acts, ClearPlayback)
    pause = t.decisions("turn")[-1]
    assert pause.outcome == "pause" and pause.evidence["erl_db"] == 45.0  # held to the policy's max


def test_a_loud_room_or_strong_echo_never_raises_the_floor_above_the_assumed_one():
    # 800 ms of loud sound in the caller's channel while we play (a loud room, or 12 dB
    # echo): the call must not conclude that callers now have to beat it.
    t = new()
    long_answer(t)
    play_over(t, 800, speech(p=0.3, level_db=-20 - 12))
    acts = t.windows(speech(p=0.95, level_db=-30), 2)   # clears the assumed floor (-35)
    assert kinds(acts, ClearPlayback)
    assert t.decisions("turn")[-1].evidence["erl_db"] == 18.0


def test_the_policy_can_turn_learning_off():
    t = Timeline(Call("CA1", gates=OpenGatekeeper(), params=TurnParams(echo_learn=False)))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    long_answer(t)
    play_over(t, 1100, silence(level_db=-90))
    assert not kinds(t.windows(speech(p=0.95, level_db=-45), 2), ClearPlayback)


def test_once_a_pause_found_no_words_a_line_with_strong_echo_stops_pausing_on_it():
    # 12 dB echo clears the assumed floor: the first time it sounds like speech we stop.
    # That pause finds no words, so the line has shown its echo stops us: from then on
    # the learned return loss holds, and our own voice no longer pauses us.
    t = new()
    long_answer(t)
    echo = -20 - 12
    play_over(t, 800, speech(p=0.3, level_db=echo))
    assert kinds(t.windows(speech(p=0.95, level_db=echo), 2), ClearPlayback)
    t.windows(silence(), 5)
    t.at(FinalTranscript(text=""))  # nothing said
    resume = t.decisions("turn")[-1]
    assert resume.outcome == "resume" and resume.reason == "no_words"
    assert not kinds(t.windows(speech(p=0.95, level_db=echo), 10), ClearPlayback)
    assert t.call.state is State.SPEAKING
    acts = t.windows(speech(p=0.95, level_db=-12), 3)  # the caller, louder than that echo
    assert kinds(acts, ClearPlayback)
    assert t.decisions("turn")[-1].evidence["erl_db"] < 14


def test_a_backchannel_does_not_cost_a_clean_line_its_low_floor():
    t = new()
    long_answer(t)
    play_over(t, 1100, silence(level_db=-90))
    assert kinds(t.windows(speech(p=0.95, level_db=-19), 1), ClearPlayback)  # "yeah", loud
    t.windows(silence(level_db=-90), 4)
    t.at(FinalTranscript(text="yeah"))
    assert t.decisions("turn")[-1].reason == "backchannel"
    t.windows(silence(level_db=-90), 10)  # 320 ms: the backchannel's window is past the lag
    acts = t.windows(speech(p=0.95, level_db=-45), 2)
    assert kinds(acts, ClearPlayback)
    assert t.decisions("turn")[-1].evidence["erl_db"] == 45.0
