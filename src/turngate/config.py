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
    log_level: str = "info"
    # -- scale and operations (issue 12) --
    # On SIGTERM: refuse new calls, let calls in flight run this long, then flush and exit.
    drain_grace_s: int = 30
    # Past max_calls (or while draining) the webhook <Dial>s this number; empty: a spoken refusal.
    overflow_number: str = ""
    # STT audio queued for a recogniser that lags, per call, before the oldest is dropped.
    stt_backlog_ms: int = 5000
    # "embedded" (pocketsphinx) or "scripted": turngate.testing.ScriptedStt reading
    # stt_script (one caller utterance a line), for load runs and drills.
    stt: str = "embedded"
    stt_script: str = ""
    # Outbox rows a delivery worker claims are hidden from other workers this long.
    outbox_lease_s: int = 60
    # Redis for the cross-process live-call registry, transfers and tenant limits; empty: off.
    redis_url: str = ""
    # Concurrent calls per tenant (the webhook's AccountSid) across processes, with Redis; 0: no limit.
    tenant_max_calls: int = 0

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


def process_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus ``extra``: what a child gateway process is started with."""
    return {**os.environ, **(extra or {})}
