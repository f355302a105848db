"""Hypothesis against the webhook and the review API over real HTTP (next to the frame
fuzzing in test_server_fuzz.py): whatever arrives, the answer is never a 5xx, a
refusal says what was wrong, TwiML is always well-formed XML, and no credential but
the right one opens an admin path."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server_harness import make_providers, running_server
from turngate.sim.webhook import twilio_signature

# Header values as a client may send them: visible ASCII and Latin-1 (control characters are the
# HTTP parser's to refuse, before the app).
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f") |
                      st.characters(min_codepoint=32, max_codepoint=126), max_size=40).filter(
    lambda t: not any(0x80 <= ord(c) < 0xa0 for c in t))
AUTH, ADMIN = "fuzz-auth-token", "fuzz-admin-token"
TWILIO_FIELDS = ["CallSid", "AccountSid", "From", "To", "CallStatus", "Direction", "ApiVersion", "Caller"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def gateways(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzzhttp")
    # Bursts large enough that the fuzzing itself is never rate-limited.
    open_pv = make_providers(f"sqlite:///{d / 'o.db'}", webhook_burst=1_000_000)
    signed_pv = make_providers(f"sqlite:///{d / 's.db'}", webhook_burst=1_000_000, twilio_auth_token=AUTH,
                               admin_token=ADMIN)
    with running_server(open_pv) as open_url, running_server(signed_pv) as signed_url:
        with httpx.Client(base_url=open_url) as o, httpx.Client(base_url=signed_url) as s:
            yield o, s


values = st.text(max_size=40) | st.sampled_from(["", "CA" + "a" * 32, "+15550100", "client:alice", "%00", "<x/>",
                                                 "\ufffe\x01"])
forms = st.dictionaries(st.sampled_from(TWILIO_FIELDS) | st.text(max_size=12), values, max_size=12)
bodies = st.one_of(forms.map(lambda f: urlencode(f).encode()), st.binary(max_size=300),
                   st.text(max_size=300).map(str.encode))
content_types = st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain", "",
                                 "multipart/form-data; boundary=x"])


def assert_refusal_or_twiml(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code == 200:
        root = ET.fromstring(r.text)  # well-formed, whatever the caller sent
        assert root.tag == "Response" and (root.find("Connect/Stream") is not None or root.find("Say") is not None)
    else:
        assert r.status_code in (400, 403, 413, 414), r.status_code
        assert r.text.strip(), "a refusal must say what was wrong"


@FUZZ
@given(body=bodies, ctype=content_types, query=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3))
def test_any_webhook_body_gets_twiml_or_a_4xx_with_a_message(gateways, body, ctype, query):
    o, _ = gateways
    r = o.post("/twilio/voice", params=query, content=body, headers={"Content-Type": ctype} if ctype else {})
    assert_refusal_or_twiml(r)


@FUZZ
@given(form=forms, signature=st.none() | HEADER_TEXT, sign=st.booleans())
def test_the_signed_webhook_accepts_exactly_what_twilio_signed(gateways, form, signature, sign):
    _, s = gateways
    url = str(s.base_url).rstrip("/") + "/twilio/voice"
    signature = twilio_signature(AUTH, url, form) if sign else signature and signature.strip(" ")
    r = s.post("/twilio/voice", content=urlencode(form).encode(),
               headers={"Content-Type": "application/x-www-form-urlencoded",
                        **({"X-Twilio-Signature": signature.encode("latin-1")} if signature is not None else {})})
    assert_refusal_or_twiml(r)
    if not sign and signature != twilio_signature(AUTH, url, form):
        assert r.status_code == 403


paths = st.text(max_size=60).map(lambda t: quote(t, safe=""))
queries = st.dictionaries(st.sampled_from(["limit", "offset", "q", "state"]) | st.text(max_size=6),
                          st.text(max_size=12) | st.integers(-10**9, 10**9).map(str), max_size=4)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])


@FUZZ
@given(method=methods, sub=st.sampled_from(["/api/calls", "/api/calls/", "/api/", "/metrics", "/console/"]),
       tail=paths, query=queries)
def test_the_review_api_answers_any_request_without_a_5xx(gateways, method, sub, tail, query):
    o, _ = gateways
    r = o.request(method, sub + (tail if sub.endswith("/") else ""), params=query)
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code >= 400 and method != "HEAD":
        assert r.text.strip()
    if r.status_code == 200 and sub == "/api/calls" and method == "GET":
        assert isinstance(r.json(), list)


@FUZZ
@given(method=methods, path=st.sampled_from(["/api/calls", "/api/calls/CA1", "/metrics", "/console/calls"]),
       auth=HEADER_TEXT,
       scheme=st.sampled_from(["Bearer ", "bearer ", "Basic ", "", "Token "]), cookie=st.booleans())
def test_no_credential_but_the_admin_token_opens_an_admin_path(gateways, method, path, auth, scheme, cookie):
    _, s = gateways
    if ADMIN in auth:
        auth = auth.replace(ADMIN, "")
    headers = ({"Authorization": (scheme + auth).strip(" ").encode("latin-1")} if not cookie
               else {"Cookie": f"turngate_token={quote(auth)}"})
    r = s.request(method, path, headers=headers)
    assert r.status_code == 401, (r.status_code, r.text)
    if method != "HEAD":
        assert r.json()["error"]
