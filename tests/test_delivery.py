"""Outbox deliveries against local servers that speak the targets' documented APIs
(Twilio's call-update REST endpoint, a JSON webhook), including their failures."""

from __future__ import annotations

import base64
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from turngate.core.decisions import Decision
from turngate.delivery import ByKind, TwilioTransfer, WebhookDelivery
from turngate.demo import free_port
from turngate.store import open_store
from turngate.store.base import OutboxItem
from turngate.store.outbox import JsonlDelivery, RetryPolicy, deliver_pending

ACCOUNT, TOKEN = "AC" + "a" * 32, "secret-token"


class FakeTwilio:
    """Twilio's POST /2010-04-01/Accounts/{Sid}/Calls/{CallSid}.json: basic auth with the
    account SID and auth token, form-encoded Twiml. Scripted failures per call."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: dict[str, list[int]] = {}

    async def update_call(self, request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        user, _, pw = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        call = request.path_params["call_sid"]
        self.requests.append({"account": request.path_params["account"], "call": call, "auth": (user, pw), **form})
        if (user, pw) != (ACCOUNT, TOKEN):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        status = (self.script.get(call) or [200]).pop(0)
        if status == 404:
            return JSONResponse({"code": 20404, "message": "The requested resource was not found",
                                 "status": 404}, status_code=404)
        if status >= 500:
            return JSONResponse({"message": "Service Unavailable"}, status_code=status)
        return JSONResponse({"sid": call, "status": "in-progress"})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/2010-04-01/Accounts/{account}/Calls/{call_sid}.json",
                                       self.update_call, methods=["POST"])])


@pytest.fixture
def twilio():
    fake = FakeTwilio()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.01)
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    server.should_exit = True
    t.join(5)


def queue_transfer(store, call_sid: str) -> None:
    store.start_call(call_sid, stream_sid="MZ1", caller="", started_at=datetime.now(timezone.utc), policy_version="t")
    d = Decision(call_id=call_sid, seq=1, at_ms=10, gate="handoff", outcome="handoff", reason="explicit_request",
                 rule="handoff.explicit_request", policy_version="t")
    store.append_with_outbox([d], [OutboxItem(key=f"{call_sid}:transfer", kind="transfer", call_id=call_sid,
                                               payload={"call_id": call_sid, "account_sid": ACCOUNT,
                                                        "queue": "payments", "reason": "explicit_request"})])


def status(store, call_sid):
    return {o.kind: o.status for o in store.get_call(call_sid).outbox}


def test_transfer_redirects_the_live_call_with_twiml_and_retries_a_twilio_outage(twilio, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    call = "CA" + "1" * 32
    twilio.script[call] = [503, 200]
    queue_transfer(store, call)
    target = TwilioTransfer(ACCOUNT, TOKEN, base_url=twilio.url)
    policy = RetryPolicy(rng=lambda: 0.5)
    now = datetime.now(timezone.utc)
    first = deliver_pending(store, target, now, policy=policy)
    assert (first.delivered, first.failed) == (0, 1)
    again = deliver_pending(store, target, now, policy=policy)  # backing off: not due yet
    assert again.delivered == 0 and len(twilio.requests) == 1
    later = deliver_pending(store, target, now + timedelta(seconds=10), policy=policy)
    assert later.delivered == 1 and status(store, call)["transfer"] == "delivered"
    req = twilio.requests[-1]
    assert req["account"] == ACCOUNT and req["call"] == call and req["auth"] == (ACCOUNT, TOKEN)
    assert req["Twiml"] == "<Response><Enqueue>payments</Enqueue></Response>"


def test_a_call_that_no_longer_exists_is_given_up_at_once_not_retried(twilio, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    call = "CA" + "2" * 32
    twilio.script[call] = [404]
    queue_transfer(store, call)
    report = deliver_pending(store, TwilioTransfer(ACCOUNT, TOKEN, base_url=twilio.url),
                             datetime.now(timezone.utc))
    assert report.gave_up == 1 and len(twilio.requests) == 1
    row = next(o for o in store.get_call(call).outbox if o.kind == "transfer")
    assert row.status == "gave_up" and row.last_error.startswith("permanent failure")
    assert "HTTP 404" in row.last_error


def test_crm_notes_go_to_the_webhook_with_an_idempotency_key_and_the_rest_to_the_file(tmp_path):
    seen: list[tuple[str, dict]] = []

    async def hook(request: Request) -> JSONResponse:
        seen.append((request.headers["idempotency-key"], await request.json()))
        return JSONResponse({"ok": True})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/crm", hook, methods=["POST"])]),
                                           host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.01)
    try:
        store = open_store(f"sqlite:///{tmp_path / 'o.db'}")
        call = "CA" + "3" * 32
        store.start_call(call, stream_sid="MZ", caller="", started_at=datetime.now(timezone.utc), policy_version="t")
        store.append_with_outbox([], [
            OutboxItem(key=f"{call}:crm_note", kind="crm_note", call_id=call, payload={"reason": "x", "note": "n"}),
            OutboxItem(key=f"{call}:other", kind="transfer", call_id=call, payload={"queue": "q"}),
        ])
        target = ByKind({"crm_note": WebhookDelivery(f"http://127.0.0.1:{port}/crm")},
                        default=JsonlDelivery(tmp_path / "out.jsonl"))
        assert deliver_pending(store, target, datetime.now(timezone.utc)).delivered == 2
        assert seen[0][0] == f"{call}:crm_note" and seen[0][1]["payload"]["note"] == "n"
        assert f"{call}:other" in (tmp_path / "out.jsonl").read_text()
    finally:
        server.should_exit = True
        t.join(5)
