"""Scenario files: validation errors that name the file and the field; the bundled scenarios load;
the webhook signature and TwiML reading match Twilio's documented behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from turngate.sim.expect import BargeIn, barge_in_episode, check, final_route
from turngate.sim.scenario import Dtmf, Hangup, Say, ScenarioError, WaitFor, Wav, load_scenario, parse_scenario
from turngate.sim.webhook import TwimlError, parse_connect_stream, twilio_signature

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_a_full_scenario_parses_into_typed_steps_with_paths_resolved_against_the_file(tmp_path):
    (tmp_path / "clip.wav").write_bytes((DATA / "audio/cmu_arctic/arctic_a0010.wav").read_bytes())
    p = _write(tmp_path, """
name: demo
voice: awb
noise: {file: clip.wav, snr_db: 15}
echo: {delay_ms: 120, attenuation_db: 18}
steps:
  - wait_for: bot_done
    gap_ms: 300
  - say: "I need to move my appointment"
  - wait_for: bot_speaking
    offset_ms: 1000
  - say: "stop, wait"
    voice: slt
  - wav: clip.wav
  - dtmf: "12#"
  - hangup
expect:
  route: appointment_change
  handoff: false
  guard: [{outcome: require_auth}]
  barge_ins: [{outcome: abandon}, {outcome: [resume, suppressed]}]
  no_decisions: [{gate: turn, outcome: abandon, reason: echo}]
