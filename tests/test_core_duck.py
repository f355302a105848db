"""Ducking an unconfirmed barge-in (``duck_after_ms``): the clear still goes out on the
onset window; a pause not yet decided after ``duck_after_ms`` goes on from the cut at
``duck_db`` lower; a backchannel then restores the level without rewinding, and a real
interruption is stopped by a second clear. Fake clock; times from the parameters."""

from __future__ import annotations

from turngate.core import Call, State
from turngate.core.actions import ClearPlayback, SendAudio, SendMark
from turngate.core.events import CallStarted, FinalTranscript, MarkPlayed, PartialTranscript
from turngate.core.params import TurnParams
from turngate.audio.mulaw import gain_table
from turngate.core.playback import BYTES_PER_MS
from turngate.testing import OpenGatekeeper, Timeline, silence, speech

from test_core_bargein import long_answer, play
from test_core_transitions import kinds

P = TurnParams(duck_after_ms=150, duck_db=15.0, duck_lead_ms=200)


def answering(params: TurnParams = P) -> Timeline:
    t = Timeline(Call("CA1", gates=OpenGatekeeper(), params=params))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    long_answer(t)
    pb = t.call.gen.playback
    pb.audio[:] = (bytes(range(256)) * (len(pb.audio) // 256 + 1))[:len(pb.audio)]  # not silence: a gain shows
    play(t, 1000)
    return t


def sound_until_ducked(t: Timeline) -> tuple[list, list]:
    """The caller's sound: the onset's actions, then those up to the duck."""
    onset = t.windows(speech(level_db=-15), 1)
    later = []
    while t.call.pause is not None and t.call.pause.duck_due is not None:
        later += t.windows(speech(level_db=-15), 1)
    return onset, later


def test_the_clear_still_goes_out_at_once_and_the_answer_goes_on_lowered_from_the_cut():
    t = answering()
    cut = t.call.gen.playback.played
    onset, later = sound_until_ducked(t)
    assert kinds(onset, ClearPlayback) and not kinds(onset, SendAudio)
    ducked = kinds(later, SendAudio)
    assert ducked, "an unconfirmed pause goes on, lowered"
    full = bytes(t.call.gen.playback.audio[cut:cut + len(ducked[0].payload)])
    assert ducked[0].payload == full.translate(gain_table(P.duck_db)) != full
    assert sum(len(a.payload) for a in ducked) <= P.duck_lead_ms * BYTES_PER_MS  # the shorter lead
    duck = next(d for d in t.decisions("turn") if d.outcome == "duck")
    assert duck.evidence["gap_ms"] >= P.duck_after_ms and duck.evidence["from_ms"] == cut // BYTES_PER_MS
    assert t.call.state is State.PAUSED  # the evidence still decides


def test_a_backchannel_restores_the_level_without_rewinding():
    t = answering()
    sound_until_ducked(t)
    sent = t.call.gen.playback.sent
    t.at(PartialTranscript(text="uh huh"))
    t.windows(silence(), 5)
    acts = t.at(FinalTranscript(text="uh huh"))
    resume = t.decisions("turn")[-1]
    assert (resume.outcome, resume.evidence.get("ducked")) == ("resume", True)
    assert t.call.state is State.SPEAKING and not kinds(acts, ClearPlayback)
    pb = t.call.gen.playback
    assert pb.sent >= sent  # no rewind: the caller heard the ducked words
    # Marks keep the answer flowing, at full level again.
    marks = [a for a in t.actions if isinstance(a, SendMark)]
    before = pb.sent
    later = t.at(MarkPlayed(name=marks[-1].name), 0.2)
    chunks = kinds(later, SendAudio)
    assert chunks and b"".join(c.payload for c in chunks) == bytes(pb.audio[before:pb.sent])


def test_a_real_interruption_is_stopped_by_a_second_clear():
    t = answering()
    sound_until_ducked(t)
    t.at(PartialTranscript(text="no wait that is wrong"))
    acts = t.windows(speech(level_db=-15), 20)
    acts += t.at(PartialTranscript(text="no wait that is wrong"))
    assert t.call.state is State.CALLER_SPEAKING
    assert [c.reason for c in kinds(acts, ClearPlayback)]  # the ducked audio is cleared
    assert t.call.context[-1]["role"] == "assistant"


def test_without_duck_after_ms_a_pause_stays_silent():
    t = answering(TurnParams())
    t.windows(speech(level_db=-15), 1)
    acts = t.windows(speech(level_db=-15), 10)
    assert not kinds(acts, SendAudio)
    assert not any(d.outcome == "duck" for d in t.decisions("turn"))


def test_a_louder_voice_over_the_ducked_answer_clears_it_at_once_and_the_duck_starts_over():
    # A quiet sound (a breath) paused us; the caller's voice comes after the duck.
    t = answering()
    t.windows(speech(level_db=-35), 1)
    while t.call.pause is not None and t.call.pause.duck_due is not None:
        t.windows(speech(level_db=-35), 1)
    assert t.call.gen.playback.ducked
    acts = t.windows(speech(level_db=-35 + P.duck_rise_db + 1), 1)
    assert [c.reason for c in kinds(acts, ClearPlayback)] == ["louder_sound"]
    hush = t.decisions("turn")[-1]
    assert (hush.outcome, hush.reason) == ("hush", "louder_sound")
    assert not t.call.gen.playback.ducked and t.call.state is State.PAUSED
    assert t.call.pause.duck_due is not None  # unconfirmed again: it may duck again


def test_a_voice_as_loud_as_the_one_we_ducked_for_keeps_the_duck():
    t = answering()
    sound_until_ducked(t)
    acts = t.windows(speech(level_db=-15 + P.duck_rise_db - 1), 3)
    assert not kinds(acts, ClearPlayback) and t.call.gen.playback.ducked


def test_a_ducked_sound_that_lasts_past_backchannel_max_ms_is_cleared_again():
    t = answering()
    sound_until_ducked(t)
    t.at(PartialTranscript(text="well"))  # a word, not yet a request: the pause stays undecided
    acts = []
    for _ in range(P.backchannel_max_ms // 32 + 2):
        acts += t.windows(speech(level_db=-15), 1)
        if kinds(acts, ClearPlayback):
            break
    hush = t.decisions("turn")[-1]
    assert (hush.outcome, hush.reason) == ("hush", "longer_than_backchannel")
    assert hush.evidence["sound_ms"] >= P.backchannel_max_ms
