"""One frozen configuration object. CLI flags and ``TURNGATE_*`` environment
variables map onto its fields one to one; nothing else reads the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, fields, replace
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    # The URL Twilio reaches us at (https://example.ngrok.app). Used to build the
    # stream URL in TwiML and to validate signatures behind a proxy. Empty: derive
    # from the request.
    public_url: str = ""
    # Twilio auth token: when set, X-Twilio-Signature is required on the webhook
    # and on the WebSocket handshake. Read from TWILIO_AUTH_TOKEN too.
    twilio_auth_token: str = ""
    # With the auth token, transfers redirect the live call through Twilio's REST
    # API; empty: they go to the outbox file. Read from TWILIO_ACCOUNT_SID too.
    twilio_account_sid: str = ""
    # Twilio's REST base; a test points it at a local server speaking the same API.
    twilio_api_base: str = "https://api.twilio.com"
    # Where CRM notes and follow-up tasks are POSTed as JSON; empty: the outbox file.
    crm_webhook_url: str = ""
    # Secret that signs per-call stream tokens. Random per process when unset, so
    # set it when several gateway processes sit behind one load balancer.
    stream_secret: str = ""
    stream_token_ttl_s: int = 300
    store: str = "sqlite:///turngate.db"
    # Where the demo's CRM and Twilio-transfer deliveries land (one JSON line per outbox row).
    outbox_file: str = "var/outbox.jsonl"
    policy: str = ""            # path; empty = the bundled default policy
    agent: str = ""             # scripted agent YAML; empty = the bundled one
    tts_voice: str = "kal"
    stt_workers: int = 2        # STT worker processes; 0 decodes in threads of the gateway process
    max_calls: int = 200
    log_level: str = "info"
    # Sentence-encoder embeddings of a custom policy's examples (and the benchmarks' data
    # sets) are kept here; from_env defaults it to $XDG_CACHE_HOME/turngate or ~/.cache/turngate.
    cache_dir: str = ""
    # Speech providers: the embedded ones (no key) or Deepgram's live STT / Aura TTS, whose
    # key is read from the environment variable named here (never stored in the config).
    stt: str = "pocketsphinx"   # pocketsphinx | deepgram
    tts: str = "flite"          # flite | deepgram
    deepgram_url: str = "https://api.deepgram.com"  # a local fake: http://127.0.0.1:PORT
    deepgram_stt_model: str = "nova-3"
    deepgram_tts_model: str = "aura-2-thalia-en"
    deepgram_api_key_env: str = "DEEPGRAM_API_KEY"

    def __post_init__(self) -> None:
        for name, choices in (("stt", _STT), ("tts", _TTS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"TURNGATE_{name.upper()}: {getattr(self, name)!r} is not one of "
                                  f"{', '.join(choices)}")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> "Config":
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = "TURNGATE_" + f.name.upper()
            if key in env:
                values[f.name] = _coerce(f.name, env[key], f.type)
        for name in ("twilio_auth_token", "twilio_account_sid"):  # Twilio's own variable names
            if name not in values and env.get(name.upper()):
                values[name] = env[name.upper()]
        values.update({k: v for k, v in overrides.items() if v is not None})
        cfg = cls(**values)
        if not cfg.cache_dir:
            cfg = replace(cfg, cache_dir=os.path.join(
                env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "turngate"))
        if not cfg.stream_secret:
            cfg = replace(cfg, stream_secret=secrets.token_hex(32))
        return cfg


_STT = ("pocketsphinx", "deepgram")
_TTS = ("flite", "deepgram")


def api_key(env_var: str, env: dict[str, str] | None = None, *, needed_by: str = "") -> str:
    """The API key in environment variable ``env_var``. A ``ConfigError`` when it is
    unset names the variable, never a value."""
    value = (os.environ if env is None else env).get(env_var, "").strip()
    if not value:
        why = f" (needed by {needed_by})" if needed_by else ""
        raise ConfigError(f"environment variable {env_var} is not set{why}")
    return value


def _coerce(name: str, raw: str, typ: Any) -> Any:
    try:
        if typ in (int, "int"):
            return int(raw)
        return raw
    except ValueError:
        raise ConfigError(f"TURNGATE_{name.upper()}: expected an integer, got {raw!r}") from None


def process_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus ``extra``: what a child gateway process is started with."""
    return {**os.environ, **(extra or {})}


class Secret:
    """A credential read from the environment. Its ``repr`` and ``str`` never show the
    value, so a stray log line, exception or decision cannot carry it; only the HTTP
    layer calls :meth:`reveal`."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source  # the variable's name: safe to log

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(from ${self.source})"

    __str__ = __repr__


def secret_from_env(name: str, env: Mapping[str, str] | None = None) -> Secret | None:
    """The API key in the environment variable a policy profile names (``api_key_env``),
    or None when it is unset or empty. The policy holds the variable's name, never the key."""
    if not name:
        return None
    value = (os.environ if env is None else env).get(name, "")
    return Secret(value, name) if value else None
