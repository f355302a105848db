"""STT in worker processes: same results as in-process, errors surface as ProviderError."""

from __future__ import annotations

import functools
import shutil

import numpy as np
import pytest

from turngate.audio import mulaw
from turngate.errors import ProviderError
from turngate.speech.process_stt import ProcessSttEngine
from turngate.speech.stt import SttEngine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed"),
]

PHRASES = ("I want to change my appointment", "I want a refund", "what are your opening hours")


def _factory():
    from turngate.speech.pocketsphinx_stt import PocketsphinxEngine

    return functools.partial(PocketsphinxEngine, PHRASES)


def _decode(engine: SttEngine, pcm: np.ndarray):
    stream = engine.new_stream()
    stream.start_utterance()
    partials = []
    for i in range(0, len(pcm), 160):
        partials += stream.feed(pcm[i:i + 160])
    final = stream.end_utterance()
    stream.close()
    return partials, final


def test_worker_process_gives_the_same_partials_and_final_as_in_process() -> None:
    from turngate.speech.flite_tts import FliteTts

    pcm = mulaw.decode(FliteTts("slt").synthesize("I want to change my appointment.").audio)
    local = _factory()()
    remote = ProcessSttEngine(_factory(), workers=2)
    try:
        assert isinstance(remote, SttEngine)
        expected = _decode(local, pcm)
        assert _decode(remote, pcm) == expected
        assert _decode(remote, pcm) == expected  # the second worker, or the reused decoder
        assert "appointment" in expected[1].text
    finally:
        remote.close()
        local.close()


def _broken_factory():
    raise ValueError("no model here")


def test_an_engine_that_cannot_start_is_a_provider_error() -> None:
    with pytest.raises(ProviderError):
        ProcessSttEngine(_broken_factory)


def test_closed_proxy_stream_refuses_audio() -> None:
    remote = ProcessSttEngine(_factory())
    try:
        stream = remote.new_stream()
        stream.close()
        stream.close()
        with pytest.raises(RuntimeError):
            stream.feed(np.zeros(160, dtype=np.int16))
    finally:
        remote.close()
