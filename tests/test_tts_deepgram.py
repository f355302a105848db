"""Deepgram Aura TTS adapter against the local server over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from turngate.testing.fakes.deepgram_server import Behaviour, DeepgramServer
from turngate.speech.cloud import CloudError
from turngate.speech.deepgram_tts import DeepgramTts, estimate_word_times
from turngate.speech.tts import TtsEngine

KEY = "dg-tts-key-987654"
TEXT = "Your appointment is moved to Tuesday at three."


@pytest.fixture
def fake() -> Iterator[tuple[DeepgramServer, str]]:
    server = DeepgramServer(api_key=KEY)
    with server.running() as url:
        yield server, url


def test_happy_path_asks_for_raw_8k_mulaw_and_estimates_word_times(fake):
    server, url = fake
    tts = DeepgramTts(KEY, base_url=url, model="aura-2-thalia-en")
    assert isinstance(tts, TtsEngine)
    syn = tts.synthesize(TEXT)
    req = server.speak_requests()[0]
    assert req["query"] == {"model": "aura-2-thalia-en", "encoding": "mulaw", "sample_rate": "8000",
                            "container": "none"}
    assert req["json"] == {"text": TEXT}
    assert req["headers"]["authorization"] == f"Token {KEY}"
    assert syn.sample_rate == 8000 and syn.duration_ms == len(TEXT) * 60  # the fake's 60 ms a character
    assert syn.audio[:4] != b"RIFF"
    assert syn.words_estimated
    assert [w.word for w in syn.words] == ["Your", "appointment", "is", "moved", "to", "Tuesday", "at", "three"]
    # the words cover the tone, not the silence around it (40 ms each side in the fake)
    assert syn.words[0].start_ms == 40 and syn.words[-1].end_ms == syn.duration_ms - 40
    assert all(a.end_ms == b.start_ms for a, b in zip(syn.words, syn.words[1:]))
    tts.close()


def test_a_wav_answer_is_unwrapped(fake):
    server, url = fake
    tts = DeepgramTts(KEY, base_url=url)
    tts.params = {**tts.params, "container": "wav"}
    syn = tts.synthesize("Hello there.")
    assert syn.audio[:4] != b"RIFF" and syn.duration_ms == len("Hello there.") * 60


def test_empty_text_makes_no_request(fake):
    server, url = fake
    assert DeepgramTts(KEY, base_url=url).synthesize("  ").audio == b""
    assert server.speak_requests() == []


@pytest.mark.parametrize("status,kind", [(429, "rate_limited"), (500, "server_error"), (503, "server_error"),
                                         (400, "error")])
def test_error_statuses_map_to_kinds(fake, status, kind):
    server, url = fake
    server.speak = Behaviour(reject_status=status)
    with pytest.raises(CloudError) as err:
        DeepgramTts(KEY, base_url=url).synthesize(TEXT)
    assert err.value.kind == kind and err.value.status == status
    assert KEY not in str(err.value)


def test_wrong_key_is_config(fake):
    _, url = fake
    with pytest.raises(CloudError) as err:
        DeepgramTts("wrong-key-000", base_url=url).synthesize(TEXT)
    assert err.value.kind == "config" and "wrong-key-000" not in str(err.value)


def test_a_stalled_answer_times_out(fake):
    server, url = fake
    server.speak = Behaviour(stall=True)
    with pytest.raises(CloudError) as err:
        DeepgramTts(KEY, base_url=url, timeout_s=0.2).synthesize(TEXT)
    assert err.value.kind == "timeout"


def test_a_slow_answer_arrives_whole(fake):
    server, url = fake
    server.speak = Behaviour(delay_s=0.01)
    syn = DeepgramTts(KEY, base_url=url).synthesize(TEXT)
    assert syn.duration_ms == len(TEXT) * 60


def test_a_body_cut_half_way_is_a_disconnect(fake):
    server, url = fake
    server.speak = Behaviour(disconnect_after_bytes=1)
    with pytest.raises(CloudError) as err:
        DeepgramTts(KEY, base_url=url).synthesize(TEXT)
    assert err.value.kind == "disconnect"


def test_nothing_listening_is_a_disconnect():
    from turngate.demo import free_port
    with pytest.raises(CloudError) as err:
        DeepgramTts(KEY, base_url=f"http://127.0.0.1:{free_port()}").synthesize(TEXT)
    assert err.value.kind == "disconnect"


def test_word_time_estimate_without_speech_spreads_over_the_audio():
    words, estimated = estimate_word_times("one two", b"\xff" * 800)  # mu-law silence, 100 ms
    assert estimated and [(w.start_ms, w.end_ms) for w in words] == [(0, 50), (50, 100)]
