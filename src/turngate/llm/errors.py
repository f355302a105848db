"""The model error tree, a branch of ``turngate.errors`` split by who is at fault.

    TurngateError
    ├── ProviderError
    │   └── ModelError               the model provider failed; ``kind`` is the ModelFailed kind
    │       ├── ModelRateLimited         429                                 kind rate_limited
    │       ├── ModelServerError         5xx, or an error event mid-stream   kind server_error
    │       ├── ModelDisconnected        connect/read error, or a stream that
    │       │                            ended without finish_reason/[DONE]  kind disconnect
    │       ├── ModelTimeout             no answer within the profile's total_ms,
    │       │                            or the HTTP client's own timeout    kind timeout
    │       ├── ModelRejected            another 4xx: the provider refused the request
    │       │                            (a model name it does not serve, a bad parameter)  kind error
    │       └── CircuitOpen              the provider's breaker refused the attempt  kind circuit_open
    └── ConfigError
        └── ModelConfigError         a missing API key, 401/403, an unknown provider  kind config

Messages are written for the decision log: they never hold the API key, the
request body or the caller's words (only a status, an error ``type``/``code`` and
a short provider message, cut to 160 characters).
"""

from __future__ import annotations

from ..errors import ConfigError, ProviderError

__all__ = [
    "ModelError", "ModelRateLimited", "ModelServerError", "ModelDisconnected", "ModelTimeout",
    "ModelRejected", "CircuitOpen", "ModelConfigError", "failure_kind",
]


class ModelError(ProviderError):
    kind = "error"

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(provider, message[:240])
        self.status = status


class ModelRateLimited(ModelError):
    kind = "rate_limited"


class ModelServerError(ModelError):
    kind = "server_error"


class ModelDisconnected(ModelError):
    kind = "disconnect"


class ModelTimeout(ModelError):
    kind = "timeout"


class ModelRejected(ModelError):
    kind = "error"


class CircuitOpen(ModelError):
    kind = "circuit_open"


class ModelConfigError(ConfigError):
    kind = "config"

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message[:240]}")
        self.provider = provider
        self.status = status


def failure_kind(error: BaseException) -> str:
    """The ``ModelFailed.kind`` for any exception out of a model stream."""
    kind = getattr(error, "kind", None)
    if isinstance(kind, str):
        return kind
    if isinstance(error, ConfigError):
        return "config"
    if isinstance(error, TimeoutError):
        return "timeout"
    return "error"
