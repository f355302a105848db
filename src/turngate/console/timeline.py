"""A call as lanes on one time axis, from the decision log and the call's track.

:func:`build_timeline` is pure: it turns a :class:`~turngate.store.base.CallRecord`
into lanes of spans and markers in call-relative milliseconds; the template
draws them as SVG. Sources:

- caller speech: ``caller_started`` (its ``onset_ms``) to ``end_of_turn`` less its
  silence; a sound over the bot: a pause's ``onset_ms`` for its ``sound_ms``;
- VAD speech and levels: the track the shell kept (``server/track.py``), when present;
- transcripts: the guard's redacted text of each final; partials as ticks (time and
  word count only: raw STT text is never stored);
- bot speech: ``first_audio`` to ``playback_done``, split at each barge-in into the
  part the caller heard (from the mark echoes: ``heard_ms``/``heard_text``) and, for
  an abandoned answer, the part that was cut (its text is what the bot was given to
  say less what was heard; its length is estimated from the text);
- barge-ins with their reaction time; route, guard, model, handoff and memory
  decisions as markers carrying their evidence.
"""

from __future__ import annotations

from typing import Any

from ..store.base import CallRecord
from .scorecard import interruptions

__all__ = ["build_timeline", "MARKER_GATES"]

MARKER_GATES = ("route", "guard", "model", "handoff", "memory")
_BOT_END = ("agent_done", "pause", "abandon", "ended", "yield")


def _duration_ms(record: CallRecord) -> int:
    c = record.call
    last = max((d.at_ms for d in record.decisions), default=0)
    if c.started_at and c.ended_at:
        return max(last, int((c.ended_at - c.started_at).total_seconds() * 1000), 1000)
    return max(last, 1000)


def _caller_spans(record: CallRecord) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    start: int | None = None
    for d in record.decisions:
        if d.gate != "turn":
            continue
        if d.outcome == "caller_started":
            start = int(d.evidence.get("onset_ms", d.at_ms))
        elif d.outcome == "end_of_turn" and start is not None:
            spans.append({"start": start, "end": d.at_ms - int(d.evidence.get("silence_ms", 0) or 0),
                          "kind": "turn", "label": f"{d.evidence.get('words', '?')} words"})
            start = None
        elif d.outcome in ("resume", "abandon") and "sound_ms" in d.evidence:
            pause = next((p for p in reversed(record.decisions[:record.decisions.index(d)])
                          if p.gate == "turn" and p.outcome == "pause" and "onset_ms" in p.evidence), None)
            onset = int(pause.evidence["onset_ms"]) if pause else d.at_ms - int(d.evidence["sound_ms"])
            spans.append({"start": onset, "end": onset + int(d.evidence["sound_ms"]), "kind": "over_bot",
                          "label": f"over the bot ({d.outcome})"})
    return spans


def _said_by_generation(track: dict[str, Any]) -> dict[int, str]:
    out: dict[int, list[str]] = {}
    for item in track.get("said", []) or []:
        _at, gen, _seg, text = item
        out.setdefault(int(gen), []).append(str(text))
    return {g: " ".join(t) for g, t in out.items()}


def _bot_spans(record: CallRecord, track: dict[str, Any], duration: int) -> list[dict[str, Any]]:
    said = _said_by_generation(track)
    spans: list[dict[str, Any]] = []
    ds = record.decisions
    gen: int | None = None
    start: int | None = None
    last_pause = 0
    cut_from: dict[int, int] = {}  # abandon seq -> where the unplayed audio begins (the last pause)
    for d in ds:
        if d.gate != "turn":
            continue
        if d.outcome == "agent_started":
            gen, start = d.evidence.get("generation"), d.at_ms
        elif d.outcome == "resume" and gen is not None:
            start = d.at_ms
        elif d.outcome == "abandon":
            cut_from[d.seq] = last_pause
            start = None
        elif d.outcome in _BOT_END and start is not None:
            if d.outcome == "pause":
                last_pause = d.at_ms
            spans.append({"start": start, "end": d.at_ms, "kind": "heard", "generation": gen,
                          "label": "heard" if d.outcome != "pause" else f"heard until the barge-in ({d.evidence.get('heard_ms')} ms of audio)"})
            start = None
            if d.outcome in ("agent_done", "ended"):
                gen = None
    # The cut part of every abandoned answer.
    for item in interruptions(record):
        if item["ending"] != "abandon":
            continue
        full = said.get(_generation_at(ds, item["seq"]) or -1, "")
        heard = item["heard_text"] or ""
        rest = full[len(heard):].strip() if full.startswith(heard) else full
        heard_ms = int(item["heard_ms"] or 0)
        est = int(heard_ms * len(rest) / max(1, len(heard))) if heard and rest else 1500
        cut_at = cut_from.get(item["ended_seq"], item["at_ms"])
        # Drawn up to the bot's next speech at most: the lane shows what was not heard, not a schedule.
        nxt = next((d.at_ms for d in ds if d.seq > (item["ended_seq"] or item["seq"]) and d.gate == "turn"
                    and d.outcome == "agent_started"), duration)
        spans.append({"start": cut_at, "end": min(duration, nxt, cut_at + max(300, est)),
                      "kind": "cut", "generation": _generation_at(ds, item["seq"]),
                      "label": f"cut, not heard (about {est / 1000:.1f} s of audio)",
                      "heard_text": heard, "cut_text": rest})
    return spans


def _generation_at(ds: tuple[Any, ...], seq: int) -> int | None:
    gen = None
    for d in ds:
        if d.seq > seq:
            break
        if d.gate == "turn" and d.outcome == "agent_started":
            gen = d.evidence.get("generation")
    return gen


def _transcripts(record: CallRecord, track: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for d in record.decisions:
        text = d.evidence.get("redacted") if d.gate == "guard" else None
        if isinstance(text, str) and (d.at_ms, text) not in seen:
            seen.add((d.at_ms, text))
            out.append({"at": d.at_ms, "kind": "final", "text": text})
    for at, words in track.get("partials", []) or []:
        out.append({"at": int(at), "kind": "partial", "text": f"partial, {words} word(s)"})
    return sorted(out, key=lambda x: x["at"])


def _markers(record: CallRecord) -> list[dict[str, Any]]:
    return [{"at": d.at_ms, "gate": d.gate, "seq": d.seq, "outcome": d.outcome, "reason": d.reason,
             "rule": d.rule, "evidence": d.evidence}
            for d in record.decisions if d.gate in MARKER_GATES]


def build_timeline(record: CallRecord) -> dict[str, Any]:
    """Lanes of one call, in call-relative ms."""
    track = dict(record.summary.get("track") or {})
    duration = _duration_ms(record)
    barge_ins = [{"at": int(i["onset_ms"]), "reaction_ms": i["reaction_ms"], "ending": i["ending"],
                  "heard_text": i["heard_text"], "seq": i["seq"]} for i in interruptions(record)]
    return {
        "duration_ms": duration,
        "step_ms": int(track.get("step_ms", 100)),
        "caller_db": list(track.get("caller_db", [])),
        "vad_pct": list(track.get("vad_pct", [])),
        "bot_db": list(track.get("bot_sent_db", [])),
        "caller": _caller_spans(record),
        "bot": _bot_spans(record, track, duration),
        "transcripts": _transcripts(record, track),
        "barge_ins": barge_ins,
        "markers": _markers(record),
    }
