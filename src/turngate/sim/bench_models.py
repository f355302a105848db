"""``turngate bench models``: the policy's model profiles, compared on the same calls.

For each profile of the policy's ``models:`` section, a gateway runs under the policy
with every route served by that profile alone (no fallback chain, so a failure shows
as a failure) and the scenarios are called through the simulator over Twilio's
protocol. From each call's decision log: time to first token (the runner's
measurement in the ``model/completed`` records), end of the caller's turn to the bot's
first audio, guard interventions, re-asks, handoffs, barge-ins handled, scenarios
passed. Model choice becomes a measured comparison; the last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..config import Config
from ..core.decisions import HANDOFF_OUTCOMES
from ..policy import DEFAULT_POLICY_PATH, load_policy
from .scenario import Scenario, load_scenario

def policy_for(raw: dict[str, Any], profile: str) -> dict[str, Any]:
    """The policy with every route (and every selection rule that names a profile) on
    ``profile``, and no fallback: the profile alone answers."""
    out = yaml.safe_load(yaml.safe_dump(raw))
    names = set(out.get("models", {}).get("profiles", {})) | {"low_latency", "strong_guard", "fallback"}
    for r in out.get("routes", {}).values():
        if r.get("profile") in names:
            r["profile"] = profile
    for rule in out.get("model_selection", {}).get("rules", []):
        if rule.get("then") in names:
            rule["then"] = profile
    out.setdefault("models", {})["fallback"] = {}
    return out


def summarize(results: list[Any]) -> dict[str, Any]:
    ttft, response, guard, reasks, handoffs, bargeins = [], [], 0, 0, 0, 0
    for r in results:
        ds = r.decisions
        for i, d in enumerate(ds):
            ev = d.get("evidence") or {}
            if d["gate"] == "model" and d["outcome"] == "completed" and "ttft_ms" in ev:
                ttft.append(ev["ttft_ms"])
            if d["gate"] == "turn" and d["outcome"] == "end_of_turn":
                nxt = next((x for x in ds[i + 1:] if x["gate"] == "turn" and x["outcome"] in
                            ("agent_started", "caller_started", "yield")), None)
                if nxt is not None and nxt["outcome"] == "agent_started":
                    response.append(nxt["at_ms"] - d["at_ms"])
            guard += d["gate"] == "guard" and d["outcome"] != "allow"
            reasks += "reask" in d["reason"] or "clarify" in d["reason"] or d["outcome"] == "no_words"
            handoffs += d["gate"] == "handoff" and d["outcome"] in HANDOFF_OUTCOMES
            bargeins += d["gate"] == "turn" and d["outcome"] in ("abandon", "resume")
    pct = lambda xs, q: round(float(np.percentile(xs, q)), 1) if xs else None  # noqa: E731
    return {"calls": len(results), "passed": sum(r.passed for r in results),
            "ttft_ms_p50": pct(ttft, 50), "ttft_ms_p95": pct(ttft, 95),
            "response_ms_p50": pct(response, 50), "response_ms_p95": pct(response, 95),
            "guard_interventions": guard, "reasks": reasks, "handoffs": handoffs, "bargeins_handled": bargeins}


def run_profile(raw: dict[str, Any], profile: str, scenarios: list[Scenario], workdir: Path) -> dict[str, Any]:
    from ..demo import Gateway
    from .cli import run_all

    policy = workdir / f"policy-{profile}.yaml"
    policy.write_text(yaml.safe_dump(policy_for(raw, profile), sort_keys=False), encoding="utf-8")
    with Gateway(store=f"sqlite:///{workdir / f'{profile}.db'}", log_path=str(workdir / f"{profile}.log"),
                 env={"TURNGATE_POLICY": str(policy), "TURNGATE_OUTBOX_FILE": str(workdir / f"{profile}.jsonl")}) as gw:
        results = asyncio.run(run_all(scenarios, gw.url))
    return summarize(results)


def bench_models_main(args: Any) -> int:
    path = Path(args.policy or Config.from_env().policy or DEFAULT_POLICY_PATH)
    policy = load_policy(str(path))  # validates, with file/line errors
    profiles = list(args.profile or policy.models.profiles)
    if not profiles:
        print(f"{path}: no model profiles to compare (add a models: section)", file=sys.stderr)
        return 2
    from ..demo import ROOT_SCENARIOS

    paths = [Path(p) for p in args.scenarios] or sorted(ROOT_SCENARIOS.glob("*.yaml"))
    scenarios = [s for s in (load_scenario(p) for p in paths) if s.models is None]
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="turngate-bench-models-") as tmp:
        for name in profiles:
            print(f"profile {name}: {len(scenarios)} scenario(s)", file=sys.stderr)
            out[name] = run_profile(raw, name, scenarios, Path(tmp))
    cols = ("passed", "ttft_ms_p50", "ttft_ms_p95", "response_ms_p50", "response_ms_p95",
            "guard_interventions", "reasks", "handoffs", "bargeins_handled")
    if not args.json:
        print(f"{'profile':<20}" + "".join(f"{c:>19}" for c in cols))
        for name, s in out.items():
            print(f"{name:<20}" + "".join(f"{s[c]!s:>19}" for c in cols))
    print(json.dumps({"bench": "models", "profiles": out}))
    return 0
