"""The ASGI app: Twilio webhook, media stream, call review API, metrics.

    POST /twilio/voice        TwiML <Connect><Stream> with a signed per-call token
    WS   /twilio/stream       Twilio Media Streams
    GET  /api/calls           recent calls (JSON)
    GET  /api/calls/{id}      one call: state, decisions, context, transcript
    GET  /healthz, /metrics
    GET  /readyz              ready to take calls (server/probes.py); 503 while draining or full
    GET  /console/...         the operations console (turngate.console)

Who may reach which path, and the bounds on every request, are one middleware
(``access.py``); the webhook adds Twilio's signature, a per-source rate limit and
the call cap; the stream adds the signature, the stream cap, a deadline for its
``start`` and the single-use stream token (checked by the session).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import datetime, timezone
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from ..console import console_app
from ..errors import AuthError
from ..twilio.security import StreamTokens, validate_signature
from ..twilio.twiml import connect_stream
from .access import AccessMiddleware, startup_warnings, unsigned_webhook_refusal
from .drain import DRAINING_CLOSE_CODE, Admission
from .limits import RateLimiter, retry_after_header
from .probes import readiness
from .providers import Providers
from .registry import make_registry, operator_transfer
from .registry import routes as registry_routes
from .session import CallSession

log = logging.getLogger("turngate.app")
MAX_FORM_FIELDS = 100           # Twilio's voice webhook sends about 20
MAX_CALL_ID = 128
MAX_LIST_LIMIT = 1000
CALL_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")  # not allowed in XML 1.0


def _field(form: dict[str, str], name: str) -> str:
    """A caller-supplied value bound for TwiML: printable and short (XML 1.0 forbids control characters)."""
    return _UNPRINTABLE.sub("", form.get(name, ""))[:64]


def _public_base(request: Request | WebSocket, configured: str) -> str:
    if configured:
        return configured.rstrip("/")
    proto = request.headers.get("x-forwarded-proto") or request.url.scheme
    proto = {"ws": "http", "wss": "https"}.get(proto, proto)
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    return f"{proto}://{host}"


def _end_calls_of_an_earlier_run(store: Any) -> None:
    """On SQLite one process owns the store, so a call it holds with no end belongs to an
    earlier run that died (``kill -9``, a lost machine): end it as ``gateway_lost``, keeping
    its decisions. On PostgreSQL other live processes may hold such calls; there Redis's
    heartbeats tell the dead from the living (see registry.py)."""
    if store is None or getattr(store, "is_postgres", True) or not hasattr(store, "end_unfinished"):
        return
    ids = store.end_unfinished(ended_at=datetime.now(timezone.utc), outcome="gateway_lost",
                               summary={"state": "lost", "reason": "the gateway stopped before the call ended"})
    if ids:
        log.warning("ended %d call(s) an earlier run of this gateway left open, as gateway_lost: %s",
                    len(ids), ", ".join(ids[:10]))


def create_app(providers: Providers) -> Starlette:
    cfg = providers.config
    metrics = providers.metrics
    live: dict[str, CallSession] = {}    # started calls
    open_streams = 0                      # accepted media streams, started or not
    limiter = RateLimiter(cfg.webhook_rate, cfg.webhook_burst)
    if providers.stream_tokens is None:
        providers.stream_tokens = StreamTokens(cfg.stream_secret, cfg.stream_token_ttl_s)
    tokens = providers.stream_tokens
    secret_values = [v.encode() for v in cfg.secrets()]

    def _json(content: Any) -> Response:
        # Secrets never reach the store or a record; this is the last line, should one ever do.
        body = JSONResponse(content).body
        if any(v in body for v in secret_values):
            log.error("a configured secret was about to leave in an /api answer; redacted")
            for v in secret_values:
                body = body.replace(v, b"[redacted]")
        return Response(body, media_type="application/json")
    admission = Admission(max_calls=cfg.max_calls, overflow_number=cfg.overflow_number,
                          reservation_s=min(30, cfg.stream_token_ttl_s), live=live)
    registry = make_registry(cfg.redis_url, cfg.tenant_max_calls)
    providers.vad.observe = providers.metrics.frame_seconds.observe
    providers.writer.observe = providers.metrics.store_write_seconds.observe

    async def voice(request: Request) -> Response:
        source = request.client.host if request.client else "unknown"
        wait = limiter.check(source, time.monotonic())
        if wait is not None:
            metrics.webhooks_refused.labels("rate_limited").inc()
            log.info("webhook rate-limited: %s", source)
            return PlainTextResponse(f"too many webhook requests from {source}: at most {cfg.webhook_rate:g} a "
                                     f"second (burst {cfg.webhook_burst}); retry later", status_code=429,
                                     headers={"Retry-After": retry_after_header(wait)})
        # Twilio posts application/x-www-form-urlencoded; parse_qsl keeps the exact values it signed.
        # The body is already bounded (access.py): at most max_body_bytes.
        try:
            form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True,
                                  max_num_fields=MAX_FORM_FIELDS))
        except ValueError:
            metrics.webhooks_refused.labels("bad_request").inc()
            return PlainTextResponse(f"more than {MAX_FORM_FIELDS} form fields", status_code=400)
        base = _public_base(request, cfg.public_url)
        if cfg.twilio_auth_token:
            try:
                validate_signature(cfg.twilio_auth_token, base + request.url.path +
                                   (f"?{request.url.query}" if request.url.query else ""),
                                   form, request.headers.get("x-twilio-signature"))
            except AuthError as e:
                metrics.webhooks_refused.labels(e.close_reason).inc()
                log.warning("webhook refused from %s: %s", source, e)
                return PlainTextResponse(str(e), status_code=403)
        else:
            why = unsigned_webhook_refusal(cfg, source if request.client else None, dict(request.scope["headers"]))
            if why is not None:
                metrics.webhooks_refused.labels("unsigned").inc()
                log.warning("webhook from %s refused: %s", source, why)
                return PlainTextResponse(why, status_code=403)
        call_sid = form.get("CallSid", "")
        if not call_sid:
            metrics.webhooks_refused.labels("bad_request").inc()
            return PlainTextResponse("CallSid missing", status_code=400)
        if not CALL_SID.fullmatch(call_sid):
            metrics.webhooks_refused.labels("bad_request").inc()
            return PlainTextResponse("CallSid must be 1 to 64 letters, digits, '-' or '_'", status_code=400)
        refused = admission.admit_webhook(call_sid)
        if refused is not None:
            metrics.calls_refused.labels(refused).inc()
            log.info("call %s refused: %s", call_sid, refused)
            return Response(admission.refusal_twiml(), media_type="application/xml")
        if not await registry.admit_tenant(form.get("AccountSid", ""), call_sid):
            admission.release(call_sid)
            metrics.calls_refused.labels("tenant_limit").inc()
            return Response(admission.refusal_twiml(), media_type="application/xml")
        token = tokens.mint(call_sid, time.time())
        ws_base = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        twiml = connect_stream(f"{ws_base}/twilio/stream",
                               {"token": token, "from": _field(form, "From"), "to": _field(form, "To")})
        return Response(twiml, media_type="application/xml")

    async def stream(ws: WebSocket) -> None:
        nonlocal open_streams
        if cfg.twilio_auth_token:
            base = _public_base(ws, cfg.public_url).replace("https://", "wss://", 1).replace("http://", "ws://", 1)
            url = base + ws.url.path + (f"?{ws.url.query}" if ws.url.query else "")
            try:
                validate_signature(cfg.twilio_auth_token, url, {}, ws.headers.get("x-twilio-signature"))
            except AuthError as e:
                metrics.streams_refused.labels(e.close_reason).inc()
                log.warning("stream handshake refused: %s", e)
                await ws.close(code=1008, reason=e.close_reason)
                return
        if not admission.admit_stream():
            providers.metrics.streams_refused.labels("draining").inc()
            await ws.close(code=DRAINING_CLOSE_CODE, reason="draining")
            return
        await ws.accept()
        if open_streams >= cfg.max_calls:
            # Accepted, then closed, so the peer reads why (a refused handshake carries no reason).
            metrics.streams_refused.labels("too many streams").inc()
            log.warning("stream refused: %d streams open (TURNGATE_MAX_CALLS)", open_streams)
            await ws.close(code=1013, reason="too many streams")
            return
        open_streams += 1
        # Until its start message proves it is a call (a valid single-use token), a
        # stream holds a slot; one that never sends it is closed when the deadline passes.
        start_deadline = asyncio.timeout(cfg.stream_start_timeout_s)

        def started(s: CallSession) -> None:
            start_deadline.reschedule(None)
            admission.stream_started(s.call_id)
            registry.call_started(s.call_id, s.account_sid)
            live[s.call_id] = s
            metrics.calls_active.inc()
            metrics.calls_total.inc()

        def ended(s: CallSession) -> None:
            live.pop(s.call_id, None)
            registry.call_ended(s.call_id, s.account_sid)
            metrics.calls_active.dec()

        session = CallSession(ws, providers, on_start=started, on_end=ended)
        try:
            async with start_deadline:
                await session.run()
        except TimeoutError:
            if not start_deadline.expired():
                raise
            metrics.streams_refused.labels("no start").inc()
            log.warning("stream closed: no valid start message within %g s", cfg.stream_start_timeout_s)
            try:
                await ws.close(code=1008, reason="no start")
            except Exception:  # the peer already went away
                pass
        finally:
            open_streams -= 1

    async def calls(request: Request) -> Response:
        raw = request.query_params.get("limit", "50")
        try:
            limit = int(raw)
            if not 1 <= limit <= MAX_LIST_LIMIT:
                raise ValueError
        except ValueError:
            return _error(400, f"limit must be an integer from 1 to {MAX_LIST_LIMIT}, got {raw[:40]!r}")
        rows = await run_in_threadpool(providers.store.list_calls, limit) if providers.store else []
        return _json([r.to_dict() for r in rows])

    async def call_detail(request: Request) -> Response:
        call_id = request.path_params["call_id"]
        if len(call_id) > MAX_CALL_ID:
            return _error(400, f"call id longer than {MAX_CALL_ID} characters")
        s = live.get(call_id)
        if s is not None and s.call is not None:
            return _json(s.snapshot())
        await run_in_threadpool(providers.writer.flush, 2.0)
        rec = await run_in_threadpool(providers.store.get_call, call_id) if providers.store else None
        if rec is None:
            return _error(404, f"no call {call_id}")
        return _json(_record_json(rec))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "calls": len(live), "writer_backlog": providers.writer.backlog})

    async def readyz(request: Request) -> Response:
        ok, body = await readiness(providers, admission, cross_process())
        return JSONResponse(body, status_code=200 if ok else 503)

    def cross_process() -> dict[str, Any]:
        return registry.status()

    async def transfer_here(call_sid: str, queue: str, reason: str) -> bool:
        if call_sid not in live:
            return False
        operator_transfer(providers, live[call_sid], queue, reason)
        return True

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def deliver_outbox() -> None:
        # One delivery worker per process; rows are idempotent by key, so several
        # gateway processes sharing PostgreSQL may all run one.
        from datetime import datetime, timezone

        from ..store.outbox import deliver_pending

        target = delivery_target(cfg)
        while True:
            await asyncio.sleep(1.0)
            try:
                await run_in_threadpool(deliver_pending, providers.store, target, datetime.now(timezone.utc),
                                         lease_s=cfg.outbox_lease_s)
            except Exception:
                log.exception("outbox delivery pass failed; will retry")

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        for warning in startup_warnings(cfg):
            log.warning(warning)
        _end_calls_of_an_earlier_run(providers.store)
        worker = asyncio.create_task(deliver_outbox()) if providers.store is not None else None
        await registry.start(transfer_here, on_lost=lambda sid: providers.writer.end_call(
            sid, ended_at=datetime.now(timezone.utc), outcome="gateway_lost",
            summary={"state": "lost", "reason": "the gateway holding the call stopped"}))
        try:
            yield
        finally:
            await registry.stop()
            if worker:
                worker.cancel()
            providers.close()

    app = Starlette(routes=[
        Route("/twilio/voice", voice, methods=["POST"]),
        WebSocketRoute("/twilio/stream", stream),
        Route("/api/calls", calls),
        Route("/api/calls/{call_id}", call_detail),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        *registry_routes(registry, live, providers),
        Mount("/console", app=console_app(providers.store, config=cfg, flush=providers.writer.flush)),
    ], lifespan=lifespan, middleware=[
        Middleware(AccessMiddleware, cfg=cfg, on_refused=lambda reason: metrics.admin_refused.labels(reason).inc()),
    ])
    app.state.admission = admission
    app.state.drain_flush = lambda: drain_flush(providers)
    return app


def drain_flush(providers: Providers, timeout_s: float = 10.0) -> None:
    """The end of a drain: every decision written, one last outbox pass."""
    from datetime import datetime, timezone

    from ..store.outbox import deliver_pending

    if not providers.writer.flush(timeout_s):
        log.error("drain: decision writer still has %d records after %.0f s", providers.writer.backlog, timeout_s)
    if providers.store is not None:
        deliver_pending(providers.store, delivery_target(providers.config), datetime.now(timezone.utc))


def delivery_target(cfg: Any) -> Any:
    """Transfers go to Twilio's REST API when credentials are set; CRM notes and
    follow-ups to the CRM webhook when one is set; everything else to the outbox file."""
    from pathlib import Path

    from ..delivery import ByKind, TwilioTransfer, WebhookDelivery
    from ..store.outbox import JsonlDelivery

    Path(cfg.outbox_file).parent.mkdir(parents=True, exist_ok=True)
    targets: dict[str, Any] = {}
    if cfg.twilio_account_sid and cfg.twilio_auth_token:
        targets["transfer"] = TwilioTransfer(cfg.twilio_account_sid, cfg.twilio_auth_token,
                                             base_url=cfg.twilio_api_base)
    if cfg.crm_webhook_url:
        hook = WebhookDelivery(cfg.crm_webhook_url)
        targets["crm_note"] = targets["follow_up"] = hook
    return ByKind(targets, default=JsonlDelivery(cfg.outbox_file))


def _record_json(rec: Any) -> dict[str, Any]:
    d = rec.to_dict()
    call = d.get("call", d)
    summary = call.get("summary") or {}
    return {"call_id": call.get("call_id"), "state": summary.get("state", "ended"),
            "outcome": call.get("outcome"), "decisions": d.get("decisions", []),
            "context": summary.get("context", []), "transcript": summary.get("transcript", []),
            "outbox": d.get("outbox", [])}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
