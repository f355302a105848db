"""The call timeline as inline SVG: one lane per row, one shared time axis.

Every drawn element that stands for a record carries ``data-tip`` (what the
page's script shows on hover) and a ``<title>`` (what a browser shows without
script); text is escaped with markupsafe, so evidence can never become markup.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup, escape

__all__ = ["timeline_svg", "LANES"]

LANES = ("audio levels", "caller speech", "VAD speech", "transcripts", "bot speech", "barge-ins", "decisions")
_LEFT, _WIDTH, _ROW, _TOP = 112, 1060, 34, 22
_GATE_COLOUR = {"route": "#2f6fdf", "guard": "#d9480f", "model": "#7048e8", "handoff": "#c2255c",
                "memory": "#0b7285"}


def _tip(**fields: Any) -> str:
    parts = []
    for k, v in fields.items():
        if v is None or v == "":
            continue
        parts.append(f"{k}: {v if isinstance(v, str) else json.dumps(v, default=str)}")
    return "\n".join(parts)


class _Canvas:
    def __init__(self, duration_ms: int) -> None:
        self.duration = max(1, duration_ms)
        self.out: list[str] = []

    def x(self, ms: float) -> float:
        return round(_LEFT + min(max(ms, 0), self.duration) / self.duration * _WIDTH, 1)

    @staticmethod
    def y(lane: int) -> int:
        return _TOP + lane * _ROW

    def el(self, tag: str, attrs: dict[str, Any], tip: str = "", text: str = "") -> None:
        a = " ".join(f'{k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items() if v is not None)
        if tip:
            a += f' data-tip="{escape(tip)}"'
        inner = (f"<title>{escape(tip)}</title>" if tip else "") + str(escape(text))
        self.out.append(f"<{tag} {a}>{inner}</{tag}>")


def _axis(c: _Canvas) -> None:
    step = next(s for s in (500, 1000, 2000, 5000, 10000, 30000, 60000, 10**9) if c.duration / s <= 14)
    bottom = c.y(len(LANES))
    for ms in range(0, c.duration + 1, step):
        x = c.x(ms)
        c.el("line", {"x1": x, "x2": x, "y1": _TOP - 4, "y2": bottom, "class": "grid"})
        c.el("text", {"x": x, "y": _TOP - 8, "class": "tick"}, text=f"{ms / 1000:g} s")
    for i, name in enumerate(LANES):
        c.el("text", {"x": 4, "y": c.y(i) + _ROW / 2 + 4, "class": "lane-name"}, text=name)
        c.el("line", {"x1": _LEFT, "x2": _LEFT + _WIDTH, "y1": c.y(i + 1), "y2": c.y(i + 1), "class": "lane-sep"})


def _levels(c: _Canvas, tl: dict[str, Any]) -> None:
    step = tl["step_ms"]
    top = c.y(0)

    def line(values: list[int], cls: str) -> None:
        if not values:
            return
        pts = " ".join(f"{c.x(i * step)},{round(top + _ROW - 2 - (max(-90, v) + 90) / 90 * (_ROW - 4), 1)}"
                       for i, v in enumerate(values))
        c.el("polyline", {"points": pts, "class": cls})

    line(tl["bot_db"], "level bot")
    line(tl["caller_db"], "level caller")
    # VAD speech: runs of windows at or above one half.
    y, start = c.y(2), None
    for i, p in enumerate(list(tl["vad_pct"]) + [0]):
        if p >= 50 and start is None:
            start = i
        elif p < 50 and start is not None:
            c.el("rect", {"x": c.x(start * step), "y": y + 8, "width": max(1.0, c.x(i * step) - c.x(start * step)),
                          "height": _ROW - 16, "class": "vad"},
                 tip=_tip(vad="speech", start_ms=start * step, end_ms=i * step))
            start = None


def _spans(c: _Canvas, spans: list[dict[str, Any]], lane: int, prefix: str) -> None:
    y = c.y(lane)
    for s in spans:
        x0, x1 = c.x(s["start"]), c.x(s["end"])
        tip = _tip(**{"what": f"{prefix} {s['kind']}", "from_ms": s["start"], "to_ms": s["end"], "note": s["label"],
                      "heard": s.get("heard_text"), "cut": s.get("cut_text")})
        c.el("rect", {"x": x0, "y": y + 6, "width": max(2.0, x1 - x0), "height": _ROW - 12,
                      "class": f"span {prefix}-{s['kind']}", "data_kind": s["kind"]}, tip=tip)
        if x1 - x0 > 44 and s["kind"] == "cut":
            c.el("text", {"x": x0 + 3, "y": y + _ROW / 2 + 4, "class": "span-label"}, text="cut")


def _points(c: _Canvas, tl: dict[str, Any]) -> None:
    y = c.y(3)
    for t in tl["transcripts"]:
        x = c.x(t["at"])
        if t["kind"] == "final":
            c.el("circle", {"cx": x, "cy": y + _ROW / 2, "r": 5, "class": "final"},
                 tip=_tip(transcript="final (redacted)", at_ms=t["at"], text=t["text"]))
        else:
            c.el("line", {"x1": x, "x2": x, "y1": y + 9, "y2": y + _ROW - 9, "class": "partial"},
                 tip=_tip(transcript=t["text"], at_ms=t["at"]))
    y = c.y(5)
    for b in tl["barge_ins"]:
        x = c.x(b["at"])
        c.el("path", {"d": f"M{x},{y + 5} l6,10 l-6,10 l-6,-10 z", "class": f"bargein {b['ending']}",
                      "data_reaction_ms": b["reaction_ms"]},
             tip=_tip(barge_in=f"reaction {b['reaction_ms']} ms", at_ms=b["at"], ended=b["ending"],
                      heard=b["heard_text"]))
        c.el("text", {"x": x + 8, "y": y + _ROW / 2 + 4, "class": "bargein-label"}, text=f"{b['reaction_ms']} ms")
    y = c.y(6)
    for m in tl["markers"]:
        x = c.x(m["at"])
        c.el("rect", {"x": x - 4, "y": y + 9, "width": 8, "height": 16, "class": f"marker gate-{m['gate']}",
                      "fill": _GATE_COLOUR.get(m["gate"], "#555"), "data_gate": m["gate"], "data_seq": m["seq"]},
             tip=_tip(decision=f"#{m['seq']} {m['gate']} {m['outcome']}", at_ms=m["at"], reason=m["reason"],
                      rule=m["rule"], evidence=m["evidence"]))


def timeline_svg(tl: dict[str, Any]) -> Markup:
    c = _Canvas(tl["duration_ms"])
    _axis(c)
    _levels(c, tl)
    _spans(c, tl["caller"], 1, "caller")
    _spans(c, tl["bot"], 4, "bot")
    _points(c, tl)
    h = _TOP + len(LANES) * _ROW + 6
    return Markup(f'<svg class="timeline" id="timeline" viewBox="0 0 {_LEFT + _WIDTH + 8} {h}" '
                  f'width="{_LEFT + _WIDTH + 8}" height="{h}" role="img" aria-label="call timeline">'
                  + "".join(c.out) + "</svg>")
