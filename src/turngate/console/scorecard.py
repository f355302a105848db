"""The LQA scorecard: how well one call was handled, read from its records alone.

Pure functions over a :class:`~turngate.store.base.CallRecord` (decisions, outbox
rows and the redacted summary); no gate is re-run. :func:`scorecard` scores one
call, :func:`aggregate` many. The figures and where each comes from:

- interruptions: every barge-in pause (``bargein.stop_fast`` / ``bargein.late_final``)
  with its reaction time, how it ended (``resume`` or ``abandon``), and, for an
  abandon, whether the assistant's turn in the context was cut to what the caller
  heard (``heard_text`` of the decision equals the context's assistant turn);
- re-asks: the handoff gate's ``reasks`` counter (its evidence), at its highest;
- response latency: end of caller speech (the ``end_of_turn`` decision less its
  ``silence_ms``) to the next ``first_audio``;
- guard interventions: guard decisions other than ``allow``, by outcome;
- fallbacks: model decisions whose outcome starts with ``fallback``, by trigger;
- handoff correctness: the CRM note's reason equals the handoff decision's
  (:func:`turngate.store.why.explain`), and a caller authenticated before the
  handoff appears in the note's VERIFIED section;
- resolution: ``handed_off``, ``contained`` (the call ended with the bot's last
  answer played out), or ``abandoned`` (it ended with a turn open).
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from ..core.decisions import Decision, is_handoff
from ..store.base import CallRecord
from ..store.why import explain

__all__ = ["scorecard", "aggregate", "interruptions", "route_of", "response_latencies"]


def route_of(ds: tuple[Decision, ...] | list[Decision]) -> str | None:
    """The route the call was last held on."""
    routes = [d for d in ds if d.gate == "route"]
    if not routes:
        return None
    last = routes[-1]
    return str(last.evidence.get("route") or last.rule.removeprefix("route."))


def response_latencies(ds: tuple[Decision, ...] | list[Decision]) -> list[dict[str, int]]:
    """(end of caller speech, first bot audio, latency) per answered caller turn, in ms."""
    out: list[dict[str, int]] = []
    speech_end: int | None = None
    for d in ds:
        if d.gate != "turn":
            continue
        if d.outcome == "end_of_turn":
            speech_end = d.at_ms - int(d.evidence.get("silence_ms", 0) or 0)
        elif d.outcome == "agent_started" and speech_end is not None:
            out.append({"speech_end_ms": speech_end, "first_audio_ms": d.at_ms, "latency_ms": d.at_ms - speech_end})
            speech_end = None
    return out


def interruptions(record: CallRecord) -> list[dict[str, Any]]:
    ds = record.decisions
    assistant_turns = [m.get("content", "") for m in record.summary.get("context", []) if m.get("role") == "assistant"]
    out: list[dict[str, Any]] = []
    for i, d in enumerate(ds):
        if not (d.gate == "turn" and d.outcome == "pause"):
            continue
        end = next((e for e in ds[i + 1:] if e.gate == "turn" and e.outcome in ("resume", "abandon", "pause")), None)
        ending = end.outcome if end is not None and end.outcome != "pause" else "open"
        item: dict[str, Any] = {
            "seq": d.seq, "at_ms": d.at_ms, "onset_ms": d.evidence.get("onset_ms", d.at_ms),
            "reaction_ms": d.evidence.get("reaction_ms"), "late": d.reason == "late_final",
            "heard_ms": d.evidence.get("heard_ms"), "heard_text": d.evidence.get("heard_text", ""),
            "ending": ending, "ended_seq": end.seq if end is not None else None,
            "ended_ms": end.at_ms if end is not None else None, "truncated": None,
        }
        if ending == "abandon":
            heard = str(end.evidence.get("heard_text", item["heard_text"]))  # type: ignore[union-attr]
            item["heard_text"] = heard
            item["truncated"] = (not heard) or heard in assistant_turns
        out.append(item)
    # A late final re-opens a pause that already resumed: count the barge-in once, at its first pause.
    merged: list[dict[str, Any]] = []
    for item in out:
        if item["late"] and merged and merged[-1]["ending"] == "resume":
            merged[-1].update(ending=item["ending"], truncated=item["truncated"], heard_text=item["heard_text"],
                              ended_seq=item["ended_seq"], ended_ms=item["ended_ms"], late_final=True)
            continue
        merged.append(item)
    return merged


def _reasks(ds: tuple[Decision, ...]) -> int:
    best = 0
    for d in ds:
        if d.gate != "handoff":
            continue
        for e in d.evidence.get("evidence", []) or []:
            if isinstance(e, dict) and e.get("signal") == "counters":
                best = max(best, int(e.get("reasks", 0) or 0))
    return best


def _verified_passed_on(record: CallRecord) -> bool | None:
    ds = record.decisions
    handoff_at = next((d.seq for d in ds if is_handoff(d)), None)
    if handoff_at is None:
        return None
    authed = any(d.gate == "guard" and d.outcome == "authenticated" and d.seq < handoff_at for d in ds)
    notes = [str(o.payload.get("note", "")) for o in record.outbox if o.kind == "crm_note"]
    if not authed:
        return True  # nothing was verified, so nothing was owed to the advisor
    if not notes:
        return False
    verified = notes[-1].split("CONFIRMED REQUESTS:")[0]
    return "identity" in verified and "(none)" not in verified


def _resolution(record: CallRecord) -> str:
    ds = record.decisions
    if any(is_handoff(d) for d in ds):
        return "handed_off"
    turns = [d for d in ds if d.gate == "turn" and d.outcome not in ("ended",)]
    if turns and turns[-1].outcome in ("agent_done", "resume"):
        return "contained"
    return "abandoned"


def scorecard(record: CallRecord) -> dict[str, Any]:
    """One call's scorecard (see the module docstring for each figure's source)."""
    ds = record.decisions
    inter = interruptions(record)
    lat = [x["latency_ms"] for x in response_latencies(ds)]
    guards = [d for d in ds if d.gate == "guard" and d.outcome != "allow"]
    fallbacks = [d for d in ds if d.gate == "model" and d.outcome.startswith("fallback")]
    handoffs = [d for d in ds if is_handoff(d)]
    why = explain(record)["handoff"]
    reactions = [i["reaction_ms"] for i in inter if i["reaction_ms"] is not None]
    return {
        "call_id": record.call.call_id,
        "route": route_of(ds),
        "interruptions": {
            "count": len(inter), "each": inter,
            "reaction_ms_max": max(reactions) if reactions else None,
            "abandoned": sum(i["ending"] == "abandon" for i in inter),
            "resumed": sum(i["ending"] == "resume" for i in inter),
            "truncated_ok": all(i["truncated"] for i in inter if i["truncated"] is not None),
        },
        "reasks": _reasks(ds),
        "response_latency_ms": {
            "turns": len(lat), "mean": round(statistics.fmean(lat)) if lat else None,
            "max": max(lat) if lat else None, "values": lat,
        },
        "guard": {"count": len(guards), "by_outcome": dict(Counter(d.outcome for d in guards)),
                  "rules": sorted({d.rule for d in guards})},
        "fallbacks": {"count": len(fallbacks),
                      "by_trigger": dict(Counter(str(d.evidence.get("trigger") or d.reason) for d in fallbacks))},
        "handoff": {
            "decided": bool(handoffs), "reason": handoffs[0].reason if handoffs else None,
            "reason_matches_note": why["match"], "verified_passed_on": _verified_passed_on(record),
        },
        "resolution": _resolution(record),
    }


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def aggregate(cards: list[dict[str, Any]]) -> dict[str, Any]:
    """Many calls' scorecards as totals and rates (per call unless stated)."""
    n = len(cards)
    lat = [v for c in cards for v in c["response_latency_ms"]["values"]]
    reactions = [i["reaction_ms"] for c in cards for i in c["interruptions"]["each"] if i["reaction_ms"] is not None]
    handed = [c for c in cards if c["handoff"]["decided"]]
    return {
        "calls": n,
        "interruptions": sum(c["interruptions"]["count"] for c in cards),
        "interruption_rate": _rate(sum(c["interruptions"]["count"] > 0 for c in cards), n),
        "reaction_ms_mean": round(statistics.fmean(reactions)) if reactions else None,
        "truncation_ok_rate": _rate(sum(c["interruptions"]["truncated_ok"] for c in cards
                                        if c["interruptions"]["abandoned"]),
                                    sum(1 for c in cards if c["interruptions"]["abandoned"])),
        "reask_rate": _rate(sum(c["reasks"] > 0 for c in cards), n),
        "response_latency_ms_mean": round(statistics.fmean(lat)) if lat else None,
        "response_latency_ms_p90": round(sorted(lat)[int(0.9 * (len(lat) - 1))]) if lat else None,
        "guard_intervention_rate": _rate(sum(c["guard"]["count"] > 0 for c in cards), n),
        "fallback_rate": _rate(sum(c["fallbacks"]["count"] > 0 for c in cards), n),
        "handoff_rate": _rate(len(handed), n),
        "handoff_note_match_rate": _rate(sum(c["handoff"]["reason_matches_note"] is True for c in handed),
                                         len(handed)),
        "resolution": dict(Counter(c["resolution"] for c in cards)),
    }
