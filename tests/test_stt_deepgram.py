"""Deepgram live STT adapter against the protocol-faithful local server, over real loopback sockets."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from turngate.testing.fakes.deepgram_server import Behaviour, DeepgramServer, Utterance, tone
from turngate.speech.cloud import CloudError
from turngate.speech.deepgram_stt import DeepgramStt
from turngate.speech.stt import SttEngine, SttStream

KEY = "dg-test-key-123456"
FRAME = 160  # 20 ms at 8 kHz


@pytest.fixture
def fake() -> Iterator[tuple[DeepgramServer, str]]:
    server = DeepgramServer(api_key=KEY)
    with server.running() as url:
        yield server, url


def frames(ms: int) -> list[np.ndarray]:
    pcm = tone(ms)
    return [pcm[i:i + FRAME] for i in range(0, len(pcm), FRAME)]


def speak(stream: SttStream, ms: int) -> list:
    partials = []
    for f in frames(ms):
        partials += stream.feed(f)
    return partials


def test_is_an_stt_engine_and_new_stream_does_no_io(fake):
    server, url = fake
    engine = DeepgramStt(KEY, base_url=url)
    stream = engine.new_stream()
    assert isinstance(engine, SttEngine) and isinstance(stream, SttStream)
    assert server.opened() == []
    stream.close()


def test_query_asks_for_mulaw_8k_interim_results_and_no_deepgram_endpointing(fake):
    server, url = fake
    server.add(Utterance(final="hello"))
    stream = DeepgramStt(KEY, base_url=url, model="nova-3", keyterms=("Acme Bank", "refund")).new_stream()
    stream.start_utterance()
    speak(stream, 200)
    stream.end_utterance()
    opened = server.opened()[0]
    q = opened["query"]
    assert (q["encoding"], q["sample_rate"], q["channels"]) == ("mulaw", "8000", "1")
    assert (q["interim_results"], q["endpointing"], q["model"]) == ("true", "false", "nova-3")
    assert "utterance_end_ms" not in q and "vad_events" not in q
    assert [v for k, v in opened["query_items"] if k == "keyterm"] == ["Acme Bank", "refund"]
    assert opened["headers"]["authorization"] == f"Token {KEY}"
    # mu-law: one byte a sample, every sample sent
    assert server.audio_bytes() == len(tone(200))


def test_partials_then_final_with_deepgram_confidence_and_word_times(fake):
    server, url = fake
    server.add(Utterance(partials=("I want", "I want to pay"), final="I want to pay my bill.", confidence=0.87,
                         bytes_per_partial=1600))
    stream = DeepgramStt(KEY, base_url=url).new_stream()
    stream.start_utterance()
    partials = speak(stream, 1000)
    # feed returns the results already received and never waits for more: once the
    # server has sent both partials, poll as the shell's next frames would.
    server.received.wait_for(lambda items: sum(1 for k, m in items if k == "listen-sent") == 2)
    for _ in range(5000):
        if len(partials) == 2:
            break
        partials += stream.feed(np.zeros(0, np.int16))
        time.sleep(0.001)  # the next frame's arrival, not a condition
    final = stream.end_utterance()
    assert [p.text for p in partials] == ["I want", "I want to pay"]
    assert all(not p.is_final for p in partials)
    assert partials[0].confidence == pytest.approx(0.87 * 0.8)  # the interim result's own confidence
    assert final.is_final and final.text == "I want to pay my bill."
    assert final.confidence == pytest.approx(0.87)
    assert [w.word for w in final.words] == ["I", "want", "to", "pay", "my", "bill."]
    assert final.words[0].start_ms == 0 and final.words[-1].end_ms == 1000
    assert final.audio_ms == 1000
    assert server.texts() == [{"type": "CloseStream"}]


def test_final_joins_every_settled_segment(fake):
    server, url = fake
    server.add(Utterance(final=("I lost my card", "and I need a new one"), confidence=0.5))
    stream = DeepgramStt(KEY, base_url=url).new_stream()
    stream.start_utterance()
    speak(stream, 400)
    assert stream.end_utterance().text == "I lost my card and I need a new one"


def test_each_utterance_has_its_own_socket_and_times_start_at_zero(fake):
    server, url = fake
    server.add(Utterance(final="first turn"), Utterance(final="second turn"))
    stream = DeepgramStt(KEY, base_url=url).new_stream()
    stream.start_utterance()
    speak(stream, 300)
    assert stream.end_utterance().text == "first turn"
    stream.start_utterance()
    speak(stream, 500)
    second = stream.end_utterance()
    assert second.text == "second turn" and second.words[0].start_ms == 0 and second.audio_ms == 500
    assert len(server.opened()) == 2
    stream.close()


def test_utterance_without_audio_sends_nothing_and_is_empty(fake):
    server, url = fake
    stream = DeepgramStt(KEY, base_url=url).new_stream()
    stream.start_utterance()
    final = stream.end_utterance()
    assert (final.text, final.is_final, final.confidence) == ("", True, None)
    assert server.texts() == []


def test_a_slow_server_still_gives_the_final(fake):
    server, url = fake
    server.listen = Behaviour(delay_s=0.01)
    server.add(Utterance(partials=("slow",), final="slow but sure", bytes_per_partial=800))
    stream = DeepgramStt(KEY, base_url=url).new_stream()
    stream.start_utterance()
    speak(stream, 300)
    assert stream.end_utterance().text == "slow but sure"


def test_stall_before_first_result_is_a_timeout_error(fake):
    server, url = fake
    server.listen = Behaviour(stall=True)
    server.add(Utterance(partials=("never",), final="never said"))
    stream = DeepgramStt(KEY, base_url=url, final_timeout_s=0.2).new_stream()
    stream.start_utterance()
    assert speak(stream, 500) == []
    with pytest.raises(CloudError) as err:
        stream.end_utterance()
    assert err.value.kind == "timeout" and "CloseStream" in str(err.value)
    # the stream recovers at the next utterance
    server.listen = Behaviour()
    server.add(Utterance(final="back again"))
    stream.start_utterance()
    speak(stream, 200)
    assert stream.end_utterance().text == "back again"


def test_disconnect_mid_utterance_is_a_clear_error(fake):
    server, url = fake
    server.listen = Behaviour(disconnect_after_bytes=800, close_code=1011, close_reason="internal")
    server.add(Utterance(final="cut off"))
    stream = DeepgramStt(KEY, base_url=url).new_stream()
    stream.start_utterance()
    with pytest.raises(CloudError) as err:
        speak(stream, 2000)
        stream.end_utterance()
    assert err.value.kind == "server_error" and err.value.status == 1011
    assert "mid-utterance" in str(err.value)


def test_net_close_code_reads_as_timeout(fake):
    server, url = fake
    server.listen = Behaviour(disconnect_after_bytes=1, close_code=1011, close_reason="NET-0001")
    stream = DeepgramStt(KEY, base_url=url).new_stream()
    stream.start_utterance()
    with pytest.raises(CloudError) as err:
        speak(stream, 200)
        stream.end_utterance()
    assert err.value.kind == "timeout"


@pytest.mark.parametrize("status,kind", [(401, "config"), (429, "rate_limited"), (503, "server_error")])
def test_refused_handshake_maps_to_a_kind_and_hides_the_key(fake, status, kind):
    server, url = fake
    server.listen = Behaviour(reject_status=status)
    stream = DeepgramStt(KEY, base_url=url).new_stream()
    with pytest.raises(CloudError) as err:
        stream.start_utterance()
    assert err.value.kind == kind and err.value.status == status
    assert KEY not in str(err.value) and KEY not in repr(err.value.args)


def test_wrong_key_is_a_config_error(fake):
    _, url = fake
    with pytest.raises(CloudError) as err:
        DeepgramStt("not-the-key", base_url=url).new_stream().start_utterance()
    assert err.value.kind == "config" and "not-the-key" not in str(err.value)


def test_nothing_listening_is_a_disconnect():
    from turngate.demo import free_port
    stream = DeepgramStt(KEY, base_url=f"http://127.0.0.1:{free_port()}").new_stream()
    with pytest.raises(CloudError) as err:
        stream.start_utterance()
    assert err.value.kind == "disconnect"


def test_a_handshake_that_never_completes_is_a_timeout():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:  # accepts TCP, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(CloudError) as err:
            DeepgramStt(KEY, base_url=url, connect_timeout_s=0.2).new_stream().start_utterance()
    assert err.value.kind == "timeout"


def test_start_utterance_discards_an_unfinished_one(fake):
    server, url = fake
    server.add(Utterance(final="abandoned"), Utterance(final="kept"))
    stream = DeepgramStt(KEY, base_url=url).new_stream()
    stream.start_utterance()
    speak(stream, 200)
    stream.start_utterance()
    speak(stream, 200)
    assert stream.end_utterance().text == "kept"
