"""Barge-in timelines: stop fast, then confirm; the context keeps only what was heard."""

from __future__ import annotations

from turngate.core import Call, State
from turngate.core.actions import ClearPlayback, SendMark, StartModel, StartTranscription, Synthesize
from turngate.core.events import (
    CallStarted, FinalTranscript, MarkPlayed, ModelDone, ModelTextDelta, PartialTranscript,
    SpeechSynthesized, WordTime,
)
from turngate.core.playback import Playback
from turngate.testing import OpenGatekeeper, Timeline, silence, speech

from test_core_transitions import caller_turn, kinds

MS = 8
SENTENCE = "Your appointment is on Friday at nine in the morning at the Main Street branch."


def long_answer(t: Timeline) -> None:
    caller_turn(t, "when is my appointment")
    gen = kinds(t.actions, StartModel)[-1].generation
    t.at(ModelTextDelta(generation=gen, text=SENTENCE))
    t.at(ModelDone(generation=gen))
    synth = kinds(t.actions, Synthesize)[-1]
    ws = SENTENCE.split()
    words = tuple(WordTime(word=w, start_ms=i * 250, end_ms=i * 250 + 230) for i, w in enumerate(ws))
    t.at(SpeechSynthesized(generation=gen, segment=synth.segment, text=synth.text,
                           audio=b"\x7f" * (len(ws) * 250 * MS), words=words, level_db=-20.0))


def play(t: Timeline, ms: int) -> None:
    """Echo marks as Twilio would once ``ms`` of audio has played."""
    played = 0
    while played < ms:
        marks = [a for a in t.actions if isinstance(a, SendMark)]
        name = marks[played // 100].name
        t.at(MarkPlayed(name=name), 0.1)
        played += 100


def interject(t: Timeline, partial: str, final: str | None = None, windows: int = 8) -> list:
    """The caller makes a sound of ``windows`` x 32 ms over our playback; the recogniser
    says ``partial`` during it and ``final`` (default: the same) after it."""
    t.windows(speech(level_db=-15), windows)
    t.at(PartialTranscript(text=partial))
    t.windows(silence(), 5)
    return t.at(FinalTranscript(text=partial if final is None else final))


def new() -> Timeline:
    t = Timeline(Call("CA1", gates=OpenGatekeeper()))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    return t


def answering(heard_ms: int = 1000) -> Timeline:
    """A call playing the long answer, of which the caller has heard ``heard_ms``."""
    t = new()
    long_answer(t)
    play(t, heard_ms)
    return t


def caller(t: Timeline, windows: int) -> list:
    """``windows`` x 32 ms of the caller's voice, well over our echo."""
    return t.windows(speech(level_db=-15), windows)


def test_barge_in_during_playback_clears_at_once_and_truncates_to_heard_words():
    t = new()
    long_answer(t)
    play(t, 1000)  # the caller heard the first second: four words
    acts = t.windows(speech(level_db=-15), 2)
    assert kinds(acts, ClearPlayback), "clear must go out on the onset window itself"
    t.at(PartialTranscript(text="no wait that's wrong"))
    t.windows(speech(level_db=-15), 20)  # a long sound: the interrupt phrase decides at once
    t.at(PartialTranscript(text="no wait that's wrong"))
    assert t.call.state is State.CALLER_SPEAKING
    heard = " ".join(SENTENCE.split()[:4])
    assert t.call.context[-1] == {"role": "assistant", "content": heard}
    abandon = t.decisions("turn")[-1]
    assert abandon.outcome == "abandon" and abandon.evidence["heard_text"] == heard
    # Twilio echoes the pending marks after clear: accounted for, not counted as heard.
    pending = [a.name for a in t.actions if isinstance(a, SendMark)][10:]
    for name in pending:
        t.at(MarkPlayed(name=name))
    assert not [d for d in t.decisions("transport")]


def test_echo_of_our_own_playback_does_not_pause():
    t = new()
    long_answer(t)
    play(t, 500)
    acts = t.windows(speech(p=0.95, level_db=-20 - 18), 10)  # our level less the echo return loss
    assert not kinds(acts, ClearPlayback)
    assert t.call.state is State.SPEAKING


def test_backchannel_resumes_from_the_cut_with_a_short_overlap():
    t = new()
    long_answer(t)
    play(t, 1000)
    acts = interject(t, "uh huh", windows=10)
    assert t.call.state is State.SPEAKING
    first = kinds(acts, SendMark)[0].name
    # resumed 200 ms before the 1000 ms cut: the first chunk ends at 900 ms
    assert first.endswith(f":{(800 + 100) * MS}")
    resume = t.decisions("turn")[-1]
    assert resume.outcome == "resume" and resume.evidence["gap_ms"] < 600


def test_noise_without_words_resumes_after_the_confirm_window():
    t = new()
    long_answer(t)
    play(t, 300)
    t.windows(speech(p=0.8, level_db=-12), 3)
    assert t.call.state is State.PAUSED
    t.windows(speech(p=0.8, level_db=-12), 20)  # 640 ms more of babble, no words
    assert t.call.state is State.SPEAKING
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.reason, d.rule) == ("resume", "noise", "bargein.confirm_timeout")
    # the same continuing noise does not pause us again
    acts = t.windows(speech(p=0.8, level_db=-12), 20)
    assert not kinds(acts, ClearPlayback)


