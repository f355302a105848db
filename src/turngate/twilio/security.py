"""Twilio request signatures and per-call stream tokens.

Signature (Twilio "Webhooks security"): base64(HMAC-SHA1(auth_token, url + the
POST parameters sorted by name, each name immediately followed by its value)).
For a WebSocket handshake there are no POST parameters: the URL alone is signed.

Stream token: the webhook hands Twilio a token as a ``<Parameter>``; Twilio sends
it back in the ``start`` message's ``customParameters``. It binds the stream to
the call the webhook answered (call sid + expiry, HMAC-SHA256), so a stranger who
finds the WebSocket URL cannot open a call on it. ``StreamTokens`` also makes each
token single-use within a process: a second stream presenting a token that
already opened one is refused (``token replayed``), so a token read off a log,
a proxy or a packet capture cannot open a second stream on a live call.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
from collections.abc import Mapping

from ..errors import AuthError


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> str:
    data = url + "".join(k + v for k, v in sorted((params or {}).items()))
    mac = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def validate_signature(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> None:
    if not signature:
        raise AuthError("missing X-Twilio-Signature", close_reason="missing signature")
    candidates = {url}
    # Twilio signs the URL as it called it; a proxy may add or strip the default port.
    for default in (":443", ":80"):
        if default in url:
            candidates.add(url.replace(default, "", 1))
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a header may hold anything.
    given = signature.encode("utf-8", "surrogatepass")
    if not any(hmac.compare_digest(twilio_signature(auth_token, u, params).encode(), given) for u in candidates):
        raise AuthError("X-Twilio-Signature does not match", close_reason="bad signature")


def make_stream_token(secret: str, call_sid: str, expires_at: int) -> str:
    body = f"{call_sid}.{expires_at}"
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{body}.{mac}"


def check_stream_token(secret: str, token: str | None, call_sid: str, now: float) -> None:
    """Raise ``AuthError`` with a close reason a person can act on."""
    if not token:
        raise AuthError("stream token missing from customParameters", close_reason="missing token")
    try:
        sid, exp_s, mac = token.rsplit(".", 2)
        expires_at = int(exp_s)
    except ValueError:
        raise AuthError("stream token is malformed", close_reason="bad token") from None
    good = hmac.new(secret.encode(), f"{sid}.{expires_at}".encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(good.encode(), mac.encode("utf-8", "surrogatepass")):
        raise AuthError("stream token signature is wrong", close_reason="bad token")
    if sid != call_sid:
        raise AuthError("stream token belongs to another call", close_reason="token call mismatch")
    if now > expires_at:
        raise AuthError("stream token expired", close_reason="token expired")


class StreamTokens:
    """Mint and check stream tokens; each opens at most one stream in this process.

    Used tokens are remembered until they expire (after which the expiry check
    refuses them anyway), so memory is bounded by the tokens minted in one TTL;
    ``capacity`` caps it outright and fails closed: beyond it a stream is refused
    (``token ledger full``) rather than a used token forgotten. Several processes
    behind a load balancer each keep their own ledger (a replay to another process
    is not caught; sticky sessions or a short TTL narrow that).
    """

    def __init__(self, secret: str, ttl_s: int, *, capacity: int = 100_000) -> None:
        self._secret, self.ttl_s, self.capacity = secret, ttl_s, capacity
        self._used: set[str] = set()
        self._expiry: list[tuple[int, str]] = []   # heap of (expires_at, mac)

    def __len__(self) -> int:
        return len(self._used)

    def mint(self, call_sid: str, now: float) -> str:
        return make_stream_token(self._secret, call_sid, int(now) + self.ttl_s)

    def check(self, token: str | None, call_sid: str, now: float) -> None:
        """Raise ``AuthError`` (with a close reason) unless the token opens this stream; mark it used."""
        check_stream_token(self._secret, token, call_sid, now)
        assert token is not None
        _, exp_s, mac = token.rsplit(".", 2)
        while self._expiry and self._expiry[0][0] < now:
            self._used.discard(heapq.heappop(self._expiry)[1])
        if mac in self._used:
            raise AuthError("stream token already opened a stream", close_reason="token replayed")
        if len(self._used) >= self.capacity:
            raise AuthError(f"{len(self._used)} unexpired stream tokens in use", close_reason="token ledger full")
        self._used.add(mac)
        heapq.heappush(self._expiry, (int(exp_s), mac))
