"""The error tree, split by who is at fault.

    TurngateError
    ├── PeerError            the caller / Twilio sent something we cannot use
    │   ├── MalformedMessage     a frame that is not valid Twilio Media Streams JSON
    │   └── AuthError            a missing or wrong stream token or webhook signature
    ├── ProviderError        a model, STT, TTS or CRM provider failed or stalled
    ├── ConfigError          the operator's configuration or policy file is wrong
    └── InternalError        a bug in turngate
        └── IllegalTransition    the call core was asked for a transition not in its table

Each error may carry ``close_reason``: what the shell should tell the peer
(like wsproto's ``event_hint``), so the shell never has to guess a reply.
"""

from __future__ import annotations


class TurngateError(Exception):
    close_reason: str = "internal error"


class PeerError(TurngateError):
    close_reason = "protocol error"


class MalformedMessage(PeerError):
    close_reason = "malformed message"


class AuthError(PeerError):
    close_reason = "unauthorized"

    def __init__(self, message: str, *, close_reason: str = "unauthorized") -> None:
        super().__init__(message)
        self.close_reason = close_reason


class ProviderError(TurngateError):
    close_reason = "provider failure"

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class ConfigError(TurngateError):
    close_reason = "configuration error"


class InternalError(TurngateError):
    pass


class IllegalTransition(InternalError):
    """A state-machine transition that is not in the table."""

    def __init__(self, state: str, trigger: str) -> None:
        super().__init__(f"no transition from {state!r} on {trigger!r}")
        self.state = state
        self.trigger = trigger
