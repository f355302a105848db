"""What the openai adapter adds to a healthy provider's first token, over loopback.

The fake OpenAI server (turngate.testing.fakes.openai_server, uvicorn in a thread) answers
every request at once. Each round times, from the request's start to its first
content text, (a) a bare httpx stream that reads lines until the first ``"content"``
chunk with text, and (b) the adapter's ``stream()`` to its first ``TextDelta``
(SSE decoding, chunk assembly, message building). Both reuse one keep-alive
connection pool (each answer is read to its end), alternate round by round, and run in one process on the same loop.
The difference of the two is the adapter's share; everything else (loopback HTTP, the
fake's own work, the event loop) is common to both. The machine is shared: read
percentiles, not single runs.

    .venv/bin/python bench/openai_adapter.py [--rounds 300]

Last line: {"bench": "openai_adapter", "rounds": N, "ttft_ms_p50_raw": ..., "ttft_ms_p50_adapter": ...,
"ttft_ms_p99_raw": ..., "ttft_ms_p99_adapter": ..., "overhead_ms_p50": ..., "overhead_ms_p99": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx

from turngate.agent.base import GenerationRequest
from turngate.testing.fakes.openai_server import Behaviour, FakeOpenAI, serve_in_thread
from turngate.llm.openai_chat import OpenAIChat, TextDelta
from turngate.llm.profiles import ModelProfile

REQ = GenerationRequest(generation=1, context=({"role": "user", "content": "what time do you open on saturday"},),
                        route="faq", profile="bench", memory=(("name", "Alex Morgan"), ("branch", "Main Street")))


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))], 3)


# Both read each answer to its end (after noting the first token) so the keep-alive
# connection goes back to the pool, as in a call.
async def raw_ttft(client: httpx.AsyncClient, url: str, body: dict) -> float:
    t0, first = time.perf_counter(), None
    async with client.stream("POST", url, json=body, headers={"authorization": "Bearer k"}) as r:
        async for line in r.aiter_lines():
            if first is None and line.startswith("data: {") and '"content": "' in line \
                    and '"content": ""' not in line:
                first = (time.perf_counter() - t0) * 1000
    assert first is not None
    return first


async def adapter_ttft(a: OpenAIChat) -> float:
    t0, first = time.perf_counter(), None
    async for item in a.stream(REQ):
        if first is None and isinstance(item, TextDelta):
            first = (time.perf_counter() - t0) * 1000
    assert first is not None
    return first


async def run(url: str, rounds: int) -> dict:
    a = OpenAIChat(ModelProfile(name="bench", provider="openai", base_url=url, model="m", api_key_env="K"),
                   env={"K": "k"})
    body = a.body(REQ)
    raw, ada = [], []
    async with httpx.AsyncClient() as client:
        for _ in range(10):  # warm both pools and the fake
            await raw_ttft(client, a.url, body)
            await adapter_ttft(a)
        for i in range(rounds):
            if i % 2:
                raw.append(await raw_ttft(client, a.url, body))
                ada.append(await adapter_ttft(a))
            else:
                ada.append(await adapter_ttft(a))
                raw.append(await raw_ttft(client, a.url, body))
    await a.aclose()
    diffs = [x - y for x, y in zip(ada, raw)]
    return {"bench": "openai_adapter", "rounds": rounds,
            "ttft_ms_p50_raw": pct(raw, 50), "ttft_ms_p50_adapter": pct(ada, 50),
            "ttft_ms_p99_raw": pct(raw, 99), "ttft_ms_p99_adapter": pct(ada, 99),
            "overhead_ms_p50": round(statistics.median(diffs), 3), "overhead_ms_p99": pct(diffs, 99)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args()
    fake = FakeOpenAI(default=Behaviour(reply="We open at nine on Saturdays."))
    with serve_in_thread(fake) as url:
        print(json.dumps(asyncio.run(run(url, args.rounds))))


if __name__ == "__main__":
    main()