def test_a_caller_who_starts_with_um_is_not_talked_over():
    """At the confirm window the recogniser has only "um" of a sound still going: it may be
    "um, I want ...", so the call waits until the sound is longer than a backchannel."""
    t = answering(600)
    caller(t, 4)
    t.at(PartialTranscript(text="um"))
    caller(t, 14)                                # 576 ms of sound: past the 500 ms confirm window
    assert t.call.state is State.PAUSED
    t.at(PartialTranscript(text="um i want to"))
    caller(t, 12)                                # 960 ms: longer than a backchannel
    t.at(PartialTranscript(text="um i want to change my address"))
    assert t.call.state is State.CALLER_SPEAKING
    assert t.decisions("turn")[-1].reason == "new_request"


def test_a_backchannel_still_going_at_backchannel_length_resumes():
    """Only "yeah" from a sound that outlasts a backchannel: noise with a word in it, as
    before; the same continuing sound does not pause us again."""
    t = answering(600)
    caller(t, 4)
    t.at(PartialTranscript(text="yeah"))
    caller(t, 14)
    assert t.call.state is State.PAUSED
    caller(t, 10)                                # 896 ms, still only "yeah"
    assert t.call.state is State.SPEAKING
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.reason, d.rule) == ("resume", "noise", "bargein.confirm_timeout")
    assert not kinds(caller(t, 20), ClearPlayback)


def test_new_request_over_playback_abandons():
    t = new()
    long_answer(t)
    play(t, 600)
    t.windows(speech(level_db=-15), 6)
    t.at(PartialTranscript(text="can I book a different branch"))
    assert t.call.state is State.PAUSED, "words in a sound shorter than a backchannel do not abandon yet"
    t.windows(speech(level_db=-15), 18)  # the caller goes on: 768 ms of speech
    t.at(PartialTranscript(text="can I book a different branch please"))
    assert t.call.state is State.CALLER_SPEAKING
    assert t.decisions("turn")[-1].reason == "new_request"


def test_one_word_repeated_is_not_a_new_request():
    """Noise and echo under a weak recogniser come back as one word looped ("move move",
    seen in the noise_echo call; "moon moon", the bench's one false abandon)."""
    t = answering(600)
    caller(t, 10)
    t.at(PartialTranscript(text="move"))
    caller(t, 15)                                # 800 ms: long enough for a request, if it were one
    t.at(PartialTranscript(text="move move"))
    t.windows(silence(), 5)
    t.at(FinalTranscript(text="move move"))
    assert t.call.state is State.SPEAKING
    assert t.decisions("turn")[-1].outcome == "resume"


def test_misrecognised_short_backchannel_resumes_on_its_final():
    t = new()
    long_answer(t)
    play(t, 600)
    interject(t, "to a human")  # 256 ms of "yeah", as a weak recogniser hears it
    assert t.call.state is State.SPEAKING
    assert t.decisions("turn")[-1].outcome == "resume"


def test_playback_ledger_never_claims_more_than_the_marks_confirm():
    pb = Playback(generation=1, chunk_bytes=800, lead_bytes=4800)
    pb.add_segment(0, "one two three four", b"\0" * 8000, (), -20.0)
    pb.complete = True
    chunks = pb.pump()
    assert len(chunks) == 6  # 600 ms lead
    pb.on_mark(chunks[0].mark)
    pb.on_mark(chunks[1].mark)
    assert pb.heard_ms() == 200
    pb.pause()
    for c in chunks[2:]:
        assert pb.on_mark(c.mark)  # flushed echoes are ours but not heard
    assert pb.heard_ms() == 200
    assert pb.heard_text() == ""  # proportional estimate: 20% of 4 words is no whole word


