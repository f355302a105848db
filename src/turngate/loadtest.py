"""``turngate loadtest --calls N --duration S --url URL [--url URL2 ...]``.

Keeps N simulated Twilio calls going at once against the gateway(s) at URL (the
caller simulator in ``turngate.sim``: the real webhook, a real WebSocket, audio
paced at 20 ms frames), cycling through the scenarios so the load mixes long
answers, barge-ins, backchannels, noise, card numbers and handoffs. Several
``--url``s are used in turn, as a load balancer would.

Bounded in count and time: at most N calls at once; no call starts after
``duration`` seconds; calls still running ``duration + grace`` seconds after the
start are cancelled. It stops by itself.

What it reports comes from the gateways' own ``/metrics``, scraped before and
after (so only this run counts): per-frame handling latency (frame receipt to the
core's actions dispatched, ``turngate_frame_handling_seconds``) p50/p99, frames
handled later than one frame (20 ms), dropped audio frames, store write latency,
and CPU seconds per call-second (``process_cpu_seconds_total`` plus the flite child
processes', ``turngate_children_cpu_seconds_total``); the simulator's own CPU per
call-second beside it (``sim_cpu_per_call``: on one machine both share the cores); from the caller
side, barge-in reaction time (caller onset to the gateway's ``clear``).

The last line is one JSON object: ``{"bench": "load", "calls": ..., "processes": ...,
"frame_ms_p99": ..., "dropped_frames": ..., "reaction_ms_p90": ..., "cpu_per_call": ...}``.
Run the gateway with ``TURNGATE_STT=scripted`` to measure the gateway and not a
recogniser (see ``bench/load.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
GRACE_S = 60.0


@dataclass
class Scrape:
    buckets: dict[str, dict[float, float]] = field(default_factory=dict)  # histogram -> le -> count
    counters: dict[str, float] = field(default_factory=dict)


def scrape(url: str) -> Scrape:
    from prometheus_client.parser import text_string_to_metric_families

    out = Scrape()
    text = httpx.get(url.rstrip("/") + "/metrics", timeout=30).text
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.endswith("_bucket"):
                out.buckets.setdefault(s.name[:-7], {})
                le = float(s.labels["le"])
                out.buckets[s.name[:-7]][le] = out.buckets[s.name[:-7]].get(le, 0.0) + s.value
            elif s.name in ("process_cpu_seconds_total", "turngate_children_cpu_seconds_total",
                            "turngate_audio_dropped_frames_total",
                            "turngate_calls_refused_total", "turngate_frame_handling_seconds_count"):
                out.counters[s.name] = out.counters.get(s.name, 0.0) + s.value
    return out


def delta(before: Sequence[Scrape], after: Sequence[Scrape], name: str) -> dict[float, float]:
    total: dict[float, float] = {}
    for b, a in zip(before, after):
        for le, n in a.buckets.get(name, {}).items():
            total[le] = total.get(le, 0.0) + n - b.buckets.get(name, {}).get(le, 0.0)
    return dict(sorted(total.items()))


def counter(before: Sequence[Scrape], after: Sequence[Scrape], name: str) -> float:
    return sum(a.counters.get(name, 0.0) - b.counters.get(name, 0.0) for b, a in zip(before, after))


def quantile_ms(cumulative: dict[float, float], q: float) -> float | None:
    """The q-quantile from cumulative histogram buckets, interpolated within the bucket (ms)."""
    if not cumulative:
        return None
    total = cumulative.get(float("inf"), max(cumulative.values()))
    if total <= 0:
        return None
    rank, lo, below = q * total, 0.0, 0.0
    for le, n in cumulative.items():
        if n >= rank:
            if le == float("inf"):
                return round(lo * 1000, 2)
            frac = (rank - below) / (n - below) if n > below else 1.0
            return round((lo + (le - lo) * frac) * 1000, 2)
        lo, below = le, n
    return round(lo * 1000, 2)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * len(v)))], 1)


async def run_load(urls: Sequence[str], calls: int, duration_s: float, scenarios: Sequence[Any]) -> dict[str, Any]:
    from .sim.caller import render_clips, run_scenario

    loop = asyncio.get_running_loop()
    # Each scenario's caller audio is synthesized once, not once per call: the load is the
    # gateway's, and flite runs in the simulator would take the cores it is measured on.
    clips = [await asyncio.to_thread(render_clips, sc) for sc in scenarios]
    start = loop.time()
    stop_at = start + duration_s
    results: list[Any] = []
    n_started = 0

    async def slot(i: int) -> None:
        nonlocal n_started
        k = i
        while loop.time() < stop_at:
            n_started += 1
            sc = scenarios[k % len(scenarios)]
            results.append(await run_scenario(sc, urls[k % len(urls)], clips=clips[k % len(scenarios)]))
            k += calls

    async def staggered(i: int) -> None:
        await asyncio.sleep(min(2.0, duration_s / 10) * i / max(1, calls))  # spread the first webhooks
        await slot(i)

    tasks = [asyncio.create_task(staggered(i)) for i in range(calls)]
    done, pending = await asyncio.wait(tasks, timeout=duration_s + GRACE_S)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return {"results": results, "started": n_started, "cancelled": len(pending), "wall_s": loop.time() - start}


def summarize(urls: Sequence[str], calls: int, before: Sequence[Scrape], after: Sequence[Scrape],
              run: dict[str, Any]) -> dict[str, Any]:
    frames = delta(before, after, "turngate_frame_handling_seconds")
    writes = delta(before, after, "turngate_store_write_seconds")
    n_frames = frames.get(float("inf"), 0.0)
    late = n_frames - frames.get(0.02, 0.0)
    reactions = [b.reaction_ms for r in run["results"] for b in r.barge_ins if b.reaction_ms is not None]
    cpu = counter(before, after, "process_cpu_seconds_total") + counter(before, after,
                                                                         "turngate_children_cpu_seconds_total")
    call_seconds = sum(r.duration_ms for r in run["results"]) / 1000.0
    return {
        "bench": "load", "calls": calls, "processes": len(urls),
        "frame_ms_p50": quantile_ms(frames, 0.50), "frame_ms_p99": quantile_ms(frames, 0.99),
        "frames": int(n_frames), "late_frames": int(late),
        "dropped_frames": int(counter(before, after, "turngate_audio_dropped_frames_total")),
        "reaction_ms_p50": pct(reactions, 0.5), "reaction_ms_p90": pct(reactions, 0.9),
        "barge_ins": len(reactions),
        # Cores used per call in progress: CPU seconds over call-seconds of audio.
        "cpu_per_call": round(cpu / call_seconds, 4) if call_seconds else None,
        "sim_cpu_per_call": round(run.get("sim_cpu_s", 0.0) / call_seconds, 4) if call_seconds else None,
        "store_write_ms_p50": quantile_ms(writes, 0.50), "store_write_ms_p99": quantile_ms(writes, 0.99),
        "calls_completed": sum(1 for r in run["results"] if r.error is None),
        "calls_failed": sum(1 for r in run["results"] if r.error is not None),
        "calls_refused": int(counter(before, after, "turngate_calls_refused_total")),
        "calls_cancelled": run["cancelled"], "wall_s": round(run["wall_s"], 1),
        "call_seconds": round(call_seconds, 1), "sim_loop": run.get("loop", "asyncio"),
    }


def _own_cpu() -> float:
    """This process's CPU and its finished children's (the callers' voices are flite runs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _loop_factory(loop: str) -> Any:
    """``asyncio``: the standard loop (the default, as every earlier load figure was measured);
    ``uvloop``: the loop the gateway runs on under uvicorn, for a cheaper simulator."""
    if loop == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    if loop != "asyncio":
        raise ValueError(f"loop must be 'asyncio' or 'uvloop', not {loop!r}")
    return None


def loadtest(urls: Sequence[str], calls: int, duration_s: float, scenario_paths: Sequence[str] = (), *,
             loop: str = "asyncio") -> dict[str, Any]:
    from .sim.scenario import load_scenario

    factory = _loop_factory(loop)
    paths = [Path(p) for p in scenario_paths] or sorted(ROOT_SCENARIOS.glob("*.yaml"))
    scenarios = [load_scenario(p) for p in paths]
    before = [scrape(u) for u in urls]
    cpu0 = _own_cpu()
    with asyncio.Runner(loop_factory=factory) as runner:
        run = runner.run(run_load(list(urls), calls, duration_s, scenarios))
    # The simulated callers' own CPU, beside the gateways': on one machine they share the cores.
    run["sim_cpu_s"] = _own_cpu() - cpu0
    run["loop"] = loop
    time.sleep(1.5)  # the last calls' writes and frames land in the histograms
    after = [scrape(u) for u in urls]
    out = summarize(urls, calls, before, after, run)
    errors = sorted({str(r.error)[:120] for r in run["results"] if r.error})
    if errors:
        out["errors"] = errors[:5]
    return out


def loadtest_main(args: Any) -> int:
    if args.calls < 1 or args.duration <= 0:
        print("turngate loadtest: --calls must be >= 1 and --duration > 0", file=sys.stderr)
        return 2
    out = loadtest(args.url, args.calls, args.duration, args.scenarios or (), loop=args.loop)
    errors = out.pop("errors", [])
    print(f"{out['calls_completed']} calls completed, {out['calls_failed']} failed over {out['wall_s']} s; "
          f"frames {out['frames']} (late >20 ms: {out['late_frames']}, dropped: {out['dropped_frames']}); "
          f"frame p50/p99 {out['frame_ms_p50']}/{out['frame_ms_p99']} ms; barge-in reaction p50/p90 "
          f"{out['reaction_ms_p50']}/{out['reaction_ms_p90']} ms over {out['barge_ins']}; "
          f"store write p50/p99 {out['store_write_ms_p50']}/{out['store_write_ms_p99']} ms; "
          f"CPU per call {out['cpu_per_call']} cores", file=sys.stderr)
    for e in errors:
        print(f"  error: {e}", file=sys.stderr)
    print(json.dumps(out))
    return 0 if out["calls_completed"] else 1
