"""``turngate replay CALL_ID --policy NEW.yaml [--json]`` and ``turngate replay --since 7d --policy NEW.yaml``.

Exit status: 0 when replay ran (whether or not decisions changed), 1 when a named call
is missing or has no replay record, 2 for a usage, policy or store error.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from ..config import Config
from ..errors import ConfigError

__all__ = ["replay_main", "gatekeeper_for"]


def gatekeeper_for(policy_path: str) -> tuple[Any, Any]:
    """The per-call gatekeeper factory and the policy, built as the server builds them."""
    from ..agent.scripted import load_agent_script
    from ..embedding.cache import for_policy
    from ..gates.pipeline import keeper_factory
    from ..policy import load_policy

    policy = load_policy(policy_path)
    script = load_agent_script(None)
    return keeper_factory(policy, script.greeting, encoder=for_policy(policy, Config.from_env().cache_dir)), policy


def _line(ch: dict[str, Any]) -> str:
    def fmt(d: dict[str, Any] | None) -> str:
        return "-" if d is None else f"#{d['seq']} {d['at_ms']} ms {d['gate']} {d['outcome']} ({d['reason']}, {d['rule']})"
    tail = "  [after an earlier change]" if ch["after_earlier_change"] else ""
    return f"  {ch['change']:8} {fmt(ch['was'])}  ->  {fmt(ch['now'])}{tail}"


def replay_main(args: Any) -> int:
    from ..console.metrics import window
    from ..store import open_store
    from ..llm.profiles import fallback_policy
    from .run import NotReplayable, replay_call

    if not args.call_id and not args.since:
        print("turngate replay: name a call or give --since", file=sys.stderr)
        return 2
    try:
        factory, policy = gatekeeper_for(args.policy)
        store = open_store(args.store)
        since = window(args.since, datetime.now(UTC)) if args.since else None
    except (ConfigError, ValueError) as e:
        print(f"turngate replay: {e}", file=sys.stderr)
        return 2
    try:
        if args.call_id:
            rec = store.get_call(args.call_id)
            if rec is None:
                print(f"turngate replay: no call {args.call_id!r} in store {store.url}", file=sys.stderr)
                return 1
            try:
                res = replay_call(rec, factory, policy.turn_taking, policy_version=policy.version,
                                   models=fallback_policy(policy.models))
            except NotReplayable as e:
                print(f"turngate replay: {e}", file=sys.stderr)
                return 1
            if args.json:
                print(json.dumps(res.to_json(), default=str))
            else:
                print(f"call {res.call_id} under policy {res.policy_version}: "
                      f"{len(res.changes)} decision(s) would change")
                for ch in res.changes:
                    print(_line(ch))
            return 0
        results, skipped = [], 0
        for s in store.find_calls(limit=100_000, since=since):
            rec = store.get_call(s.call_id)
            if rec is None or s.ended_at is None:
                continue
            try:
                results.append(replay_call(rec, factory, policy.turn_taking, policy_version=policy.version,
                                   models=fallback_policy(policy.models)))
            except NotReplayable:
                skipped += 1
        kinds = Counter((c["was"] or c["now"])["gate"] + "." + ((c["now"] or {}).get("outcome") or "removed")
                        for r in results for c in r.changes if not c["after_earlier_change"])
        summary = {"policy_version": policy.version, "calls": len(results), "not_replayable": skipped,
                   "calls_changed": sum(1 for r in results if r.changes),
                   "first_changes": dict(kinds),
                   "changed": [{"call_id": r.call_id, "changes": len(r.changes)} for r in results if r.changes]}
        if args.json:
            print(json.dumps(summary))
        else:
            print(f"{summary['calls']} call(s) replayed under policy {policy.version} "
                  f"({skipped} without a replay record): {summary['calls_changed']} would change")
            for k, n in kinds.most_common():
                print(f"  {n:4}  first change to {k}")
            for c in summary["changed"]:
                print(f"  {c['call_id']}: {c['changes']} decision(s)")
        return 0
    finally:
        store.close()
