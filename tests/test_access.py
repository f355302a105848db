"""The access rule and the input bounds, through the real server over HTTP and WebSocket.

Tests only ever talk to 127.0.0.1; a gateway whose ``local_networks`` leaves out
127.0.0.0/8 sees the test as a remote client."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from server_harness import make_providers, running_server
from turngate.sim.webhook import twilio_signature
from turngate.testing import OpenGatekeeper
from turngate.twilio.security import make_stream_token

ADMIN, CONSOLE = "adm-7f3c9e", "con-51a2b8"
# Every admin path the gateway has or will have (the console's pages come from another branch:
# here they are 404 once access lets them through, never 200 without a credential).
ADMIN_PATHS = ["/api/calls", "/api/calls/CA123", "/metrics", "/console/calls", "/console/calls/CA123",
               "/console/metrics", "/console", "/no-such-path"]
PUBLIC_PATHS = ["/healthz", "/readyz"]


def webhook_form(call_sid: str = "CA" + "a" * 32, **extra: str) -> dict[str, str]:
    return {"CallSid": call_sid, "AccountSid": "AC" + "b" * 32, "From": "+15550100", "To": "+15550199",
            "CallStatus": "ringing", "Direction": "inbound", **extra}


@pytest.fixture(scope="module")
def remote_view(tmp_path_factory):
    """No admin token, and 127.0.0.1 is not local: the test is a stranger on the internet."""
    db = tmp_path_factory.mktemp("acc") / "a.db"
    pv = make_providers(f"sqlite:///{db}", local_networks=("10.99.0.0/16",))
    with running_server(pv) as url:
        yield url, pv


@pytest.fixture(scope="module")
def with_tokens(tmp_path_factory):
    """Admin and console tokens set (127.0.0.1 local, which must not matter), Twilio signing on."""
    db = tmp_path_factory.mktemp("acc") / "t.db"
    pv = make_providers(f"sqlite:///{db}", admin_token=ADMIN, console_token=CONSOLE, twilio_auth_token="tw-auth-1",
                        stream_secret="stream-s3")
    with running_server(pv) as url:
        yield url, pv


@pytest.fixture(scope="module")
def local_view(tmp_path_factory):
    """The default: no tokens, loopback is local (the demo's set-up). A call greets, so a
    test knows its stream has started when the first frame comes back."""
    db = tmp_path_factory.mktemp("acc") / "l.db"
    pv = make_providers(f"sqlite:///{db}", stream_secret="stream-local",
                        gatekeeper=lambda params: OpenGatekeeper(greeting_text="Hello."))
    with running_server(pv) as url:
        yield url, pv


def metric(url: str, name: str, headers: dict[str, str] | None = None) -> float:
    text = httpx.get(url + "/metrics", headers=headers).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


# --- who may reach what ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_every_admin_path_refuses_a_remote_client_without_a_token_and_says_why(remote_view, path):
    url, _ = remote_view
    r = httpx.get(url + path)
    assert r.status_code == 403
    assert "TURNGATE_ADMIN_TOKEN" in r.json()["error"]


@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_health_probes_answer_anyone(remote_view, path):
    url, _ = remote_view
    assert httpx.get(url + path).status_code == 200


def test_an_unsigned_webhook_from_outside_is_refused_without_a_twilio_auth_token(remote_view):
    url, _ = remote_view
    r = httpx.post(url + "/twilio/voice", data=webhook_form())
    assert r.status_code == 403
    assert "TWILIO_AUTH_TOKEN" in r.text and "TURNGATE_INSECURE_DEV" in r.text


def test_insecure_dev_accepts_an_unsigned_webhook_from_outside(tmp_path):
    pv = make_providers(f"sqlite:///{tmp_path / 'i.db'}", local_networks=("10.99.0.0/16",), insecure_dev=True)
    with running_server(pv) as url:
        r = httpx.post(url + "/twilio/voice", data=webhook_form())
    assert r.status_code == 200 and "<Stream" in r.text


def test_an_admin_websocket_is_refused_at_the_handshake(remote_view):
    url, _ = remote_view

    async def run():
        with pytest.raises(websockets.InvalidStatus) as e:
            async with websockets.connect(url.replace("http", "ws") + "/console/live"):
                pass
        return e.value.response.status_code

    assert asyncio.run(run()) == 403


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_with_a_token_every_admin_path_needs_it_even_from_loopback(with_tokens, path):
    url, _ = with_tokens
    r = httpx.get(url + path)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in r.json()["error"]
    assert httpx.get(url + path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = httpx.get(url + path, headers={"Authorization": f"Bearer {ADMIN}"})
    assert ok.status_code not in (401, 403), ok.text
    assert httpx.get(url + path, cookies={"turngate_token": ADMIN}).status_code not in (401, 403)


def test_admin_token_opens_the_review_api_and_metrics(with_tokens):
    url, _ = with_tokens
    h = {"Authorization": f"Bearer {ADMIN}"}
    assert httpx.get(url + "/api/calls", headers=h).status_code == 200
    assert httpx.get(url + "/metrics", headers=h).status_code == 200


def test_the_console_token_opens_the_console_and_nothing_else(with_tokens):
    url, _ = with_tokens
    h = {"Authorization": f"Bearer {CONSOLE}"}
    assert httpx.get(url + "/console/calls", headers=h).status_code == 200
    assert httpx.get(url + "/console/calls", cookies={"turngate_token": CONSOLE}).status_code == 200
    for path in ("/api/calls", "/metrics", "/consolex"):
        assert httpx.get(url + path, headers=h).status_code == 401, path


def test_a_browser_without_a_credential_is_sent_to_the_console_login(with_tokens):
    url, _ = with_tokens
    r = httpx.get(url + "/console/calls/CA1", headers={"Accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/calls/CA1"
    assert httpx.get(url + "/console/login").status_code == 200  # public: the login form


def test_a_token_in_the_query_string_is_not_a_credential(with_tokens):
    url, _ = with_tokens
    assert httpx.get(url + "/api/calls", params={"token": ADMIN}).status_code == 401
    assert httpx.get(url + "/api/calls", params={"turngate_token": ADMIN}).status_code == 401


def test_a_request_through_a_proxy_is_not_local(local_view):
    url, _ = local_view
    assert httpx.get(url + "/api/calls").status_code == 200  # loopback, no tokens: the demo's view
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        r = httpx.get(url + "/api/calls", headers={header: "203.0.113.9"})
        assert r.status_code == 403, header


def test_refused_admin_requests_are_counted_by_reason(with_tokens):
    url, _ = with_tokens
    h = {"Authorization": f"Bearer {ADMIN}"}
    before = metric(url, 'turngate_admin_refused_total{reason="bad_token"}', h)
    httpx.get(url + "/api/calls", headers={"Authorization": "Bearer nope"})
    assert metric(url, 'turngate_admin_refused_total{reason="bad_token"}', h) == before + 1


# --- bad input: 4xx with a message, never 500 --------------------------------------------------


@pytest.mark.parametrize("query", ["limit=abc", "limit=", "limit=0", "limit=-3", "limit=1e3", "limit=100000"])
def test_a_bad_limit_is_400_with_a_message(local_view, query):
    url, _ = local_view
    r = httpx.get(f"{url}/api/calls?{query}")
    assert r.status_code == 400
    assert "limit must be an integer" in r.json()["error"]


def test_bad_review_api_input_is_4xx_with_a_message(local_view):
    url, _ = local_view
    r = httpx.get(url + "/api/calls/" + "x" * 300)
    assert r.status_code == 400 and "longer than" in r.json()["error"]
    r = httpx.get(url + "/api/calls/CAnope")
    assert r.status_code == 404 and r.json()["error"] == "no call CAnope"
    r = httpx.get(url + "/api/calls?q=" + "a" * 5000)
    assert r.status_code == 414 and "query string" in r.json()["error"]
    assert httpx.post(url + "/api/calls").status_code == 405


def test_bad_webhook_input_is_4xx_with_a_message(local_view):
    url, _ = local_view
    hook = url + "/twilio/voice"
    r = httpx.post(hook, data={"From": "+1555"})
    assert r.status_code == 400 and r.text == "CallSid missing"
    r = httpx.post(hook, data=webhook_form(call_sid="CA<script>"))
    assert r.status_code == 400 and "CallSid must be" in r.text
    r = httpx.post(hook, data={f"f{i}": "x" for i in range(150)} | {"CallSid": "CA1"})
    assert r.status_code == 400 and "form fields" in r.text
    r = httpx.post(hook, content=b"CallSid=CA1&x=" + b"a" * 70_000)
    assert r.status_code == 413 and "larger than" in r.json()["error"]

    def chunks():  # no Content-Length: the limit holds on what is actually read
        for _ in range(20):
            yield b"a" * 8192
    r = httpx.post(hook, content=chunks())
    assert r.status_code == 413
    r = httpx.post(hook, content=b"CallSid=CA1&From=%00%01%02bad&To=\xff\xfe")
    assert r.status_code == 200 and "\x00" not in r.text  # control characters never reach TwiML


def test_a_bad_signature_is_403_and_counted(with_tokens):
    url, _ = with_tokens
    h = {"Authorization": f"Bearer {ADMIN}"}
    form = webhook_form()
    r = httpx.post(url + "/twilio/voice", data=form, headers={"X-Twilio-Signature": "AAAA"})
    assert r.status_code == 403 and r.text == "X-Twilio-Signature does not match"
    assert httpx.post(url + "/twilio/voice", data=form).text == "missing X-Twilio-Signature"
    assert metric(url, 'turngate_webhooks_refused_total{reason="bad signature"}', h) >= 1
    good = twilio_signature("tw-auth-1", url + "/twilio/voice", form)
    assert httpx.post(url + "/twilio/voice", data=form, headers={"X-Twilio-Signature": good}).status_code == 200


def test_webhooks_beyond_the_burst_from_one_source_are_429_with_a_message(tmp_path):
    pv = make_providers(f"sqlite:///{tmp_path / 'r.db'}", webhook_burst=3, webhook_rate=0.001)
    with running_server(pv) as url:
        codes = [httpx.post(url + "/twilio/voice", data=webhook_form()).status_code for _ in range(3)]
        r = httpx.post(url + "/twilio/voice", data=webhook_form())
        text = httpx.get(url + "/metrics").text
    assert codes == [200, 200, 200]
    assert r.status_code == 429 and "too many webhook requests" in r.text and int(r.headers["retry-after"]) >= 1
    assert 'turngate_webhooks_refused_total{reason="rate_limited"} 1.0' in text


# --- the stream ---------------------------------------------------------------------------------


def start_frame(call_sid: str, token: str) -> str:
    return json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
                       "start": {"streamSid": "MZ1", "accountSid": "AC1", "callSid": call_sid, "tracks": ["inbound"],
                                 "customParameters": {"token": token},
                                 "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})


async def open_call(ws_url: str, call_sid: str, token: str):
    ws = await websockets.connect(ws_url)
    await ws.send(start_frame(call_sid, token))
    return ws


async def closed_reason(ws) -> tuple[int, str]:
    with pytest.raises(websockets.ConnectionClosed) as e:
        while True:
            await ws.recv()
    return e.value.rcvd.code, e.value.rcvd.reason


def test_a_replayed_stream_token_is_refused_and_counted(local_view):
    url, pv = local_view
    ws_url = url.replace("http", "ws") + "/twilio/stream"
    call_sid = "CA" + "c" * 32
    token = make_stream_token("stream-local", call_sid, 2_000_000_000)

    async def run():
        first = await open_call(ws_url, call_sid, token)
        try:
            await first.recv()  # the greeting's first frame: the call is up
            second = await open_call(ws_url, call_sid, token)
            return await closed_reason(second)
        finally:
            await first.close()

    assert asyncio.run(run()) == (1008, "token replayed")
    assert metric(url, 'turngate_streams_refused_total{reason="token replayed"}') == 1


def test_an_expired_stream_token_is_refused_and_counted(local_view):
    url, _ = local_view
    call_sid = "CA" + "d" * 32
    token = make_stream_token("stream-local", call_sid, 1_000_000_000)

    async def run():
        return await closed_reason(await open_call(url.replace("http", "ws") + "/twilio/stream", call_sid, token))

    assert asyncio.run(run()) == (1008, "token expired")
    assert metric(url, 'turngate_streams_refused_total{reason="token expired"}') == 1


def test_streams_beyond_the_cap_are_refused_with_a_reason_and_a_silent_one_is_closed(tmp_path):
    pv = make_providers(f"sqlite:///{tmp_path / 's.db'}", max_calls=1, stream_start_timeout_s=1.0)
    with running_server(pv) as url:
        ws_url = url.replace("http", "ws") + "/twilio/stream"

        async def run():
            silent = await websockets.connect(ws_url)  # holds the one slot, never sends start
            try:
                extra = await websockets.connect(ws_url)
                refused = await closed_reason(extra)
                timed_out = await closed_reason(silent)  # the start deadline frees the slot
            finally:
                await silent.close()
            return refused, timed_out

        refused, timed_out = asyncio.run(run())
        text = httpx.get(url + "/metrics").text
    assert refused == (1013, "too many streams")
    assert timed_out == (1008, "no start")
    assert 'turngate_streams_refused_total{reason="too many streams"} 1.0' in text
    assert 'turngate_streams_refused_total{reason="no start"} 1.0' in text


def test_a_gateway_on_a_public_address_without_credentials_says_so_and_refuses_unsigned_webhooks(tmp_path, caplog):
    # Configured as if on 0.0.0.0 (the harness still binds 127.0.0.1): even a loopback
    # client's unsigned webhook is refused, since anyone could have sent it.
    pv = make_providers(f"sqlite:///{tmp_path / 'p.db'}", host="0.0.0.0")
    with running_server(pv) as url:
        r = httpx.post(url + "/twilio/voice", data=webhook_form())
    warnings = [rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("SECURITY:")]
    assert len(warnings) == 2, warnings
    assert "TURNGATE_ADMIN_TOKEN" in warnings[0] and "TWILIO_AUTH_TOKEN" in warnings[1]
    assert r.status_code == 403 and "TWILIO_AUTH_TOKEN" in r.text
