"""Multi-turn caller dialogues for the route-in-context benchmark (bench/route.py's
``context_route_acc``), built from ../shared/data/dialogues.

SGD (Schema-Guided Dialogue, CC BY-SA 4.0): every dialogue whose services all map to a
route of the bundled policy (``SERVICE_ROUTE``); each user turn's expected route is the
route of its annotated active intent, and a turn without one ("thanks, that's all")
expects the route the call is on. Most turns fill a slot ("A Psychologist would be
fine", "Something in Mountain View", "$125 from checking"): they must stay in the flow.
To measure drift too, dialogues are also joined in pairs of different routes (one call
in which the caller, after finishing one request, makes another): the first turn of the
second part expects the new route. ``dev`` (the SGD dev file) is for choosing parameters;
``test`` (the SGD test file plus ABCD's three sample dialogues) is reported.

ABCD (MIT): the customer turns of the three sample dialogues, labelled by flow (returns
and refunds -> refund, a store-wide question -> faq) from the turn that states the
request on (the greeting before it is not scored).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DIALOGUES = Path(__file__).resolve().parents[2] / "shared" / "data" / "dialogues"

SERVICE_ROUTE = {
    "Services_1": "appointment", "Services_2": "appointment", "Services_3": "appointment",
    "Services_4": "appointment", "Calendar_1": "appointment",
    "Payment_1": "payment", "Banks_1": "payment", "Banks_2": "payment",
}
ABCD_ROUTE = {"return_size": "refund", "refund_status": "refund", "timing_4": "faq"}
# Customer turns before the request is stated (greetings) are not scored.
ABCD_FIRST_REQUEST = {"return_size": 0, "refund_status": 0, "timing_4": 1}

Turn = tuple[str, str]  # (caller text, expected route)


def sgd(split: str) -> list[list[Turn]]:
    raw = json.loads((DIALOGUES / "sgd" / f"{split}_banks_payment_services_calendar.json").read_text())
    out = []
    for d in raw:
        if not all(s in SERVICE_ROUTE for s in d["services"]):
            continue
        turns: list[Turn] = []
        current: str | None = None
        for t in d["turns"]:
            if t["speaker"] != "USER":
                continue
            intents = [f["service"] for f in t["frames"]
                       if f.get("state", {}).get("active_intent") not in (None, "NONE")]
            if intents:
                current = SERVICE_ROUTE[intents[0]]
            if current is not None:
                turns.append((t["utterance"], current))
        if turns:
            out.append(turns)
    return out


def abcd() -> list[list[Turn]]:
    raw = json.loads((DIALOGUES / "abcd" / "abcd_sample.json").read_text())
    out = []
    for d in raw:
        sub = d["scenario"]["subflow"]
        said = [t for speaker, t in d["original"] if speaker == "customer"]
        out.append([(t, ABCD_ROUTE[sub]) for t in said[ABCD_FIRST_REQUEST[sub]:]])
    return out


def joined(dialogues: list[list[Turn]], n: int, seed: int = 3) -> list[list[Turn]]:
    """``n`` calls of two dialogues with different routes, back to back."""
    rng = np.random.default_rng(seed)
    by_route: dict[str, list[list[Turn]]] = {}
    for d in dialogues:
        by_route.setdefault(d[0][1], []).append(d)
    routes = sorted(by_route)
    out = []
    if len(routes) < 2:
        return out
    for _ in range(n):
        a, b = rng.choice(len(routes), size=2, replace=False)
        da = by_route[routes[a]][int(rng.integers(len(by_route[routes[a]])))]
        db = by_route[routes[b]][int(rng.integers(len(by_route[routes[b]])))]
        out.append(da + db)
    return out


def dev() -> list[list[Turn]]:
    d = sgd("dev")
    return d + joined(d, 40)


def test() -> list[list[Turn]]:
    d = sgd("test")
    return d + joined(d, 80) + abcd()
