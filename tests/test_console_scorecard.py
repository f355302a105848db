"""The LQA scorecard, the timeline lanes and the review metrics: pure functions over a
call's records, tested on hand-written decision logs shaped like the gateway's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from turngate.console.metrics import bucket_seconds, review_metrics, window
from turngate.console.scorecard import aggregate, response_latencies, scorecard
from turngate.console.svg import timeline_svg
from turngate.console.timeline import build_timeline
from turngate.core.decisions import Decision
from turngate.store.base import CallRecord, CallSummary, OutboxRecord

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def record(rows, *, outbox=(), context=(), track=None, call_id="CA1", started=T0, seconds=20.0):
    ds = tuple(Decision(call_id=call_id, seq=i + 1, at_ms=at, gate=g, outcome=o, reason=r, rule=rule,
                        policy_version="pv", evidence=ev) for i, (at, g, o, r, rule, ev) in enumerate(rows))
    summary = {"context": [{"role": ro, "content": c} for ro, c in context]}
    if track is not None:
        summary["track"] = track
    obs = tuple(OutboxRecord(key=f"{call_id}:{k}", kind=k, call_id=call_id, payload=p, status="pending", attempts=0,
                             created_at=started, delivered_at=None, last_error=None) for k, p in outbox)
    call = CallSummary(call_id=call_id, stream_sid="MZ", caller="", started_at=started,
                       ended_at=started + timedelta(seconds=seconds), outcome="completed", policy_version="pv",
                       decision_count=len(ds))
    return CallRecord(call=call, summary=summary, decisions=ds, outbox=obs)


GREETING = [
    (0, "turn", "call_started", "stream_start", "turn.start", {}),
    (40, "turn", "agent_started", "first_audio", "turn.first_audio", {"generation": 1}),
    (3800, "turn", "agent_done", "playback_complete", "turn.playback_done", {"played_ms": 3760}),
    (4900, "turn", "caller_started", "vad_onset", "turn.speech_start", {"onset_ms": 4850}),
    (7200, "turn", "end_of_turn", "complete", "turn.end.complete", {"silence_ms": 350, "words": 5}),
    (7500, "route", "route", "classifier_final", "route.faq", {"route": "faq", "confidence": 0.99}),
    (7500, "guard", "allow", "clean", "guard.allow", {"redacted": "what are your opening hours"}),
    (7640, "turn", "agent_started", "first_audio", "turn.first_audio", {"generation": 2}),
]
INTERRUPTED = GREETING + [
    (10390, "turn", "pause", "caller_sound_over_playback", "bargein.stop_fast",
     {"reaction_ms": 32, "onset_ms": 10358, "heard_ms": 2700, "heard_text": "Our branches are open"}),
    (11400, "turn", "abandon", "interrupt", "bargein.interrupt_phrase",
     {"heard_text": "Our branches are open", "heard_ms": 2700, "sound_ms": 900, "words": ["stop"]}),
    (12000, "turn", "ended", "stop", "turn.end_of_call", {}),
]
TRACK = {"step_ms": 100, "caller_db": [-90] * 50 + [-20] * 20, "vad_pct": [0] * 50 + [90] * 20,
         "bot_sent_db": [-25] * 30, "partials": [[5600, 2]],
         "said": [[7500, 2, 0, "Our branches are open from nine to five."]]}


def test_interrupted_answer_scores_its_reaction_and_the_truncation_to_what_was_heard():
    rec = record(INTERRUPTED, context=[("assistant", "Hello"), ("user", "what are your opening hours"),
                                       ("assistant", "Our branches are open")])
    card = scorecard(rec)
    assert card["route"] == "faq"
    assert card["interruptions"]["count"] == 1
    (i,) = card["interruptions"]["each"]
    assert (i["reaction_ms"], i["ending"], i["truncated"]) == (32, "abandon", True)
    assert card["response_latency_ms"]["values"] == [7640 - (7200 - 350)]
    assert card["resolution"] == "abandoned"
    assert card["handoff"] == {"decided": False, "reason": None, "reason_matches_note": None,
                               "verified_passed_on": None}


def test_context_that_kept_the_unheard_tail_fails_truncation():
    rec = record(INTERRUPTED, context=[("assistant", "Our branches are open from nine to five.")])
    assert scorecard(rec)["interruptions"]["truncated_ok"] is False


def test_late_final_after_a_resume_counts_one_barge_in_that_was_abandoned():
    rows = GREETING + [
        (9049, "turn", "pause", "caller_sound_over_playback", "bargein.stop_fast",
         {"reaction_ms": 32, "onset_ms": 9017, "heard_ms": 1200, "heard_text": "Our branches"}),
        (10044, "turn", "resume", "no_final", "bargein.final_timeout", {"sound_ms": 768}),
        (10381, "turn", "pause", "late_final", "bargein.late_final", {"heard_ms": 1300, "heard_text": "Our branches"}),
        (10381, "turn", "abandon", "interrupt", "bargein.interrupt_phrase", {"heard_text": "Our branches", "late": True}),
    ]
    card = scorecard(record(rows, context=[("assistant", "Our branches")]))
    assert card["interruptions"]["count"] == 1
    assert card["interruptions"]["each"][0]["ending"] == "abandon"
    assert card["interruptions"]["truncated_ok"] is True


def test_handoff_with_matching_note_and_verified_caller_passes_on_the_verification():
    rows = GREETING + [
        (8000, "guard", "authenticated", "dtmf_pin_match", "guard.auth.dtmf_pin", {"digits": 4}),
        (8900, "handoff", "handoff", "explicit_request", "handoff.explicit_request",
         {"evidence": [{"signal": "counters", "reasks": 2}]}),
    ]
    good = "VERIFIED (do not ask again):\n  identity: caller verified (verified by dtmf_pin at 8.0s)\nCONFIRMED REQUESTS:\n"
    card = scorecard(record(rows, outbox=[("crm_note", {"reason": "explicit_request", "note": good})]))
    assert card["handoff"] == {"decided": True, "reason": "explicit_request", "reason_matches_note": True,
                               "verified_passed_on": True}
    assert card["reasks"] == 2 and card["resolution"] == "handed_off"
    bad = "VERIFIED (do not ask again):\n  (none)\nCONFIRMED REQUESTS:\n"
    card = scorecard(record(rows, outbox=[("crm_note", {"reason": "repeated_reasks", "note": bad})]))
    assert card["handoff"]["reason_matches_note"] is False
    assert card["handoff"]["verified_passed_on"] is False


def test_guard_interventions_and_fallbacks_are_counted_by_outcome_and_trigger():
    rows = GREETING + [
        (8000, "guard", "redact", "pii_redacted", "guard.pii.card_number", {}),
        (8000, "guard", "require_auth", "auth_required", "guard.auth.payment", {}),
        (9000, "model", "fallback", "provider_error", "model.fallback", {"trigger": "ttft_budget", "from": "a", "to": "b"}),
    ]
    card = scorecard(record(rows))
    assert card["guard"]["by_outcome"] == {"redact": 1, "require_auth": 1}
    assert card["fallbacks"]["by_trigger"] == {"ttft_budget": 1}
    agg = aggregate([card, scorecard(record(GREETING, call_id="CA2"))])
    assert agg["guard_intervention_rate"] == 0.5 and agg["fallback_rate"] == 0.5 and agg["calls"] == 2


def test_response_latency_runs_from_end_of_speech_to_first_audio():
    assert response_latencies(record(GREETING).decisions) == [
        {"speech_end_ms": 6850, "first_audio_ms": 7640, "latency_ms": 790}]


def test_timeline_splits_the_bot_answer_into_heard_and_cut_and_marks_the_barge_in():
    tl = build_timeline(record(INTERRUPTED, track=TRACK))
    bot = [(s["kind"], s["start"], s["end"]) for s in tl["bot"]]
    assert ("heard", 7640, 10390) in bot
    cut = next(s for s in tl["bot"] if s["kind"] == "cut")
    assert cut["start"] == 10390 and cut["cut_text"] == "from nine to five." and cut["heard_text"] == "Our branches are open"
    assert tl["barge_ins"] == [{"at": 10358, "reaction_ms": 32, "ending": "abandon",
                                "heard_text": "Our branches are open", "seq": 9}]
    assert [m["gate"] for m in tl["markers"]] == ["route", "guard"]
    assert {"at": 5600, "kind": "partial", "text": "partial, 2 word(s)"} in tl["transcripts"]
    assert tl["caller"][0] == {"start": 4850, "end": 6850, "kind": "turn", "label": "5 words"}
    svg = str(timeline_svg(tl))
    assert 'class="span bot-cut"' in svg and "32 ms" in svg and svg.count("<polyline") == 2


def test_svg_escapes_evidence():
    rows = GREETING + [(8000, "guard", "block", "injection", "guard.injection", {"x": "<script>alert(1)</script>"})]
    svg = str(timeline_svg(build_timeline(record(rows))))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_metrics_bucket_per_route_and_over_time():
    a = scorecard(record(INTERRUPTED, call_id="A"))
    b = scorecard(record(GREETING + [(8900, "handoff", "handoff", "explicit_request", "handoff.explicit_request", {})],
                         call_id="B"))
    m = review_metrics([(T0, a), (T0 + timedelta(minutes=30), b)])
    assert m["calls"] == 2 and m["bucket_s"] == 300
    assert m["over_time"]["t"] == [int(T0.timestamp()), int(T0.timestamp()) + 1800]
    assert m["over_time"]["interruption_rate"] == [1.0, 0.0]
    assert m["per_route"]["faq"]["handoff_rate"] == 0.5
    assert m["handoff_by_reason"] == {"explicit_request": 0.5}
    assert bucket_seconds(T0, T0 + timedelta(days=3)) == 6 * 3600
    assert window("7d", T0) == T0 - timedelta(days=7) and window("", T0) is None
