"""What the cloud speech adapters themselves cost, against the local Deepgram server on
loopback (so the network and the provider's own latency are *not* in these figures):

- ``start_utterance``: one WebSocket handshake (one per caller turn, by design);
- ``feed`` of one 20 ms Twilio frame: mu-law encode, one binary frame out, drain the
  results already received (the per-frame hot path of a call on Deepgram);
- ``end_utterance``: ``CloseStream`` -> flushed final + ``Metadata`` -> close;
- ``synthesize``: one Aura REST round trip for a 47-character sentence;
- Realtime ``append_audio`` of one 20 ms frame (base64 + JSON + one text frame), against
  the local Realtime server.

    .venv/bin/python bench/cloud_speech.py [--utterances 20] [--seconds 10]

Last line: {"bench": "cloud_speech", "start_ms_p50": ..., "feed_us_p50": ..., "feed_us_p99": ...,
"end_ms_p50": ..., "tts_ms_p50": ..., "realtime_append_us_p50": ..., "realtime_append_us_p99": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import numpy as np

from turngate.testing.fakes.deepgram_server import DeepgramServer, Utterance, tone
from turngate.testing.fakes.realtime_server import RealtimeServer
from turngate.llm.realtime import RealtimeClient
from turngate.speech.deepgram_stt import DeepgramStt
from turngate.speech.deepgram_tts import DeepgramTts

KEY = "bench-key-0000000000"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--utterances", type=int, default=20)
    ap.add_argument("--seconds", type=int, default=10, help="audio per utterance")
    args = ap.parse_args()
    fake = DeepgramServer(api_key=KEY)
    pcm = tone(args.seconds * 1000)
    frames = [pcm[i:i + 160] for i in range(0, len(pcm), 160)]
    starts, feeds, ends, tts_ms = [], [], [], []
    with fake.running() as url:
        fake.add(*[Utterance(partials=tuple(f"word{i}" for i in range(args.seconds * 5)), final="done",
                             bytes_per_partial=1600) for _ in range(args.utterances)])
        stream = DeepgramStt(KEY, base_url=url).new_stream()
        for _ in range(args.utterances):
            t = time.perf_counter()
            stream.start_utterance()
            starts.append(time.perf_counter() - t)
            for f in frames:
                t = time.perf_counter()
                stream.feed(f)
                feeds.append(time.perf_counter() - t)
            t = time.perf_counter()
            stream.end_utterance()
            ends.append(time.perf_counter() - t)
        stream.close()
        tts = DeepgramTts(KEY, base_url=url)
        for _ in range(args.utterances):
            t = time.perf_counter()
            tts.synthesize("Your appointment is moved to Tuesday at three.")
            tts_ms.append(time.perf_counter() - t)
        tts.close()

    appends: list[float] = []
    realtime = RealtimeServer(api_key=KEY)
    with realtime.running() as url:
        asyncio.run(_appends(url, len(frames), appends))

    def pct(xs: list[float], q: float, scale: float) -> float:
        return round(float(np.percentile(xs, q)) * scale, 2)

    result = {"bench": "cloud_speech", "utterances": args.utterances, "feeds": len(feeds),
              "start_ms_p50": pct(starts, 50, 1e3), "feed_us_p50": pct(feeds, 50, 1e6),
              "feed_us_p99": pct(feeds, 99, 1e6), "end_ms_p50": pct(ends, 50, 1e3),
              "tts_ms_p50": pct(tts_ms, 50, 1e3), "realtime_append_us_p50": pct(appends, 50, 1e6),
              "realtime_append_us_p99": pct(appends, 99, 1e6)}
    print(json.dumps(result))


async def _appends(url: str, n: int, out: list[float]) -> None:
    client = RealtimeClient(KEY, url=url)
    await client.connect()
    frame = bytes(range(256))[:160]
    for _ in range(n):
        t = time.perf_counter()
        await client.append_audio(frame)
        out.append(time.perf_counter() - t)
    await client.close()


if __name__ == "__main__":
    main()
