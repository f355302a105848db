"""Embedded STT end to end: flite speech -> 8 kHz mu-law -> pocketsphinx with the domain LM."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from turngate.audio import mulaw
from turngate.speech.stt import SttEngine, SttStream

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed"),
]

ROOT = Path(__file__).resolve().parents[1]
PHRASES = (
    "I want to change my appointment", "I need to reschedule my appointment", "I want to pay my bill",
    "I want a refund", "I want to make a complaint", "please cancel my account",
    "what are your opening hours", "I want to talk to a person",
)


@pytest.fixture(scope="module")
def engine():
    from turngate.speech.pocketsphinx_stt import PocketsphinxEngine

    eng = PocketsphinxEngine(PHRASES)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def tts():
    from turngate.speech.flite_tts import FliteTts

    return FliteTts("slt")  # the caller simulator's kind of voice; the agent speaks kal


def _phone_audio(tts, text: str) -> np.ndarray:
    pad = np.zeros(2400, dtype=np.int16)  # 300 ms line silence each side
    return np.concatenate([pad, mulaw.decode(tts.synthesize(text).audio), pad])


def _run(stream: SttStream, pcm: np.ndarray):
    stream.start_utterance()
    partials = []
    for i in range(0, len(pcm), 160):  # 20 ms frames, as Twilio sends them
        partials += stream.feed(pcm[i:i + 160])
    return partials, stream.end_utterance()


def test_in_domain_sentence_is_recognised_through_the_phone_path(engine, tts) -> None:
    assert isinstance(engine, SttEngine)
    stream = engine.new_stream()
    assert isinstance(stream, SttStream)
    _, final = _run(stream, _phone_audio(tts, "I want to change my appointment."))
    stream.close()
    assert final.is_final
    assert final.text == "i want to change my appointment"
    assert final.confidence > 0.5  # a short utterance: both decoding passes, the lattice's posterior
    assert [w.word for w in final.words] == final.text.split()


def test_a_long_utterance_gets_the_streaming_hypothesis_at_once_and_settles_after(engine, tts) -> None:
    pcm = np.concatenate([_phone_audio(tts, "I want to change my appointment.")] * 3)
    assert len(pcm) // 8 > engine.rescore_under_ms
    stream = engine.new_stream()
    partials, final = _run(stream, pcm)
    assert final.is_final and final.text == partials[-1].text  # what the partials showed, no re-decode
    assert final.confidence is None and "appointment" in final.text
    stream.settle()  # the deferred passes; the stream goes on with the next utterance
    _, again = _run(stream, _phone_audio(tts, "I want a refund."))
    assert "refund" in again.text and again.confidence > 0.5
    stream.close()


def test_partials_grow_before_the_final_at_most_every_interval(engine, tts) -> None:
    stream = engine.new_stream()
    pcm = _phone_audio(tts, "Can I move my appointment to the afternoon?")
    partials, final = _run(stream, pcm)
    stream.close()
    assert len(partials) >= 3
    assert all(p.text and not p.is_final for p in partials)
    times = [p.audio_ms for p in partials]
    assert times == sorted(times) and times[-1] <= len(pcm) // 8
    assert min(b - a for a, b in zip(times, times[1:])) >= engine.partial_interval_ms
    assert partials[0].audio_ms < final.audio_ms
    assert "appointment" in final.text


def test_final_word_times_are_monotonic_and_inside_the_utterance(engine, tts) -> None:
    stream = engine.new_stream()
    pcm = _phone_audio(tts, "I want to pay my bill.")
    _, final = _run(stream, pcm)
    stream.close()
    assert final.words
    assert final.words[0].start_ms >= 200  # after the 300 ms of leading silence, give or take a frame
    for prev, cur in zip(final.words, final.words[1:]):
        assert prev.start_ms < prev.end_ms <= cur.start_ms < cur.end_ms
    assert final.words[-1].end_ms <= final.audio_ms


def test_two_calls_decode_independently_when_interleaved(engine, tts) -> None:
    a, b = engine.new_stream(), engine.new_stream()
    pa = _phone_audio(tts, "I want a refund.")
    pb = _phone_audio(tts, "What are your opening hours?")
    a.start_utterance()
    b.start_utterance()
    for i in range(0, max(len(pa), len(pb)), 160):
        a.feed(pa[i:i + 160])
        b.feed(pb[i:i + 160])
    fa, fb = a.end_utterance(), b.end_utterance()
    a.close()
    b.close()
    assert "refund" in fa.text and "refund" not in fb.text
    assert "hours" in fb.text and "hours" not in fa.text


def test_line_silence_gives_no_partials_and_an_empty_final(engine) -> None:
    stream = engine.new_stream()
    rng = np.random.default_rng(7)
    hiss = mulaw.decode(mulaw.encode(rng.normal(0, 30, 16000).astype(np.int16)))  # 2 s at -60 dBFS
    partials, final = _run(stream, hiss)
    stream.close()
    assert partials == []
    assert final.text == "" and final.confidence is None


def test_stream_without_an_utterance_and_after_close(engine) -> None:
    stream = engine.new_stream()
    final = stream.end_utterance()
    assert final.is_final and final.text == ""
    stream.close()
    stream.close()  # idempotent
    with pytest.raises(RuntimeError):
        stream.feed(np.zeros(160, dtype=np.int16))
