"""The recogniser hears the caller's audio as int16 samples, in order, whatever batching the
shell does (frames queue as mu-law and are decoded in the STT worker's thread)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import numpy as np

from server_harness import make_providers, running_server
from turngate.audio import mulaw
from turngate.sim.audio import synthesize
from turngate.speech.stt import SttResult
from turngate.twilio.security import make_stream_token


class RecordingStt:
    """An STT engine double that keeps every array it is fed, across all its streams."""

    def __init__(self) -> None:
        self.fed: list[np.ndarray] = []

    def new_stream(self) -> "RecordingStt":
        return self

    def start_utterance(self) -> None:
        pass

    def feed(self, pcm8k: np.ndarray) -> list[SttResult]:
        self.fed.append(np.array(pcm8k, copy=True))
        return []

    def end_utterance(self) -> SttResult:
        return SttResult(text="", is_final=True, confidence=0.0)

    def close(self) -> None:
        pass


async def _call(url: str, frames: list[bytes]) -> None:
    import websockets

    call_sid = "CA" + uuid.uuid4().hex
    token = make_stream_token("s3cret", call_sid, 2_000_000_000)
    async with websockets.connect(url.replace("http", "ws") + "/twilio/stream") as ws:
        await ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {
            "streamSid": "MZ1", "accountSid": "AC1", "callSid": call_sid, "tracks": ["inbound"],
            "customParameters": {"token": token},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
        for i, f in enumerate(frames):
            await ws.send(json.dumps({"event": "media", "sequenceNumber": str(i + 2), "streamSid": "MZ1", "media": {
                "track": "inbound", "chunk": str(i + 1), "timestamp": str(i * 20),
                "payload": base64.b64encode(f).decode()}}))
            await asyncio.sleep(0.02)  # real time: the VAD hears a turn start, the core opens STT
        await ws.send(json.dumps({"event": "stop", "sequenceNumber": "999", "streamSid": "MZ1", "stop": {}}))


def test_the_recogniser_is_fed_int16_samples_of_the_callers_audio_in_order(tmp_path):
    stt = RecordingStt()
    pv = make_providers(f"sqlite:///{tmp_path / 'f.db'}", stt=stt, stream_secret="s3cret")
    speech = synthesize("I would like to change my appointment to Tuesday afternoon please")
    line = mulaw.encode(np.concatenate([np.zeros(8000, np.int16), speech, np.zeros(8000, np.int16)]))
    frames = [line[i:i + 160] for i in range(0, len(line) - 159, 160)]
    with running_server(pv) as url:
        asyncio.run(_call(url, frames))
    assert stt.fed, "the core opened no utterance: no audio reached the recogniser"
    assert all(a.dtype == np.int16 for a in stt.fed)
    heard = np.concatenate(stt.fed)
    sent = mulaw.decode(b"".join(frames))
    # What was fed is one stretch of what was sent (preroll, then every frame after it).
    starts = [i for i in range(0, len(sent) - 160 + 1, 160) if np.array_equal(sent[i:i + 160], heard[:160])]
    assert any(np.array_equal(sent[s:s + len(heard)], heard) for s in starts)
    assert len(heard) >= len(speech) // 2
