"""``turngate policy check FILE`` and ``turngate policy eval [--policy FILE]``.

``eval`` reads JSON lines ``{"text": ..., "final": true|false, "auth": true|false}``
on stdin and writes one JSON line per input with the Route, Guard and Handoff
decisions for it. Lines up to and including a final form one utterance: the
Route gate's hysteresis state carries over partials and is reset after each
final, and each line gets a fresh Handoff state, so independent test utterances
stay independent. A line that is not valid JSON gets ``{"error": ...}`` and the
loop goes on.
"""

from __future__ import annotations

import argparse
import inspect
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
            result = ev.evaluate(item["text"], final=bool(item.get("final", True)),
                                 auth=bool(item.get("auth", False)))
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            result = {"error": f"bad input line: {e}"}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return 0


class Evaluator:
    """Runs the three gates on one utterance at a time, as the call core would."""

    def __init__(self, policy: Any, *, cache_dir: str | None = None) -> None:
        from .config import Config
        from .embedding.cache import for_policy
        from .gates.route import Router, RouteState

        self.policy = policy
        if cache_dir is None:
            cache_dir = Config.from_env().cache_dir
        self.router = Router.from_policy(policy, encoder=for_policy(policy, cache_dir))
        self.route_state = RouteState()
        self._guard = _load_guard(policy)
        # Warm lazy loads (guard models, number parsers) so the first line's
        # latency is not the start-up cost.
        self.evaluate("i want to pay two hundred dollars", final=True, auth=False)
        self.route_state = RouteState()

    def evaluate(self, text: str, *, final: bool, auth: bool) -> dict[str, Any]:
        from .gates.handoff import HandoffSignals, HandoffState, amounts_in, handoff_gate, is_reask
        from .gates.route import RouteState, route_gate

        t0 = time.perf_counter()
        # The route is decided in memory on the caller's words; only its scores
        # and names are recorded. The guard then knows which route's authority
        # to check.
        route, self.route_state = route_gate(self.router, self.route_state, text,
                                             final=final, agent_speaking=False)
        guard = self._run_guard(text, route.route, auth)
        amounts = amounts_in(text)
        signals = HandoffSignals(
            route=route.route,
            route_confidence=route.confidence if final else None,
            route_outcome=route.outcome,
            human_requested=route.route == "human",
            reask=is_reask(text),
            guard_outcome=guard["outcome"],
            guard_reason=guard.get("reason"),
            amount=max(amounts) if amounts else None,
        )
        handoff, _ = handoff_gate(HandoffState(), signals, self.policy)
        if final:
            self.route_state = RouteState()
        latency_us = (time.perf_counter() - t0) * 1e6
        guard.pop("reason", None)
        return {
            "route": {"name": route.route, "confidence": round(route.confidence, 4),
                      "outcome": route.outcome, "runner_up": route.runner_up,
                      "rule": route.rule},
            "guard": guard,
            "handoff": {"handoff": handoff.handoff, "reason": handoff.reason,
                        "queue": handoff.queue, "rule": handoff.rule},
            "latency_us": round(latency_us, 1),
            "policy_version": self.policy.version,
        }

    def _run_guard(self, text: str, route: str, auth: bool) -> dict[str, Any]:
        if self._guard is None:
            # No guard gate in this build: say so rather than pretend the text is clean.
            return {"outcome": "unavailable", "findings": [], "injection": False,
                    "unsafe": False, "redacted": None}
        fn, rules = self._guard
        spec = self.policy.route(route)
        kwargs: dict[str, Any] = {"authenticated": auth, "route": route,
                                  "requires_auth": spec.requires_auth}
        if rules is not None:
            kwargs["rules"] = rules
        d = fn(text, **kwargs)
        return {
            "outcome": d.outcome,
            "findings": [{"type": f.type, "start": f.start, "end": f.end, "rule": f.rule}
                         for f in d.findings],
            "injection": bool(d.injection),
            "unsafe": bool(d.unsafe),
            "redacted": d.redacted,
            "reason": getattr(d, "reason", None),
        }


def _load_guard(policy: Any) -> tuple[Any, Any] | None:
    """The guard gate's ``guard_input`` and its rules, when that gate is built."""
    try:
        from .gates import guard as guard_mod  # type: ignore[attr-defined]
    except ImportError:
        return None
    fn = getattr(guard_mod, "guard_input", None)
    if fn is None:
        return None
    try:
        wants_rules = "rules" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        wants_rules = False
    if not wants_rules:
        return fn, None
    rules = policy.guard_rules
    if rules is None:
        try:
            from .gates.guard.rules import GuardRules  # type: ignore[import-not-found]
        except ImportError:
            return fn, None
        rules = GuardRules.default() if hasattr(GuardRules, "default") else GuardRules()
    return fn, rules
