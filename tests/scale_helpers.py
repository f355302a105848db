"""Helpers for the scale tests: a raw Twilio-shaped call and small PostgreSQL/Redis/HTTP
fixtures' plumbing (the in-thread app is ``server_harness.app_server``)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import numpy as np
import websockets

from turngate.sim.webhook import new_sid, parse_connect_stream, voice_webhook_params

SILENCE = base64.b64encode(b"\xff" * 160).decode()


def tone_frames(n: int) -> list[str]:
    """n 20 ms mu-law frames of a loud 300 Hz tone (voice-like enough for the VAD's level gate)."""
    from turngate.audio import mulaw
    t = np.arange(160 * n) / 8000.0
    pcm = (8000 * np.sin(2 * np.pi * 300 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))).astype(np.int16)
    raw = mulaw.encode(pcm)
    return [base64.b64encode(raw[i * 160:(i + 1) * 160]).decode() for i in range(n)]


class RawCall:
    """One call the way Twilio places it, driven frame by frame by the test."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.call_sid, self.stream_sid = new_sid("CA"), new_sid("MZ")
        self.ws: Any = None
        self.twiml = ""
        self.seq = 1
        self.received: list[dict[str, Any]] = []
        self._rx: asyncio.Task[None] | None = None

    async def webhook(self) -> str:
        params = voice_webhook_params(call_sid=self.call_sid, account_sid="AC" + "0" * 32,
                                      from_number="+15550001111", to_number="+15550002222")
        async with httpx.AsyncClient(timeout=10) as c:
            r = await c.post(self.url + "/twilio/voice", data=params)
        r.raise_for_status()
        self.twiml = r.text
        return r.text

    async def connect(self) -> None:
        stream = parse_connect_stream(self.twiml or await self.webhook())
        self.ws = await websockets.connect(stream.url, max_size=2**22, ping_interval=None)
        await self.ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await self.ws.send(json.dumps({
            "event": "start", "sequenceNumber": "1", "streamSid": self.stream_sid,
            "start": {"streamSid": self.stream_sid, "accountSid": "AC" + "0" * 32, "callSid": self.call_sid,
                      "tracks": ["inbound"], "customParameters": dict(stream.parameters),
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
        self._rx = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        try:
            async for text in self.ws:
                msg = json.loads(text)
                self.received.append(msg)
                if msg.get("event") == "mark":  # echo marks at once, as if played
                    await self.ws.send(json.dumps({"event": "mark", "streamSid": self.stream_sid,
                                                   "mark": {"name": msg["mark"]["name"]}}))
        except websockets.ConnectionClosed:
            pass

    async def send_media(self, payloads: list[str], *, paced: bool = True) -> None:
        for p in payloads:
            self.seq += 1
            await self.ws.send(json.dumps({"event": "media", "sequenceNumber": str(self.seq),
                                           "streamSid": self.stream_sid,
                                           "media": {"track": "inbound", "chunk": str(self.seq),
                                                     "timestamp": str(self.seq * 20), "payload": p}}))
            if paced:
                await asyncio.sleep(0.02)

    async def silence(self, ms: int) -> None:
        await self.send_media([SILENCE] * (ms // 20))

    async def stop(self) -> None:
        try:
            await self.ws.send(json.dumps({"event": "stop", "sequenceNumber": str(self.seq + 1),
                                           "streamSid": self.stream_sid, "stop": {}}))
            await asyncio.sleep(0.05)
            await self.ws.close()
        except websockets.ConnectionClosed:
            pass
        if self._rx is not None:
            await asyncio.gather(self._rx, return_exceptions=True)


async def fetch_ended(url: str, call_sid: str, timeout_s: float = 10.0) -> dict[str, Any]:
    async with httpx.AsyncClient() as c:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            r = await c.get(f"{url}/api/calls/{call_sid}")
            if r.status_code == 200 and r.json().get("state") == "ended":
                return r.json()
            await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_sid} never reached the log")


def speech_frames(text: str, voice: str = "slt") -> list[str]:
    """``text`` spoken by flite, as 20 ms mu-law frames (base64), then 600 ms of silence."""
    from turngate.audio import mulaw
    from turngate.sim.audio import synthesize
    raw = mulaw.encode(synthesize(text, voice))
    raw += b"\xff" * (160 - len(raw) % 160)
    return [base64.b64encode(raw[i:i + 160]).decode() for i in range(0, len(raw), 160)] + [SILENCE] * 30
