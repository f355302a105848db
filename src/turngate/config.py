"""One frozen configuration object. CLI flags and ``TURNGATE_*`` environment
variables map onto its fields one to one; nothing else reads the environment.

Secrets (``twilio_auth_token``, ``stream_secret``, ``admin_token``,
``console_token``) are kept out of ``repr``, so a logged or raised Config never
carries them; ``Config.secrets()`` lists them for the log scrubber and the tests.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .errors import ConfigError


def limit_blas_threads() -> None:
    """One BLAS thread per operation unless ``OPENBLAS_NUM_THREADS`` says otherwise; it must
    run before numpy loads. A gateway runs many calls at once, so its parallelism is across
    calls. OpenBLAS's own threads on a small shared machine made a 40k-sample dot product 45x
    slower (1.4 ms vs 30 us) and the sentence encoder's matmuls 2.4x slower, and their spinning
    took a core from the event loop."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


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
    twilio_auth_token: str = field(default="", repr=False)
    # With the auth token, transfers redirect the live call through Twilio's REST
    # API; empty: they go to the outbox file. Read from TWILIO_ACCOUNT_SID too.
    twilio_account_sid: str = ""
    # Twilio's REST base; a test points it at a local server speaking the same API.
    twilio_api_base: str = "https://api.twilio.com"
    # Where CRM notes and follow-up tasks are POSTed as JSON; empty: the outbox file.
    crm_webhook_url: str = field(default="", repr=False)
    # Secret that signs per-call stream tokens. Random per process when unset, so
    # set it when several gateway processes sit behind one load balancer.
    stream_secret: str = field(default="", repr=False)
    stream_token_ttl_s: int = 300
    # A stream that has not sent a valid ``start`` this long after the handshake is closed.
    stream_start_timeout_s: float = 10.0
    store: str = "sqlite:///turngate.db"
    # Where the demo's CRM and Twilio-transfer deliveries land (one JSON line per outbox row).
    outbox_file: str = "var/outbox.jsonl"
    policy: str = ""            # path; empty = the bundled default policy
    agent: str = ""             # scripted agent YAML; empty = the bundled one
    tts_voice: str = "kal"
    stt_workers: int = 2        # STT worker processes; 0 decodes in threads of the gateway process
    # Concurrent calls per process: beyond it the webhook answers "busy" and a media
    # stream handshake is refused (open streams, started or not, count). The default is
    # the embedded stack's measured capacity, about 15 calls per core (docs/deployment.md):
    # past it a process does not refuse, it fails every call (frame p99 0.9 s and half the
    # calls lost at 200 calls on 2 cores). Cloud STT/TTS carry about three times as many.
    max_calls: int = field(default_factory=lambda: 15 * (os.cpu_count() or 1))
    # A token that opens the web console (/console) from anywhere but loopback, as a
    # bearer token or through the console's login form (cookie turngate_token).
    console_token: str = ""
    # OTLP/HTTP endpoint for OpenTelemetry traces (a span per call and per turn); empty: off.
    otel_endpoint: str = ""
    # Where kept call audio goes, for a policy with retention.audio (PII muted; see server/audio_keep.py).
    audio_dir: str = "var/audio"
    log_level: str = "info"
    # Sentence-encoder embeddings of a custom policy's examples (and the benchmarks' data
    # sets) are kept here; from_env defaults it to $XDG_CACHE_HOME/turngate or ~/.cache/turngate.
    cache_dir: str = ""
    # Speech providers: the embedded ones (no key) or Deepgram's live STT / Aura TTS, whose
    # key is read from the environment variable named here (never stored in the config).
    stt: str = "pocketsphinx"   # pocketsphinx | deepgram | scripted (load runs: stt_script)
    tts: str = "flite"          # flite | deepgram
    deepgram_url: str = "https://api.deepgram.com"  # a local fake: http://127.0.0.1:PORT
    deepgram_stt_model: str = "nova-3"
    deepgram_tts_model: str = "aura-2-thalia-en"
    deepgram_api_key_env: str = "DEEPGRAM_API_KEY"

    # --- access (see server/access.py): everything but /twilio/*, /healthz, /readyz is admin.
    # Without admin_token, admin paths answer only clients in local_networks.
    admin_token: str = field(default="", repr=False)
    # Also accepted under /console (a read-only login for QA); empty: none.
    console_token: str = field(default="", repr=False)
    # Networks whose clients count as local (comma-separated CIDRs in the environment).
    local_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    # Accept unsigned webhooks on a gateway reachable from outside (no TWILIO_AUTH_TOKEN): trials only.
    insecure_dev: bool = False
    # --- limits
    webhook_rate: float = 20.0      # webhook requests per second per source address (token bucket)
    webhook_burst: int = 50         # bucket size: requests a source may send at once
    max_body_bytes: int = 64 * 1024     # any HTTP request body (Twilio's webhook form is ~1 KB)
    max_query_bytes: int = 4096         # any query string

    def __post_init__(self) -> None:
        for name, choices in (("stt", _STT), ("tts", _TTS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"TURNGATE_{name.upper()}: {getattr(self, name)!r} is not one of "
                                  f"{', '.join(choices)}")
        for net in self.local_networks:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(f"TURNGATE_LOCAL_NETWORKS: {net!r} is not a network (e.g. 127.0.0.0/8)") from None
        for name in ("max_calls", "webhook_burst", "max_body_bytes", "max_query_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"TURNGATE_{name.upper()}: must be at least 1")
        if self.webhook_rate <= 0 or self.stream_start_timeout_s <= 0:
            raise ConfigError("TURNGATE_WEBHOOK_RATE and TURNGATE_STREAM_START_TIMEOUT_S must be positive")

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log, a record, an error or /api output."""
        return tuple(v for v in (self.twilio_auth_token, self.stream_secret, self.admin_token,
                                 self.console_token, self.crm_webhook_url) if v)
    # -- scale and operations (issue 12) --
    # On SIGTERM: refuse new calls, let calls in flight run this long, then flush and exit.
    drain_grace_s: int = 30
    # Past max_calls (or while draining) the webhook <Dial>s this number; empty: a spoken refusal.
    overflow_number: str = ""
    # STT audio queued for a recogniser that lags, per call, before the oldest is dropped.
    stt_backlog_ms: int = 5000
    # With stt = "scripted": turngate.testing.ScriptedStt reading stt_script (one caller
    # utterance a line), for load runs and drills.
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
        if not cfg.cache_dir:
            cfg = replace(cfg, cache_dir=os.path.join(
                env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "turngate"))
        if not cfg.stream_secret:
            cfg = replace(cfg, stream_secret=secrets.token_hex(32))
        return cfg


_STT = ("pocketsphinx", "deepgram", "scripted")
_TTS = ("flite", "deepgram")


def api_key(env_var: str, env: dict[str, str] | None = None, *, needed_by: str = "") -> str:
    """The API key in environment variable ``env_var``. A ``ConfigError`` when it is
    unset names the variable, never a value."""
    value = (os.environ if env is None else env).get(env_var, "").strip()
    if not value:
        why = f" (needed by {needed_by})" if needed_by else ""
        raise ConfigError(f"environment variable {env_var} is not set{why}")
    return value
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _coerce(name: str, raw: str, typ: Any) -> Any:
    key = f"TURNGATE_{name.upper()}"
    try:
        if typ in (int, "int"):
            return int(raw)
        if typ in (float, "float"):
            return float(raw)
    except ValueError:
        raise ConfigError(f"{key}: expected a number, got {raw!r}") from None
    if typ in (bool, "bool"):
        if raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise ConfigError(f"{key}: expected 1 or 0, got {raw!r}")
    if typ in (tuple[str, ...], "tuple[str, ...]"):
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    return raw


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
