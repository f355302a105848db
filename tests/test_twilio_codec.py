"""The Media Streams codec and the webhook/stream security, as Twilio speaks them."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turngate.errors import AuthError
from turngate.twilio import codec
from turngate.twilio.security import (
    check_stream_token, make_stream_token, twilio_signature, validate_signature,
)
from turngate.twilio.twiml import connect_stream

# Shapes as documented by Twilio ("Media Streams - WebSocket Messages"); numbers arrive as strings.
START = {"event": "start", "sequenceNumber": "1", "start": {
    "accountSid": "AC" + "0" * 32, "streamSid": "MZ" + "1" * 32, "callSid": "CA" + "2" * 32,
    "tracks": ["inbound"], "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    "customParameters": {"token": "t"}}, "streamSid": "MZ" + "1" * 32}
MEDIA = {"event": "media", "sequenceNumber": "3", "media": {"track": "inbound", "chunk": "1",
         "timestamp": "5", "payload": base64.b64encode(b"\xff" * 160).decode()}, "streamSid": "MZ1"}


def test_parses_twilio_start_with_string_numbers():
    m = codec.parse(json.dumps(START))
    assert isinstance(m, codec.Start)
    assert (m.call_sid, m.sample_rate, m.custom_parameters) == ("CA" + "2" * 32, 8000, {"token": "t"})


def test_parses_media_mark_dtmf_stop():
    m = codec.parse(json.dumps(MEDIA))
    assert isinstance(m, codec.Media) and m.payload == b"\xff" * 160 and m.track == "inbound"
    reordered = json.dumps({"media": MEDIA["media"], **MEDIA})  # not Twilio's order: the full parse
    m = codec.parse(reordered)
    assert isinstance(m, codec.Media) and m.timestamp_ms == 5 and m.sequence == 3
    assert codec.parse('{"event":"mark","streamSid":"MZ1","sequenceNumber":"4","mark":{"name":"tg:1:0:800"}}') \
        == codec.Mark(name="tg:1:0:800")
    assert codec.parse('{"event":"dtmf","dtmf":{"track":"inbound_track","digit":"7"}}') == codec.Dtmf(digit="7")
    assert isinstance(codec.parse('{"event":"stop","stop":{"callSid":"CA1"}}'), codec.Stop)


@pytest.mark.parametrize("frame, kind", [
    ("not json", "malformed"),
    ("[1,2]", "malformed"),
    ('{"event":"media","media":{"payload":"***"}}', "malformed"),
    ('{"event":"media","media":[]}', "malformed"),
    ('{"event":"start","start":5}', "malformed"),
    ('{"event":"dtmf","dtmf":{"digit":"12"}}', "malformed"),
    ('{"event":"teleport"}', "unknown"),
])
def test_bad_frames_become_rejected_messages_with_a_reason(frame, kind):
    m = codec.parse(frame)
    assert isinstance(m, codec.Rejected) and m.kind == kind and m.detail


@given(st.text(max_size=300) | st.binary(max_size=300))
def test_parse_never_raises(frame):
    codec.parse(frame)


def test_render_outbound_messages_round_trip():
    assert json.loads(codec.render_media("MZ1", b"\x00\x01")) == {
        "event": "media", "streamSid": "MZ1", "media": {"payload": "AAE="}}
    assert json.loads(codec.render_mark("MZ1", "m")) == {"event": "mark", "streamSid": "MZ1", "mark": {"name": "m"}}
    assert json.loads(codec.render_clear("MZ1")) == {"event": "clear", "streamSid": "MZ1"}


def test_webhook_signature_validation_uses_twilios_documented_algorithm():
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    validate_signature("12345", url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    with pytest.raises(AuthError) as e:
        validate_signature("12345", url, {**params, "Digits": "9999"}, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert e.value.close_reason == "bad signature"
    with pytest.raises(AuthError, match="missing"):
        validate_signature("12345", url, params, None)


def test_stream_token_binds_the_call_and_expires():
    tok = make_stream_token("k", "CA1", expires_at=100)
    check_stream_token("k", tok, "CA1", now=99)
    for token, sid, now, reason in [(tok, "CA2", 99, "token call mismatch"), (tok, "CA1", 101, "token expired"),
                                    (tok + "x", "CA1", 99, "bad token"), ("", "CA1", 99, "missing token"),
                                    (make_stream_token("other", "CA1", 100), "CA1", 99, "bad token")]:
        with pytest.raises(AuthError) as e:
            check_stream_token("k", token, sid, now=now)
        assert e.value.close_reason == reason


def test_twiml_connects_the_stream_with_escaped_parameters():
    import xml.etree.ElementTree as ET
    x = connect_stream("wss://gw.example/twilio/stream", {"token": 'a"b<c'})
    stream = ET.fromstring(x).find("./Connect/Stream")
    assert stream.get("url") == "wss://gw.example/twilio/stream"
    assert stream.find("Parameter").attrib == {"name": "token", "value": 'a"b<c'}


def _full(text):
    # the full parse, bypassing the fast path
    return codec.parse(text.encode())


def test_fast_media_path_agrees_with_the_full_parse_on_twilios_compact_frames():
    compact = json.dumps(MEDIA, separators=(",", ":"))
    assert compact.startswith('{"event":"media",')
    fast, full = codec.parse(compact), _full(compact)
    assert isinstance(fast, codec.Media) and (fast.payload, fast.track) == (full.payload, full.track)


@given(st.text(alphabet='{}":,abcdefmnprtvyklo0123456789AB=+/\\ ', max_size=120).map(
    lambda t: '{"event":"media",' + t))
def test_fast_media_path_only_accepts_what_the_full_parse_accepts(text):
    fast = codec._fast_media(text)
    if fast is not None:
        full = _full(text)
        assert isinstance(full, codec.Media), text
        assert (full.payload, full.track) == (fast.payload, fast.track)


@given(st.integers(0, 400), st.integers(0, 40), st.text(alphabet='{}":,\\ x', max_size=4))
def test_fast_media_path_on_damaged_twilio_frames(at, cut, insert):
    compact = json.dumps(MEDIA, separators=(",", ":"))
    at = at % len(compact)
    text = compact[:at] + insert + compact[at + cut:]
    fast = codec._fast_media(text)
    if fast is not None:
        full = _full(text)
        assert isinstance(full, codec.Media), text
        assert (full.payload, full.track) == (fast.payload, fast.track)
