"""Route in call context: ``context_route_acc`` for bench/route.py.

Each dialogue of ``context_data`` is one call through the live gate pipeline
(``PolicyGatekeeper`` on the bundled policy, as the gateway builds it): every caller
turn arrives as word-prefix partials (every second word) and then its final; the
turn's route is the one the final leaves the call on (``CallerTurnVerdict.route``),
compared with the dialogue's annotation. Finals' MiniLM embeddings come from the
embedding cache (computed once per text on this machine).

    .venv/bin/python bench/route_context.py [--split dev|test] [--policy FILE] [--no-encoder]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import context_data  # noqa: E402
from fewshot_data import embed  # noqa: E402
from turngate.config import Config  # noqa: E402
from turngate.embedding.cache import for_policy  # noqa: E402
from turngate.gates.pipeline import PolicyGatekeeper  # noqa: E402
from turngate.gates.route import Router  # noqa: E402
from turngate.policy import load_policy  # noqa: E402


class Precomputed:
    """The policy's encoder, answering finals from embeddings computed ahead (like the
    gateway's prefetch) and everything else from the encoder itself."""

    def __init__(self, encoder, texts: list[str]) -> None:
        self.encoder = encoder
        self.dim = encoder.dim
        E = embed(encoder, texts)
        self._known = {t.strip(): E[i] for i, t in enumerate(texts)}

    def encode_one(self, text: str) -> np.ndarray:
        v = self._known.get(text.strip())
        return v if v is not None else self.encoder.encode_one(text)

    def encode(self, texts, batch_size: int = 64):
        return self.encoder.encode(texts, batch_size)

    def encode_static(self, texts):
        return self.encoder.encode_static(texts)

    def encode_static_one(self, text):
        return self.encoder.encode_static_one(text)

    # A policy that tunes the encoder (``encoder_tune_epochs``) reads finals' token states:
    # computed inline here, one encoding per final, as the gateway's prefetch would.

    def encode_tokens(self, texts, layers: int = 0):
        return self.encoder.encode_tokens(texts, layers=layers)

    def tune(self, states, labels, n_classes, *, epochs, lr, layers: int = 0):
        return self.encoder.tune(states, labels, n_classes, epochs=epochs, lr=lr, layers=layers)

    def finish(self, states, params=None, layers: int = 0):
        return self.encoder.finish(states, params, layers=layers)


def run(dialogues, policy=None, router=None, *, sparse: bool = False) -> dict[str, float]:
    """``sparse``: the router without the sentence encoder (``route_gate.encoder: off``)."""
    policy = policy or load_policy()
    if sparse:
        policy = replace(policy, route_gate=replace(policy.route_gate, encoder="off"))
    if router is None:
        encoder = None
        base = for_policy(policy, Config.from_env().cache_dir)
        if base is not None:
            encoder = Precomputed(base, [t for d in dialogues for t, _ in d])
        router = Router.from_policy(policy, encoder=encoder)
    ok = total = first_ok = first_total = slot_ok = slot_total = 0
    for d in dialogues:
        keeper = PolicyGatekeeper(policy=policy, router=router, greeting_text="")
        prev_expected = None
        for text, expected in d:
            words = text.split()
            for k in range(2, len(words), 2):
                keeper.caller_text(" ".join(words[:k]), final=False, agent_speaking=False)
            got = keeper.caller_text(text, final=True, agent_speaking=False).route
            hit = got == expected
            ok += hit
            total += 1
            if expected != prev_expected:  # the turn that states (or changes) the request
                first_ok += hit
                first_total += 1
            else:
                slot_ok += hit
                slot_total += 1
            prev_expected = expected
    return {"context_route_acc": round(ok / total, 4), "context_route_turns": total,
            "context_route_acc_request_turns": round(first_ok / max(first_total, 1), 4),
            "context_route_acc_followup_turns": round(slot_ok / max(slot_total, 1), 4),
            "context_route_dialogues": len(dialogues)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--policy", default=None, help="policy file (default: the bundled one)")
    ap.add_argument("--no-encoder", action="store_true")
    args = ap.parse_args()
    dialogues = context_data.dev() if args.split == "dev" else context_data.test()
    res = run(dialogues, load_policy(args.policy), sparse=args.no_encoder)
    print(json.dumps({"bench": "route_context", "split": args.split, **res}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
