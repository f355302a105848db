"""What the cloud speech adapters share: one error with a failure kind, and the
mapping from HTTP statuses and WebSocket close codes onto those kinds.

    ProviderError
    └── CloudError      kind: error | rate_limited | server_error | disconnect | timeout | config

The kinds are the core's ``ModelFailureKind`` (without ``circuit_open``, which
only a breaker produces), so a fallback policy can read an STT or TTS failure
the same way it reads a model's. Messages never hold an API key: every message
goes through ``redact`` with the adapter's key before it is raised.
"""

from __future__ import annotations

from turngate.core.events import ModelFailureKind
from turngate.errors import ProviderError

__all__ = ["CloudError", "kind_for_status", "kind_for_close", "redact"]


class CloudError(ProviderError):
    """A cloud STT/TTS request failed; ``kind`` says how, ``status`` is the HTTP
    status or WebSocket close code when there was one."""

    def __init__(self, provider: str, kind: ModelFailureKind, message: str, *, status: int | None = None) -> None:
        super().__init__(provider, f"{kind}: {message}")
        self.kind: ModelFailureKind = kind
        self.status = status


def kind_for_status(status: int) -> ModelFailureKind:
    """An HTTP status (of a REST answer or a refused WebSocket handshake) as a failure kind."""
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if status in (401, 402, 403, 404):
        return "config"  # wrong key, no credit, wrong URL or model: no retry helps
    if status == 408:
        return "timeout"
    return "error"


def kind_for_close(code: int | None, reason: str = "") -> ModelFailureKind:
    """A WebSocket close the client did not ask for.

    Deepgram closes with 1011 ``NET-0000`` (it sent nothing in time) or ``NET-0001``
    (it received nothing in time) and with 1008/1002 ``DATA-0000`` (audio it cannot
    decode); 1006 means the TCP connection broke without a close frame."""
    if code in (1002, 1003, 1007, 1008, 1009):
        return "error"
    if code == 1011:
        return "timeout" if reason.startswith("NET-") else "server_error"
    if code in (1012, 1013, 1014):
        return "server_error"
    return "disconnect"


def redact(text: str, *secrets: str) -> str:
    """``text`` without any of ``secrets`` (real keys are long; a secret of a few
    characters would blank out ordinary words, so it is left to the key's owner)."""
    for secret in secrets:
        if len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return text