def test_short_interrupt_word_heard_once_is_not_enough_but_heard_twice_is():
    t = new()
    long_answer(t)
    play(t, 600)
    interject(t, "the", "hang on")  # the recogniser's one-off guess at "mm-hmm"
    assert t.call.state is State.SPEAKING
    t.windows(silence(), 30)
    interject(t, "stop")
    assert t.decisions("turn")[-2].outcome == "abandon"
    assert t.call.state is State.THINKING  # the caller's "stop" is their turn


def test_a_final_that_lags_the_callers_next_word_does_not_resume_over_them():
    """"Stop, wait.": the comma ends the first sound, and under load its final ("stop",
    short and heard once) arrives after "wait" has begun. Resuming then would play over
    the caller with no new onset to pause us again (seen in CI)."""
    t = answering()
    caller(t, 10)                                # "stop," 320 ms: no partial in time
    t.windows(silence(), 3)                      # the comma: the sound ends, its final is asked for
    caller(t, 3)                                 # "wait" has begun ...
    acts = t.at(FinalTranscript(text="stop"))   # ... when the final arrives
    assert t.call.state is State.PAUSED
    assert not any(d.outcome == "resume" for d in t.decisions("turn"))
    assert kinds(acts, StartTranscription), "the next word needs an utterance of its own"
    caller(t, 10)
    t.at(PartialTranscript(text="wait"))
    abandon = t.decisions("turn")[-1]
    assert abandon.outcome == "abandon" and abandon.evidence["words"] == ["stop", "wait"]
    assert abandon.evidence["sound_ms"] >= 700  # both sounds count toward its length


def test_an_interruption_decided_on_its_final_keeps_the_words_the_caller_went_on_with():
    """"Actually, | I want a refund for my order.": the comma closes the first utterance and
    its final abandons the answer while the caller is already talking on. The rest must be
    transcribed into the same turn, not lost (seen under load: the turn was "actually")."""
    t = answering()
    caller(t, 10)
    t.at(PartialTranscript(text="actually"))     # short so far: an interrupt word waits for its final
    caller(t, 15)                                # "actually," 800 ms in all
    t.windows(silence(), 3)                      # the comma closes the utterance
    caller(t, 3)                                 # "I want ..." has begun
    acts = t.at(FinalTranscript(text="actually"))
    assert t.decisions("turn")[-1].outcome == "abandon"
    assert t.call.state is State.CALLER_SPEAKING
    assert kinds(acts, StartTranscription)
    caller(t, 20)
    t.at(PartialTranscript(text="i want a refund for my order"))
    t.windows(silence(), 20)
    assert t.call.state is State.THINKING
    t.at(FinalTranscript(text="i want a refund for my order"))
    assert t.call.context[-1] == {"role": "user", "content": "actually i want a refund for my order"}


def test_a_late_final_does_not_resume_over_a_caller_who_talks_again():
    t = answering()
    caller(t, 8)
    t.windows(silence(), 3)                      # the sound ends: its final is asked for ...
    caller(t, 40)                                # ... and the caller talks on for 1.3 s without it
    assert t.call.state is State.PAUSED
    t.windows(silence(), 25)                     # silent, and still no final: now it may resume
    assert t.call.state is State.SPEAKING
    assert t.decisions("turn")[-1].reason == "no_final"


def test_an_earlier_final_is_not_its_own_second_hearing():
    t = answering()
    caller(t, 4)
    t.windows(silence(), 3)
    caller(t, 2)
    t.at(FinalTranscript(text="stop"))           # one hearing of a 128 ms sound
    t.at(PartialTranscript(text="uh huh"))       # partial "stop uh huh": still one hearing
    t.windows(silence(), 5)
    t.at(FinalTranscript(text="uh huh"))
    assert t.call.state is State.SPEAKING
    assert t.decisions("turn")[-1].outcome == "resume"


def test_our_own_words_heard_back_are_not_an_interruption():
    t = new()
    long_answer(t)  # "... on Friday at nine in the morning ..."
    play(t, 1500)
    t.windows(speech(level_db=-15), 8)
    t.at(PartialTranscript(text="friday"))  # our echo, recognised
    t.windows(speech(level_db=-15), 22)
    t.at(PartialTranscript(text="friday morning"))
    assert t.call.state is State.PAUSED
    t.windows(silence(), 5)
    t.at(FinalTranscript(text="friday morning"))
    assert t.call.state is State.SPEAKING


