"""One frozen configuration object. CLI flags and ``TURNGATE_*`` environment
variables map onto its fields one to one; nothing else reads the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, fields, replace
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
    # A token that opens the web console (/console) from anywhere but loopback, as a
    # bearer token or through the console's login form (cookie turngate_token).
    console_token: str = ""
    # OTLP/HTTP endpoint for OpenTelemetry traces (a span per call and per turn); empty: off.
    otel_endpoint: str = ""
    # Where kept call audio goes, for a policy with retention.audio (PII muted; see server/audio_keep.py).
    audio_dir: str = "var/audio"
    log_level: str = "info"

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
        if not cfg.stream_secret:
            cfg = replace(cfg, stream_secret=secrets.token_hex(32))
        return cfg


def _coerce(name: str, raw: str, typ: Any) -> Any:
    try:
        if typ in (int, "int"):
            return int(raw)
        return raw
    except ValueError:
        raise ConfigError(f"TURNGATE_{name.upper()}: expected an integer, got {raw!r}") from None
