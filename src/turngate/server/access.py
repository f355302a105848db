"""Who may reach what: the gateway's one access rule, applied in one place.

Theory of operation. Twilio must reach the gateway from the internet, so the
gateway is on the internet; everything on it that is not Twilio's is *admin*:

    public   /twilio/*            Twilio's webhook and media stream (signature and
                                  per-call stream token checked by the app)
             /healthz, /readyz    load-balancer probes (no call data)
             /console/login       the console's login form (it checks the token itself)
    admin    everything else      /api/*, /metrics, /console/*, and any path not
                                  listed above (deny by default: a route added
                                  tomorrow is admin until someone says otherwise)

An admin request is let in when

- no credential is configured for its path and the client is *local*: its address
  is in ``Config.local_networks`` and it did not come through a proxy (a request
  carrying X-Forwarded-For, Forwarded or X-Real-IP came from somewhere else,
  whatever address the proxy connects from); or
- a credential is configured (``admin_token``; under /console also
  ``console_token``) and the request carries one of them as
  ``Authorization: Bearer <token>`` or the cookie ``turngate_token``, compared in
  constant time. A configured credential is required from local clients too.

Refusals: 403 for a client that is not local when no credential is configured,
401 (``WWW-Authenticate: Bearer``) for a missing or wrong credential; a browser
asking for a console page is sent to /console/login instead. Each refusal is
counted in ``turngate_admin_refused_total{reason}``. Tokens are never accepted in
the query string, where access logs and browser history would keep them.

The same middleware bounds every HTTP request: the query string
(``max_query_bytes``, 414) and the body (``max_body_bytes``, 413, read before the
app sees it), so no handler ever parses an unbounded input.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import cookie_parser

from ..config import Config

log = logging.getLogger("turngate.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PREFIXES = ("/twilio/",)
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/console/login"})
CONSOLE_PREFIX = "/console"
COOKIE = "turngate_token"
PROXY_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    reason: str     # metric label: not_local, missing_token, bad_token
    message: str


def is_admin_path(path: str) -> bool:
    return not (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES))


def accepted_tokens(cfg: Config, path: str) -> tuple[str, ...]:
    tokens = [cfg.admin_token]
    if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
        tokens.append(cfg.console_token)
    return tuple(t for t in tokens if t)


def token_accepted(cfg: Config, path: str, presented: str | None) -> bool:
    """Whether ``presented`` is a credential for ``path`` (the console's login form uses this)."""
    if not presented:
        return False
    given = presented.encode()
    # Every configured token is compared, so the time taken does not say which one was close.
    return sum(hmac.compare_digest(given, t.encode()) for t in accepted_tokens(cfg, path)) > 0


@lru_cache(maxsize=32)
def _networks(nets: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in nets)


def is_local_client(cfg: Config, client_host: str | None, headers: Mapping[bytes, bytes]) -> bool:
    if not client_host or any(h in headers for h in PROXY_HEADERS):
        return False
    try:
        addr = ipaddress.ip_address(client_host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == n.version and addr in n for n in _networks(cfg.local_networks))


def is_loopback_host(host: str) -> bool:
    """Whether a listen address (``Config.host``) is reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def presented_token(headers: Mapping[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    cookie = headers.get(b"cookie")
    if cookie:
        return cookie_parser(cookie.decode("latin-1")).get(COOKIE) or None
    return None


def check_admin(cfg: Config, path: str, client_host: str | None, headers: Mapping[bytes, bytes]) -> Refusal | None:
    """The access rule for one admin request: None lets it in."""
    tokens = accepted_tokens(cfg, path)
    if not tokens:
        if is_local_client(cfg, client_host, headers):
            return None
        return Refusal(403, "not_local", "admin endpoints answer only local clients when no TURNGATE_ADMIN_TOKEN "
                                         "is set (a request through a proxy is not local); set it and send "
                                         "'Authorization: Bearer <token>'")
    given = presented_token(headers)
    if given is None:
        return Refusal(401, "missing_token", "this endpoint needs a credential: send 'Authorization: "
                                             "Bearer <TURNGATE_ADMIN_TOKEN>' or the turngate_token cookie")
    if not token_accepted(cfg, path, given):
        return Refusal(401, "bad_token", "the credential sent is not accepted here")
    return None


def unsigned_webhook_refusal(cfg: Config, client_host: str | None, headers: Mapping[bytes, bytes]) -> str | None:
    """Without TWILIO_AUTH_TOKEN a webhook cannot be verified: accept it only on a
    loopback gateway from a local client (the demo), or with TURNGATE_INSECURE_DEV=1."""
    if cfg.twilio_auth_token or cfg.insecure_dev:
        return None
    if is_loopback_host(cfg.host) and is_local_client(cfg, client_host, headers):
        return None
    return ("unsigned webhook refused: this gateway is reachable from outside and has no TWILIO_AUTH_TOKEN "
            "to verify X-Twilio-Signature; set TWILIO_AUTH_TOKEN (Twilio console), or TURNGATE_INSECURE_DEV=1 "
            "for a trial")


def startup_warnings(cfg: Config) -> list[str]:
    """What an operator must hear at start-up about exposure (logged as warnings)."""
    out = []
    exposed = not is_loopback_host(cfg.host)
    public = urlsplit(cfg.public_url).hostname if cfg.public_url else None
    if public and not is_loopback_host(public):
        exposed = True
    if exposed and not cfg.admin_token:
        out.append(f"SECURITY: listening on {cfg.host} (public URL {cfg.public_url or 'unset'}) without "
                   "TURNGATE_ADMIN_TOKEN: /api, /metrics and /console answer local clients only; a proxy on "
                   "this machine that does not send X-Forwarded-For would make them public. Set "
                   "TURNGATE_ADMIN_TOKEN.")
    if exposed and not cfg.twilio_auth_token:
        out.append("SECURITY: no TWILIO_AUTH_TOKEN: webhooks cannot be verified; "
                   + ("TURNGATE_INSECURE_DEV=1 accepts them unsigned: anyone can start a call"
                      if cfg.insecure_dev else "unsigned webhooks from outside are refused"))
    return out


def _json(status: int, message: str, extra: Iterable[tuple[bytes, bytes]] = ()) -> tuple[Message, Message]:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    return ({"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body})


class AccessMiddleware:
    """ASGI middleware: the access rule and the input bounds, for HTTP and WebSocket."""

    def __init__(self, app: ASGIApp, cfg: Config, on_refused: Callable[[str], None] = lambda reason: None) -> None:
        self.app, self.cfg, self.on_refused = app, cfg, on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        client = scope.get("client")
        if len(scope.get("query_string", b"")) > self.cfg.max_query_bytes:
            await self._refuse(scope, send, Refusal(414, "query_too_long", f"query string longer than "
                                                    f"{self.cfg.max_query_bytes} bytes"), count=False)
            return
        if is_admin_path(path):
            refusal = check_admin(self.cfg, path, client[0] if client else None, headers)
            if refusal is not None:
                log.info("admin request refused (%s): %s %r from %s", refusal.reason, scope.get("method", "WS"),
                         path[:200], client[0] if client else "?")
                self.on_refused(refusal.reason)
                await self._refuse(scope, send, refusal, browser=_wants_html(headers))
                return
        if scope["type"] == "http":
            body = await self._read_body(receive, headers)
            if body is None:
                await self._refuse(scope, send, Refusal(413, "too_large", f"request body larger than "
                                                        f"{self.cfg.max_body_bytes} bytes"), count=False)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_body(self, receive: Receive, headers: Mapping[bytes, bytes]) -> bytes | None:
        cap = self.cfg.max_body_bytes
        try:
            if int(headers.get(b"content-length", b"0")) > cap:
                return None
        except ValueError:
            pass  # h11 refuses a malformed Content-Length before we see it
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                break  # disconnect: the app will see an empty body and the next receive
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        return b"".join(chunks)

    async def _refuse(self, scope: Scope, send: Send, r: Refusal, *, browser: bool = False,
                      count: bool = True) -> None:
        if scope["type"] == "websocket":
            # Before accept: the server answers the handshake with 403; the reason is for our log.
            await send({"type": "websocket.close", "code": 1008, "reason": r.message[:120]})
            return
        extra: list[tuple[bytes, bytes]] = []
        path = scope.get("path", "")
        if r.status == 401 and browser and path.startswith(CONSOLE_PREFIX) and scope.get("method") == "GET":
            location = "/console/login?next=" + quote(path, safe="/")
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        if r.status == 401:
            extra.append((b"www-authenticate", b'Bearer realm="turngate"'))
        start, body = _json(r.status, r.message, extra)
        await send(start)
        await send(body)


def _wants_html(headers: Mapping[bytes, bytes]) -> bool:
    return b"text/html" in headers.get(b"accept", b"")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay
