"""`turngate policy check` and `turngate policy eval` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _turngate() -> list[str]:
    exe = Path(sys.executable).parent / "turngate"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "turngate.cli"]


def _run(args, stdin=""):
    return subprocess.run(_turngate() + args, input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_check_accepts_the_default_policy():
    r = _run(["policy", "check", str(ROOT / "policies" / "default.yaml")])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok ") and "(8 routes)" in r.stdout


def test_check_rejects_a_bad_policy_with_its_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes:\n  faq:\n    examples: [hi]\n    requires_auth: perhaps\n")
    r = _run(["policy", "check", str(bad)])
    assert r.returncode == 1
    assert f"{bad}:4:" in r.stderr and "routes.faq.requires_auth" in r.stderr


def test_eval_over_a_pipe_writes_one_line_per_input_and_survives_bad_lines():
    lines = [
        {"text": "i want to pay my bill", "final": True, "auth": False},
        "this is not json",
        {"text": "can i speak to a real person please", "final": True, "auth": True},
        {"text": "i want a refund of four hundred dollars for my jacket", "final": True, "auth": True},
        {"text": "i need to move my", "final": False, "auth": False},
        {"text": "i need to move my appointment to", "final": False, "auth": False},
        {"text": "i need to move my appointment to friday", "final": True, "auth": False},
    ]
    stdin = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    r = _run(["policy", "eval"], stdin)
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(out) == len(lines)
    assert "error" in out[1]
    pay, human, refund = out[0], out[2], out[3]
    for o in (pay, human, refund, out[6]):
        assert set(o) >= {"route", "guard", "handoff", "latency_us"}
        assert set(o["route"]) >= {"name", "confidence"}
        assert set(o["guard"]) >= {"outcome", "findings", "injection", "unsafe", "redacted"}
        assert set(o["handoff"]) >= {"handoff", "reason"}
        assert o["latency_us"] > 0
    assert pay["route"]["name"] == "payment" and not pay["handoff"]["handoff"]
    assert human["route"]["name"] == "human"
    assert human["handoff"] == {**human["handoff"], "handoff": True, "reason": "explicit_request"}
    assert refund["route"]["name"] == "refund"
    assert refund["handoff"]["reason"] == "refund_above_limit"
    assert out[6]["route"]["name"] == "appointment"


def test_eval_guard_redacts_a_spoken_card_and_checks_authority():
    line = {"text": "i want to pay my bill my card is four one one one one one one one "
                    "one one one one one one one one", "final": True, "auth": False}
    r = _run(["policy", "eval"], json.dumps(line) + "\n")
    assert r.returncode == 0, r.stderr
    (out,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert out["route"]["name"] == "payment"
    assert out["guard"]["outcome"] == "require_auth"
    assert any(f["type"] == "CARD_NUMBER" for f in out["guard"]["findings"])
    assert "four one one one" not in out["guard"]["redacted"]


def test_eval_with_a_missing_policy_file_fails_cleanly(tmp_path):
    r = _run(["policy", "eval", "--policy", str(tmp_path / "nope.yaml")], "")
    assert r.returncode == 1 and "cannot read" in r.stderr