""")
    s = load_scenario(p)
    assert s.name == "demo" and s.noise.file == (tmp_path / "clip.wav").resolve() and s.echo.delay_ms == 120
    assert s.steps[0] == WaitFor(until="bot_done", gap_ms=300)
    assert s.steps[1] == Say(text="I need to move my appointment", voice="awb")
    assert s.steps[3] == Say(text="stop, wait", voice="slt")
    assert isinstance(s.steps[4], Wav) and s.steps[5] == Dtmf(digits="12#") and s.steps[6] == Hangup()
    assert s.expect.barge_ins == (("abandon",), ("resume", "suppressed"))
    assert s.expect.guard[0].gate == "guard"


@pytest.mark.parametrize("body, where, words", [
    ("steps: []", "steps", "non-empty list"),
    ("steps: [{say: hi}]\ncolour: red", "colour", "unknown field"),
    ("steps: [{say: hi, wav: x.wav}]", "steps[0]", "exactly one of"),
    ("steps: [{say: hi, volume: 3}]", "steps[0].volume", "unknown field"),
    ("steps: [{say: hi, voice: bob}]", "steps[0].voice", "unknown flite voice"),
    ("steps: [{wav: missing.wav}]", "steps[0].wav", "no such file"),
    ("steps: [{wait_for: bot_finished}]", "steps[0].wait_for", "bot_speaking, bot_done"),
    ("steps: [{wait_for: bot_done, offset_ms: 100}]", "steps[0].offset_ms", "gap_ms"),
    ("steps: [{wait_for: bot_speaking, offset_ms: 1.5}]", "steps[0].offset_ms", "whole number"),
    ("steps: [{dtmf: 1234}]", "steps[0].dtmf", "quote the digits"),
    ("steps: [{dtmf: '12x'}]", "steps[0].dtmf", "not DTMF keys"),
    ("steps: [hangup, {say: hi}]", "steps[0]", "hangup must be the last step"),
    ("steps: [dance]", "steps[0]", "unknown step"),
    ("steps: [{silence_ms: 5}]", "steps[0].silence_ms", "out of range"),
    ("steps: [{say: hi}]\nnoise: {file: x.wav}", "noise.snr_db", "required"),
    ("steps: [{say: hi}]\nexpect: {barge_ins: [{outcome: stop}]}", "expect.barge_ins[0].outcome", "abandon"),
    ("steps: [{say: hi}]\nexpect: {guard: [{reason: pan}]}", "expect.guard[0].outcome", "required"),
    ("steps: [{say: hi}]\nexpect: {decisions: [{outcome: x}]}", "expect.decisions[0].gate", "required"),
    ("steps: [{say: hi}]\nexpect: {handoff: 3}", "expect.handoff", "true, false or a reason"),
    ("steps: [{say: hi}]\nexpect: {routes: faq}", "expect.routes", "unknown field"),
])
def test_scenario_errors_name_the_file_and_the_field(tmp_path, body, where, words):
    p = _write(tmp_path, body, "broken.yaml")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert "broken.yaml" in msg and f": {where}:" in msg and words in msg, msg
    assert e.value.where == where


def test_invalid_yaml_is_reported_with_its_line(tmp_path):
    p = _write(tmp_path, "steps:\n  - say: [unclosed\n", "bad.yaml")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: line \d+: not valid YAML"):
        load_scenario(p)


def test_a_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.yaml")


def test_every_bundled_scenario_loads_and_states_expectations():
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    names = {f.stem for f in files}
    assert {"long_answer_interrupted", "appointment_interrupt", "backchannels", "noise_echo",
            "payment_unauthenticated", "card_number", "human_request"} <= names
    for f in files:
        s = load_scenario(f)
        e = s.expect
        assert s.description and (e.route or e.barge_ins is not None or e.guard or e.handoff is not None), f


# -- Twilio's webhook ------------------------------------------------------------------


@pytest.mark.parametrize("caller, signature", [
    # Twilio's documented examples (api-snippets, security/signature_validation): auth token 12345.
    ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="),
])
def test_webhook_signature_matches_twilios_documented_example(caller, signature):
    params = {"CallSid": "CA1234567890ABCDE", "Caller": caller, "Digits": "1234", "From": caller,
              "To": "+18005551212"}
    assert twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params) == signature
    assert twilio_signature("12346", "https://mycompany.com/myapp.php?foo=1&bar=2", params) != signature


def test_connect_stream_twiml_gives_the_url_and_every_parameter():
    s = parse_connect_stream('<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
                             '<Stream url="ws://127.0.0.1:9/twilio/stream"><Parameter name="token" value="abc"/>'
                             '<Parameter name="lang" value="en"/></Stream></Connect></Response>')
    assert s.url == "ws://127.0.0.1:9/twilio/stream" and s.parameters == {"token": "abc", "lang": "en"}


@pytest.mark.parametrize("twiml, words", [
    ("not xml", "not XML"),
    ("<Response><Say>hi</Say></Response>", "no <Connect><Stream>"),
    ("<Response><Start><Stream url='wss://x'/></Start></Response>", "no <Connect><Stream>"),
    ("<Response><Connect><Stream url='http://x'/></Connect></Response>", "not a ws://"),
])
def test_twiml_without_a_bidirectional_stream_is_refused(twiml, words):
    with pytest.raises(TwimlError, match=words):
        parse_connect_stream(twiml)


# -- expectations against decisions ---------------------------------------------------------


def _d(seq, at, gate, outcome, reason="r", **ev):
    return {"call_id": "CA1", "seq": seq, "at_ms": at, "gate": gate, "outcome": outcome, "reason": reason,
            "rule": "x", "policy_version": "1", "evidence": ev}


def test_barge_in_episode_reads_pause_then_abandon_and_prefers_the_abandons_heard_text():
    ds = [_d(1, 900, "turn", "pause", heard_text="Our opening"),
          _d(2, 1300, "turn", "abandon", heard_text="Our opening hours are"),
          _d(3, 5000, "turn", "pause"), _d(4, 5400, "turn", "resume")]
    assert barge_in_episode(ds, 1000, 4800) == ("abandon", "Our opening hours are")
    assert barge_in_episode(ds, 4800, None) == ("resume", None)
    assert barge_in_episode(ds[:1], 1000, None) == ("paused", "Our opening")
    assert barge_in_episode([], 1000, None) == ("none", None)


def test_expectations_report_what_was_expected_and_what_the_call_showed():
    s = parse_scenario({"steps": [{"say": "hi"}], "expect": {
        "route": "faq", "handoff": "caller_request", "guard": [{"outcome": "require_auth"}],
        "barge_ins": [{"outcome": "abandon"}], "no_decisions": [{"gate": "turn", "outcome": "abandon"}],
        "heard_text_excludes": ["holidays"], "context_excludes": ["holidays"],
        "context_contains": ["open at nine", "open at ten"],
        "transcript_excludes": ["4111", "card number is"]}})
    ds = [_d(1, 10, "route", "routed", route="payment"), _d(2, 20, "route", "routed", route="faq"),
          _d(3, 30, "handoff", "handoff", reason="caller_request"), _d(4, 40, "turn", "abandon")]
    bis = [BargeIn(said="stop", at_ms=35, reaction_ms=80, outcome="abandon", heard_text="We open at nine")]
    ctx = [{"role": "assistant", "content": "We open at nine, except on public holidays"}]
    assert final_route(ds) == "faq"
    transcript = [{"role": "caller", "text": "my card number is <CARD_NUMBER>"}]
    got = {c.name: c for c in check(s.expect, decisions=ds, barge_ins=bis, context=ctx, transcript=transcript)}
    assert got["route"].passed and got["handoff"].passed and got["barge_ins"].passed
    assert not got["guard require_auth"].passed and "none" in got["guard require_auth"].detail
    assert not got["no decision turn/abandon"].passed and "at 40 ms" in got["no decision turn/abandon"].detail
    assert got["heard_text excludes 'holidays'"].passed
    assert not got["context excludes 'holidays'"].passed
    assert got["context contains 'open at nine'"].passed and not got["context contains 'open at ten'"].passed
    assert got["transcript excludes '4111'"].passed and not got["transcript excludes 'card number is'"].passed


def test_a_gap_limit_reads_the_silences_the_caller_heard_around_each_barge_in():
    from turngate.sim.expect import barge_in_gaps
    from turngate.sim.playout import Span
    from turngate.sim.session import CallerUtterance

    spans = [Span(start_ms=0, end_ms=3000), Span(start_ms=3160, end_ms=6000), Span(start_ms=6640, end_ms=9000)]
    ducked = CallerUtterance(step=1, label="uh-huh", start_ms=2950, onset_ms=2950, end_ms=3350)
    silent = CallerUtterance(step=2, label="yeah", start_ms=5950, onset_ms=5950, end_ms=6300)
    assert barge_in_gaps(spans, [ducked, silent]) == [160, 640]
    raw = {"name": "gaps", "steps": [{"say": "uh-huh"}], "expect": {"max_barge_in_gap_ms": 250}}
    expect = parse_scenario(raw).expect
    [c] = [c for c in check(expect, decisions=[], barge_ins=[], context=[], bot_spans=spans,
                            barge_in_utterances=[ducked, silent]) if c.name == "barge-in gaps"]
    assert not c.passed and "[160, 640]" in c.detail
    with pytest.raises(ScenarioError):
        parse_scenario({**raw, "expect": {"max_barge_in_gap_ms": "short"}})
