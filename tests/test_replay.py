"""What-if replay: surrogate redaction, the decision comparison, and a recorded call
replayed through the core under the same and under a stricter policy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from turngate.core.decisions import Decision
from turngate.core.events import DtmfReceived, FinalTranscript, SpeechSynthesized, TimerFired, VoiceActivity
from turngate.replay.record import decode_event, encode_event
from turngate.replay.redact import luhn_ok, redact_numbers, surrogate_digits
from turngate.replay.run import compare

ROOT = Path(__file__).resolve().parents[1]


def test_surrogates_keep_length_first_digit_and_luhn_but_not_the_number():
    card = "4111111111111111"
    s = surrogate_digits(card)
    assert len(s) == 16 and s[0] == "4" and s != card and luhn_ok(s)
    assert surrogate_digits("739") != "739" and len(surrogate_digits("739")) == 3


def test_redaction_rewrites_spoken_and_written_numbers_in_their_own_form():
    spoken = redact_numbers("the number is four one one one one one one one one one one one one one one one")
    assert "one one one one" not in spoken and spoken.startswith("the number is four ")
    assert len(spoken.split()) == 3 + 16
    written = redact_numbers("card 4111 1111 1111 1111, code 739, ssn 536-22-9876")
    assert re.fullmatch(r"card 4\d{3} \d{4} \d{4} \d{4}, code 7\d\d, ssn 5\d\d-\d\d-\d{4}", written)
    for canary in ("4111", "1111", "739", "536", "9876"):
        assert canary not in written
    assert redact_numbers("I'd like to move my appointment to the fifth") == \
        "I'd like to move my appointment to the fifth"


def test_event_record_round_trips_and_keeps_no_pin_or_audio():
    ev = SpeechSynthesized(generation=2, segment=0, text="Hello", audio=b"\x01" * 800, level_db=-21.0,
                           chunk_levels_db=(-20.0,))
    t, back = decode_event(json.loads(json.dumps(encode_event(ev, 1234))))
    assert t == 1234 and back.audio == b"\xff" * 800 and back.text == "Hello" and back.chunk_levels_db == (-20.0,)
    assert decode_event(encode_event(DtmfReceived(digit="7"), 5))[1] == DtmfReceived(digit="0")
    assert decode_event(encode_event(DtmfReceived(digit="#"), 5))[1] == DtmfReceived(digit="#")
    assert encode_event(TimerFired(), 9) is None
    assert decode_event(encode_event(VoiceActivity(probability=0.91234, level_db=-20.04), 32))[1] == \
        VoiceActivity(probability=0.912, level_db=-20.0)
    assert "739" not in json.dumps(encode_event(FinalTranscript(text="the code is seven three nine"), 1))


def _d(seq, gate, outcome, rule="r"):
    return Decision(call_id="C", seq=seq, at_ms=seq * 10, gate=gate, outcome=outcome, reason="x", rule=rule,
                    policy_version="p")


def test_compare_lists_exactly_the_changed_removed_and_added_decisions():
    a = (_d(1, "turn", "call_started"), _d(2, "guard", "redact"), _d(3, "model", "select"), _d(4, "turn", "ended"))
    b = (_d(1, "turn", "call_started"), _d(2, "guard", "block"), _d(3, "turn", "ended"))
    changes = compare(a, b)
    assert [(c["change"], (c["was"] or {}).get("outcome"), (c["now"] or {}).get("outcome")) for c in changes] == [
        ("changed", "redact", "block"), ("removed", "select", None)]
    assert [c["after_earlier_change"] for c in changes] == [False, True]
    assert compare(a, a) == []


# -- a recorded call, end to end ------------------------------------------------------------


@pytest.fixture(scope="module")
def replayed(console_gateway, tmp_path_factory):
    from turngate.replay.cli import gatekeeper_for
    from turngate.llm.profiles import fallback_policy
    from turngate.replay.run import replay_call
    from turngate.store import open_store

    url, ids, store_url, _spans = console_gateway
    d = tmp_path_factory.mktemp("policies")
    from conftest import console_policy_text

    keep = console_policy_text(ROOT, "http://127.0.0.1:9/v1")  # the gateway's policy (the model is not called)
    strict = keep.replace("CARD_NUMBER: {input: redact, output: mask_last4}",
                          "CARD_NUMBER: {input: block, output: mask_last4}")
    assert strict != keep
    (d / "same.yaml").write_text(keep)
    (d / "strict.yaml").write_text(strict)
    store = open_store(store_url)
    out = {}
    for name in ("same", "strict"):
        factory, policy = gatekeeper_for(str(d / f"{name}.yaml"))
        for scenario in ("canary_pii", "long_answer_interrupted"):
            rec = store.get_call(ids[scenario])
            out[name, scenario] = replay_call(rec, factory, policy.turn_taking, policy_version=policy.version,
                                              models=fallback_policy(policy.models))
    out["records"] = {s: store.get_call(ids[s]) for s in ("canary_pii", "long_answer_interrupted")}
    store.close()
    return out




@pytest.mark.slow
def test_replay_under_the_same_policy_changes_nothing(replayed):
    for scenario in ("canary_pii", "long_answer_interrupted"):
        res = replayed["same", scenario]
        assert len(res.recorded) > 5
        assert res.changes == (), "\n".join(f"{c['change']} {c['was']} -> {c['now']}" for c in res.changes)


@pytest.mark.slow
def test_replay_under_a_stricter_card_rule_changes_exactly_the_card_guard_decisions(replayed):
    assert replayed["strict", "long_answer_interrupted"].changes == ()  # no card in that call
    res = replayed["strict", "canary_pii"]
    assert res.changes
    first = res.changes[0]
    assert not first["after_earlier_change"]
    assert first["now"]["gate"] == "guard" and first["now"]["outcome"] == "block"
    assert "card_number" in first["now"]["rule"]
    # Every decision that changed is a guard decision about the card number; nothing else moved.
    for c in res.changes:
        for side in (c["was"], c["now"]):
            if side is not None:
                assert side["gate"] == "guard" and ("card_number" in side["rule"] or side["outcome"] == "require_auth"), c
    blocked = [c for c in res.changes if c["now"] and c["now"]["outcome"] == "block"]
    assert blocked, "the stricter rule blocks the card number"


@pytest.mark.slow
def test_replay_records_hold_no_canary_value(replayed):
    rec = replayed["records"]["canary_pii"]
    events = rec.summary["replay"]["events"]
    texts = [e[2] for e in events if e[1] in ("P", "F")] + [e[3] for e in events if e[1] == "T"]
    texts += [e[4] for e in events if e[1] == "S"] + [e[2] for e in events if e[1] == "D"]
    assert any("card" in t for t in texts), "the caller's words are in the record, redacted"
    for text in texts:
        digits = re.sub(r"(?<=\d)[\s-]+(?=\d)", "", text)
        for canary in ("4111", "739", "536229876"):
            assert canary not in digits, text
        for canary in ("four one one one", "seven three nine", "five three six two two"):
            assert canary not in text, text


def test_a_secret_said_in_words_never_reaches_the_replay_record():
    for text in ("my password is blue monkey", "my mother's maiden name is jones"):
        assert encode_event(FinalTranscript(text=text), 10)[2] == "[REDACTED]"
    assert encode_event(FinalTranscript(text="my password is not working"), 10)[2] == "my password is not working"
