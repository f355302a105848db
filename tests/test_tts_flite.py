"""flite TTS: phone-ready audio, word times, sentence splitting."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from turngate.audio import mulaw
from turngate.core.events import WordTime
from turngate.errors import ConfigError
from turngate.speech.flite_tts import FliteTts, _word_times
from turngate.speech.tts import Synthesis, TtsEngine, split_sentences

needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")


@needs_flite
@pytest.mark.parametrize("voice", ["kal", "slt"])
def test_synthesis_is_8khz_mulaw_of_plausible_duration(voice: str) -> None:
    tts = FliteTts(voice)
    assert isinstance(tts, TtsEngine)
    syn = tts.synthesize("I want to change my appointment.")
    assert syn.sample_rate == 8000
    pcm = mulaw.decode(syn.audio)
    assert len(pcm) == len(syn.audio)  # one byte per sample: mu-law, not PCM16
    # Six words of ordinary speech: between one and four seconds, and not silence.
    assert 1000 <= syn.duration_ms <= 4000
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 300


@needs_flite
@pytest.mark.parametrize("voice", ["kal", "slt"])
def test_word_times_are_measured_monotonic_and_inside_the_audio(voice: str) -> None:
    text = "Your appointment is moved to 3:30 on Tuesday, Dr. Smith. Anything else?"
    syn = FliteTts(voice).synthesize(text)
    assert not syn.words_estimated
    assert [w.word for w in syn.words] == [
        "Your", "appointment", "is", "moved", "to", "3:30", "on", "Tuesday", "Dr", "Smith", "Anything", "else"]
    for prev, cur in zip(syn.words, syn.words[1:]):
        assert prev.start_ms < prev.end_ms <= cur.start_ms < cur.end_ms
    assert syn.words[-1].end_ms <= syn.duration_ms + 250  # flite's last segment may be trimmed pause
    # "3:30" is "three thirty": much longer than "is".
    by = {w.word: w.end_ms - w.start_ms for w in syn.words}
    assert by["3:30"] > 2 * by["is"]


@needs_flite
def test_empty_or_punctuation_only_text_gives_no_audio() -> None:
    assert FliteTts().synthesize("  ").audio == b""
    assert FliteTts().synthesize(" ... ").words == ()


def test_unknown_voice_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError):
        FliteTts("hal9000")


def test_word_times_fall_back_to_estimate_when_phone_counts_disagree() -> None:
    segments = [("pau", 200), ("h", 260), ("ay", 400), ("th", 480), ("eh", 600), ("r", 650), ("pau", 900)]
    words, estimated = _word_times(["Hi", "there"], segments, counts=[2, 2], total_ms=900)
    assert estimated
    assert words[0].start_ms == 200 and words[-1].end_ms == 650
    assert words[0].end_ms == words[1].start_ms


def test_word_times_split_phones_by_token_counts() -> None:
    segments = [("pau", 200), ("h", 260), ("ay", 400), ("pau", 500), ("th", 580), ("eh", 700), ("r", 750)]
    words, estimated = _word_times(["Hi,", "there"], segments, counts=[2, 3], total_ms=800)
    assert not estimated
    assert words == (WordTime(word="Hi", start_ms=200, end_ms=400), WordTime(word="there", start_ms=500, end_ms=750))


def test_synthesis_duration_counts_mulaw_bytes() -> None:
    assert Synthesis(text="x", audio=bytes(8000)).duration_ms == 1000


@pytest.mark.parametrize(("text", "expected"), [
    ("Hello. How can I help?", ["Hello.", "How can I help?"]),
    ("Dr. Smith sees you at 3.30 p.m. on Monday! Is that OK?",
     ["Dr. Smith sees you at 3.30 p.m. on Monday!", "Is that OK?"]),
    ('He said "stop." Then he left', ['He said "stop."', "Then he left"]),
    ("No final punctuation", ["No final punctuation"]),
    ("Wait... what?!  Really.", ["Wait...", "what?!", "Really."]),
    ("", []),
    ("   ", []),
])
def test_split_sentences_keeps_punctuation_and_skips_abbreviations(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@needs_flite
def test_tokens_read_as_several_phrases_still_get_measured_times() -> None:
    # flite pauses inside a phone number: the per-token phone count needs a run of its own.
    syn = FliteTts("kal").synthesize("Call 0800-123-4567 or e-mail help@example.com.")
    assert not syn.words_estimated
    assert [w.word for w in syn.words] == ["Call", "0800-123-4567", "or", "e-mail", "help@example.com"]
    number = syn.words[1]
    assert number.end_ms - number.start_ms > 2000  # eleven digits take seconds, not a word's share
    for prev, cur in zip(syn.words, syn.words[1:]):
        assert prev.end_ms <= cur.start_ms


@needs_flite
def test_known_tokens_need_no_second_flite_run_and_get_the_same_times(monkeypatch) -> None:
    import subprocess

    runs: list[list[str]] = []
    real = subprocess.Popen

    def counting(args, *a, **kw):
        runs.append(list(args))
        return real(args, *a, **kw)

    tts = FliteTts("kal")
    monkeypatch.setattr("turngate.speech.flite_tts.subprocess.Popen", counting)
    first = tts.synthesize("Your balance is ready, and your card 0800-123-4567 is active.")
    n_first = len(runs)
    again = tts.synthesize("Your balance is ready, and your card 0800-123-4567 is active.")
    assert len(runs) - n_first == 1, "only the audio run: every token's phone count is known"
    assert again.words == first.words and not again.words_estimated
    mixed = tts.synthesize("Your card is blocked.")
    assert [w.word for w in mixed.words] == ["Your", "card", "is", "blocked"]
    assert "-ps" in runs[-1] and runs[-1][runs[-1].index("-t") + 1] == "blocked..", "only the new token is counted"