def test_pauses_that_turn_out_to_be_noise_make_the_next_pause_harder():
    t = new()
    long_answer(t)
    play(t, 300)
    for expected_ms in (32, 64, 128):
        acts = t.windows(speech(p=0.8, level_db=-12), expected_ms // 32)
        assert kinds(acts, ClearPlayback), f"paused after {expected_ms} ms of sound"
        assert t.decisions("turn")[-1].evidence["start_ms"] == expected_ms
        t.windows(speech(p=0.8, level_db=-12), 16)  # no words: resumed as noise
        assert t.call.state is State.SPEAKING
        t.windows(silence(), 6)
    assert not kinds(t.windows(speech(p=0.8, level_db=-12), 7), ClearPlayback)  # 224 ms < 256 ms now


def test_noise_that_goes_on_after_a_misheard_word_does_not_hold_us_paused():
    t = answering()
    caller(t, 6)
    t.at(PartialTranscript(text="moon"))
    t.windows(silence(), 3)                      # a gap in the noise: the final is asked for
    caller(t, 3)                                 # the noise goes on
    t.at(FinalTranscript(text="moon"))           # one unclear word: not a request, yet sound goes on
    assert t.call.state is State.PAUSED
    caller(t, 20)                                # no new words in 640 ms of it
    assert t.call.state is State.SPEAKING
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.reason) == ("resume", "noise")


def test_noise_that_goes_on_after_a_misheard_word_is_not_sustained_speech():
    t = answering()
    caller(t, 10)
    t.at(PartialTranscript(text="moon"))
    caller(t, 15)                                # 800 ms of noise heard as one unclear word
    t.windows(silence(), 3)
    caller(t, 3)
    t.at(FinalTranscript(text="moon"))
    caller(t, 20)                                # past abandon_speech_ms in all, no new words
    assert not [d for d in t.decisions("turn") if d.outcome == "abandon"]
    assert t.decisions("turn")[-1].reason == "noise"


def test_sustained_speech_whose_own_words_come_with_its_final_abandons():
    """1.3 s of the caller's voice over our echo: the partials hold only our own words, the
    final adds one of the caller's. It decides as the timer's sustained-speech rule would
    have (bench/bargein.py: a read sentence under noise and echo was played over)."""
    t = answering()
    caller(t, 6)
    t.at(PartialTranscript(text="appointment friday"))  # our echo, as the recogniser hears it
    caller(t, 35)                                # 1.3 s in all
    t.windows(silence(), 3)
    t.at(FinalTranscript(text="appointment friday had"))
    d = [d for d in t.decisions("turn") if d.outcome in ("abandon", "resume")][-1]
    assert (d.outcome, d.reason, d.rule) == ("abandon", "sustained_speech", "bargein.sustained_speech")
    assert d.evidence["words"] == ["had"]
    assert t.call.state is State.THINKING         # the caller fell silent: their turn is answered


def test_a_line_whose_own_sound_keeps_pausing_us_gets_an_echo_canceller_once():
    from turngate.core.actions import StartEchoCanceller

    t = answering(1000)
    # Our echo, misheard by the recogniser as short words, pauses us again and again.
    for said in ("bye", "um"):
        acts = interject(t, said, windows=10)
        assert t.call.state is State.SPEAKING and not kinds(acts, StartEchoCanceller)
        play(t, 600)
    acts = interject(t, "i", windows=10)
    assert t.call.state is State.SPEAKING
    assert len(kinds(acts, StartEchoCanceller)) == 1, "the third pause in a row that played on"
    d = t.decisions("turn")[-1]
    assert (d.outcome, d.reason, d.rule) == ("echo_canceller", "repeated_false_pauses", "bargein.echo_canceller")
    play(t, 600)
    acts = interject(t, "bye", windows=10)
    assert not kinds(acts, StartEchoCanceller), "once per call"


def test_two_backchannels_start_no_canceller():
    from turngate.core.actions import StartEchoCanceller

    t = answering(1000)
    interject(t, "uh huh", windows=10)
    play(t, 600)
    interject(t, "yeah", windows=10)
    assert t.call.state is State.SPEAKING
    assert not kinds(t.actions, StartEchoCanceller)


def test_false_pauses_far_apart_start_no_canceller():
    from turngate.core.actions import StartEchoCanceller

    t = answering(1000)
    for said in ("bye", "um", "i"):
        interject(t, said, windows=10)
        t.windows(silence(), 200)  # 6.4 s later
    assert not kinds(t.actions, StartEchoCanceller)
