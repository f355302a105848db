"""Time to first token when the primary model stalls or fails: hedged against unhedged,
side by side, and what the gateway adds to a healthy provider.

Each round is one answer: the call core (``turngate.core.Call``, the policy of the
fallback and its timers) and the shell's model runner (``llm.runner.run_attempt`` with
the real Chat Completions adapter over httpx) against the local OpenAI-compatible server
(``turngate.testing.fakes.openai_server``) on loopback, on the real event loop clock. The primary
does one of: answer at once (50%), stall before its first token (20%), answer 503 (10%)
or 429 (10%), or answer slowly, 1.5x its budget (10%). The backup always answers at once.
The same sequence of behaviours runs in both modes, round by round:

  - hedged: ``first_token_ms`` = 600 on the primary: at 600 ms without a token the backup
    starts beside it and the first to stream wins;
  - unhedged: no ``first_token_ms``: a stall waits for the core's hard time-to-first-token
    budget (2500 ms) and then falls back; errors fall back at once in both modes.

Reported: the time from the core's ``StartModel`` to the first text it accepted, per mode
(p50, p99), ``failover_ms_p99`` (errors: the time to the backup's first token), and the
gateway's overhead on a healthy provider: its first-token time against a bare httpx
stream to the same server, paired round by round.

    .venv/bin/python bench/fallback.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from turngate.agent.base import GenerationRequest  # noqa: E402
from turngate.core.actions import CancelModel, StartModel  # noqa: E402
from turngate.core.call import Call  # noqa: E402
from turngate.core.events import CallStarted, ModelTextDelta, TimerFired  # noqa: E402
from turngate.core.fallback import FallbackPolicy, ModelBudget  # noqa: E402
from turngate.testing.fakes.openai_server import Behaviour, FakeOpenAI, serve_in_thread  # noqa: E402
from turngate.llm.openai_chat import OpenAIChat  # noqa: E402
from turngate.llm.profiles import ModelProfile  # noqa: E402
from turngate.llm.runner import run_attempt  # noqa: E402
from turngate.testing import OpenGatekeeper  # noqa: E402

FIRST_TOKEN_MS = 600
KINDS = (("healthy", 0.5), ("stall", 0.2), ("503", 0.1), ("429", 0.1), ("slow", 0.1))


def behaviour(kind: str) -> Behaviour:
    return {"healthy": Behaviour(reply="Nine to five."),
            "stall": Behaviour(stall_ms=8000, reply="Too late."),
            "503": Behaviour(status=503),
            "429": Behaviour(status=429),
            "slow": Behaviour(stall_ms=int(FIRST_TOKEN_MS * 1.5), reply="Slowly.")}[kind]


class Driver:
    """The shell's part for one answer: carry out the core's model actions, arm its timer."""

    def __init__(self, call: Call, adapters: dict[str, OpenAIChat]) -> None:
        self.call, self.adapters = call, adapters
        self.loop = asyncio.get_running_loop()
        self.tasks: dict[tuple[int, int], asyncio.Task] = {}
        self.started: float | None = None
        self.first: asyncio.Future = self.loop.create_future()
        self.timer: asyncio.TimerHandle | None = None

    def feed(self, ev) -> None:  # type: ignore[no-untyped-def]
        accepted_before = self.call.gen.winner if self.call.gen else None
        self.act(self.call.handle(ev, self.loop.time()))
        g = self.call.gen
        if isinstance(ev, ModelTextDelta) and g is not None and g.winner is not None and accepted_before is None \
                and not self.first.done():
            self.first.set_result((self.loop.time(), g.winner.profile))

    def act(self, actions) -> None:  # type: ignore[no-untyped-def]
        for a in actions:
            if isinstance(a, StartModel):
                if self.started is None:
                    self.started = self.loop.time()
                req = GenerationRequest(generation=a.generation, context=a.context, route=a.route, profile=a.profile)
                self.tasks[(a.generation, a.attempt)] = asyncio.ensure_future(
                    run_attempt(self.adapters[a.profile], req, a.attempt, emit=self.feed, clock=self.loop.time))
            elif isinstance(a, CancelModel):
                for k in [k for k in self.tasks if k[0] == a.generation and a.attempt in (None, k[1])]:
                    self.tasks.pop(k).cancel()
        if self.timer is not None:
            self.timer.cancel()
        d = self.call.next_deadline()
        self.timer = self.loop.call_at(d, lambda: self.feed(TimerFired())) if d is not None else None

    async def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        for t in self.tasks.values():
            t.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def one_answer(adapters: dict[str, OpenAIChat], models: FallbackPolicy) -> tuple[float, str]:
    call = Call("bench", gates=OpenGatekeeper(route="faq", profile="primary"), models=models)
    d = Driver(call, adapters)
    d.act(call.handle(CallStarted(call_id="bench", stream_sid="MZ"), d.loop.time()))
    d.act(call.take_turn("what time do you open", d.loop.time()))
    try:
        t, profile = await asyncio.wait_for(d.first, 15)
    finally:
        await d.close()
    assert d.started is not None
    return (t - d.started) * 1000, profile


async def bare_ttft(client: httpx.AsyncClient, url: str) -> float:
    body = {"model": "primary", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    t0 = time.perf_counter()
    async with client.stream("POST", f"{url}/chat/completions", json=body) as r:
        async for line in r.aiter_lines():
            if line.startswith("data:") and '"content"' in line:
                return (time.perf_counter() - t0) * 1000
    raise RuntimeError("no content")


async def run(rounds: int, seed: int) -> dict:
    fake = FakeOpenAI()
    rng = random.Random(seed)
    names, weights = zip(*KINDS)
    plan = rng.choices(names, weights, k=rounds)
    with serve_in_thread(fake) as url:
        adapters = {n: OpenAIChat(ModelProfile(name=n, provider="openai", base_url=url, model=n))
                    for n in ("primary", "backup")}
        chains = {"primary": ("backup",)}
        hedged = FallbackPolicy(budgets={"primary": ModelBudget(first_token_ms=FIRST_TOKEN_MS)}, chains=chains)
        unhedged = FallbackPolicy(chains=chains)
        fake.models["backup"] = Behaviour(reply="Nine to five.")
        res: dict[str, list[tuple[str, float]]] = {"hedged": [], "unhedged": []}
        overhead: list[float] = []
        async with httpx.AsyncClient(timeout=30) as client:
            await one_answer(adapters, hedged)  # warm the connections
            for k, kind in enumerate(plan):
                order = [("hedged", hedged), ("unhedged", unhedged)]
                if k % 2:
                    order.reverse()  # neither mode always runs on a warmer machine
                for mode, models in order:
                    fake.models["primary"] = behaviour(kind)
                    ms, _ = await one_answer(adapters, models)
                    res[mode].append((kind, ms))
                if kind == "healthy":
                    fake.models["primary"] = behaviour("healthy")
                    bare = await bare_ttft(client, url)
                    ms, _ = await one_answer(adapters, hedged)
                    overhead.append(ms - bare)
    pct = lambda xs, q: round(float(np.percentile(xs, q)), 1)  # noqa: E731
    out: dict = {}
    for mode in ("hedged", "unhedged"):
        all_ms = [ms for _, ms in res[mode]]
        out[f"ttft_ms_p50_{mode}"] = pct(all_ms, 50)
        out[f"ttft_ms_p99_{mode}"] = pct(all_ms, 99)
        for kind, _ in KINDS:
            xs = [ms for k, ms in res[mode] if k == kind]
            if xs:
                out[f"{mode}_{kind}_p50"] = pct(xs, 50)
                out[f"{mode}_{kind}_max"] = round(max(xs), 1)
    errors = [ms for k, ms in res["hedged"] if k in ("503", "429")]
    out["failover_ms_p99"] = pct(errors, 99) if errors else None
    out["overhead_ms_p50"] = pct(overhead, 50)
    out["overhead_ms_p99"] = pct(overhead, 99)
    out["rounds"] = rounds
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    import logging
    logging.basicConfig(level=logging.ERROR)  # the failures are the point; their warnings are not
    out = asyncio.run(run(args.rounds, args.seed))
    print(f"first token {FIRST_TOKEN_MS} ms budget on the primary; per behaviour (p50 / max, ms):")
    for kind, _ in KINDS:
        print(f"  {kind:<8} hedged {out.get(f'hedged_{kind}_p50')} / {out.get(f'hedged_{kind}_max')}   "
              f"unhedged {out.get(f'unhedged_{kind}_p50')} / {out.get(f'unhedged_{kind}_max')}")
    keys = ("ttft_ms_p50_hedged", "ttft_ms_p99_hedged", "ttft_ms_p50_unhedged", "ttft_ms_p99_unhedged",
            "failover_ms_p99", "overhead_ms_p50", "overhead_ms_p99", "rounds")
    print(json.dumps({"bench": "fallback", **{k: out[k] for k in keys}}))


if __name__ == "__main__":
    main()
