"""``turngate policy check FILE`` and ``turngate policy eval [--policy FILE]``.

``eval`` reads JSON lines ``{"text": ..., "final": true|false, "auth": true|false,
"context": {...}}`` on stdin and writes one JSON line per input with the Route, Guard,
Handoff and model decisions for it and the action the call would take. The gates run
through the same pipeline as a live call (``turngate.gates.pipeline.run_gates``), so
the same text and context give the same decisions.

``context`` (optional) is the call so far: ``previous_route``, ``authenticated``,
``turns``, ``reasks``, ``last_text``, ``segment``, ``repeat_caller``,
``stt_confidence``, ``agent_speaking``, ``welfare_check`` (see ``CallContext.from_dict``). Without it,
lines up to and including a final form one utterance of a fresh call: the Route
gate's hysteresis state carries over partials and is reset after each final, and each
line gets a fresh Handoff state, so independent test utterances stay independent.
``auth`` is shorthand for ``context.authenticated``. A line that is not valid JSON, or
has a bad context, gets ``{"error": ...}`` and the loop goes on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from .errors import ConfigError

__all__ = ["check_main", "eval_main", "Evaluator"]


def check_main(args: argparse.Namespace) -> int:
    from .policy import load_policy

    try:
        policy = load_policy(args.file)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"ok {policy.version} ({len(policy.routes)} routes)")
    return 0


def eval_main(args: argparse.Namespace, *, stdin: TextIO | None = None,
              stdout: TextIO | None = None) -> int:
    from .policy import load_policy

    src = stdin or sys.stdin
    out = stdout or sys.stdout
    try:
        policy = load_policy(getattr(args, "policy", None))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    ev = Evaluator(policy)
    for line in src:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError('expected an object with a string "text"')
            context = item.get("context")
            if context is not None and not isinstance(context, dict):
                raise ValueError('"context" must be an object')
            result = ev.evaluate(item["text"], final=bool(item.get("final", True)),
                                 auth=bool(item.get("auth", False)), context=context)
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            result = {"error": f"bad input line: {e}"}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return 0


class Evaluator:
    """Runs the gate pipeline on one utterance at a time, as a live call would."""

    def __init__(self, policy: Any, *, cache_dir: str | None = None, router: Any = None) -> None:
        from .config import Config
        from .embedding.cache import for_policy
        from .gates.pipeline import CallContext
        from .gates.route import Router

        self.policy = policy
        if router is None:
            if cache_dir is None:
                cache_dir = Config.from_env().cache_dir
            router = Router.from_policy(policy, encoder=for_policy(policy, cache_dir))
        self.router = router
        self._partial: CallContext | None = None  # the context carried over this utterance's partials
        # Warm lazy loads (guard models, number parsers) so the first line's
        # latency is not the start-up cost.
        self.evaluate("i want to pay two hundred dollars", final=True, auth=False)

    def evaluate(self, text: str, *, final: bool, auth: bool,
                 context: dict[str, Any] | None = None) -> dict[str, Any]:
        from dataclasses import replace

        from .gates.pipeline import CallContext, run_gates

        t0 = time.perf_counter()
        if context is not None:
            ctx = CallContext.from_dict(context, routes=self.policy.routes)
            if auth and "authenticated" not in context:
                ctx = replace(ctx, authenticated=True)
        else:
            ctx = CallContext(authenticated=auth)
        if self._partial is not None:
            # Inside an utterance: the context is the call's at its start; the Route gate's
            # hysteresis carries over its partials.
            ctx = replace(ctx, route=self._partial.route)
        d = run_gates(self.router, self.policy, text, final=final, context=ctx)
        self._partial = None if final else d.context
        latency_us = (time.perf_counter() - t0) * 1e6
        r, g, h = d.route, d.guard, d.handoff
        model = next((v for v in d.verdicts if v.gate == "model"), None)
        return {
            "route": {"name": r.route, "confidence": round(r.confidence, 4), "outcome": r.outcome,
                      "runner_up": r.runner_up, "rule": r.rule},
            "guard": {"outcome": g.outcome,
                      "findings": [{"type": f.type, "start": f.start, "end": f.end, "rule": f.rule}
                                   for f in g.findings],
                      "injection": bool(g.injection), "unsafe": bool(g.unsafe), "redacted": g.redacted},
            "handoff": ({"handoff": h.handoff, "reason": h.reason, "queue": h.queue, "rule": h.rule} if h
                        else {"handoff": False, "reason": "not_on_partials", "queue": None, "rule": "handoff.none"}),
            "model": ({"profile": d.profile, "outcome": model.outcome, "reason": model.reason, "rule": model.rule,
                       "evidence": model.evidence} if model else None),
            "action": str(d.action),
            "reply": d.reply,
            "latency_us": round(latency_us, 1),
            "policy_version": self.policy.version,
        }
