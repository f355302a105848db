"""Outbox delivery targets: where transfers, CRM notes and follow-up tasks go.

    TwilioTransfer     redirects the live call with Twilio's REST API
                       (POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json, Twiml=...)
    WebhookDelivery    POSTs the row as JSON to a CRM or task system, with an Idempotency-Key
    JsonlDelivery      appends to a file (the demo's CRM; in turngate.store.outbox)
    ByKind             routes each row to the target for its kind

Each target raises to report a failure: ``PermanentDeliveryError`` when no retry can
help (Twilio 4xx other than 429: the call has ended, the request is invalid), any
other exception for a failure the outbox retries with back-off (timeouts, 5xx, 429).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from xml.sax.saxutils import escape

import httpx

from .store.base import PendingDelivery
from .store.outbox import PermanentDeliveryError

Target = Callable[[PendingDelivery], None]


def _check(r: httpx.Response, what: str) -> None:
    if r.status_code < 300:
        return
    detail = f"{what}: HTTP {r.status_code} {r.text[:200]}"
    if 400 <= r.status_code < 500 and r.status_code not in (408, 429):
        raise PermanentDeliveryError(detail)
    raise RuntimeError(detail)


class TwilioTransfer:
    """Move a live call to a human queue: update the call with new TwiML.

    The queue name maps to TwiML through ``queue_twiml`` (default ``<Enqueue>``, so
    a TaskRouter/Flex or <Queue> set-up picks the caller up); override it to
    ``<Dial>`` a number per queue.
    """

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str = "https://api.twilio.com",
                 queue_twiml: Mapping[str, str] | None = None, timeout_s: float = 10.0,
                 client: httpx.Client | None = None) -> None:
        self.account_sid = account_sid
        self.base_url = base_url.rstrip("/")
        self.queue_twiml = dict(queue_twiml or {})
        self.client = client or httpx.Client(auth=(account_sid, auth_token), timeout=timeout_s)

    def twiml(self, queue: str) -> str:
        inner = self.queue_twiml.get(queue) or f"<Enqueue>{escape(queue)}</Enqueue>"
        return f"<Response>{inner}</Response>"

    def __call__(self, item: PendingDelivery) -> None:
        call_sid = item.payload.get("call_id") or item.call_id
        account = item.payload.get("account_sid") or self.account_sid
        url = f"{self.base_url}/2010-04-01/Accounts/{account}/Calls/{call_sid}.json"
        r = self.client.post(url, data={"Twiml": self.twiml(str(item.payload.get("queue", "general")))})
        _check(r, f"Twilio call update {call_sid}")


class WebhookDelivery:
    """POST the row as JSON; the key travels as ``Idempotency-Key`` so the receiver
    can drop a redelivery after a crash."""

    def __init__(self, url: str, *, timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        self.url = url
        self.client = client or httpx.Client(timeout=timeout_s)

    def __call__(self, item: PendingDelivery) -> None:
        body = {"key": item.key, "kind": item.kind, "call_id": item.call_id, "payload": item.payload}
        r = self.client.post(self.url, json=body, headers={"Idempotency-Key": item.key})
        _check(r, f"webhook {item.kind}")


class ByKind:
    def __init__(self, targets: Mapping[str, Target], default: Target) -> None:
        self.targets = dict(targets)
        self.default = default

    def __call__(self, item: PendingDelivery) -> None:
        self.targets.get(item.kind, self.default)(item)
