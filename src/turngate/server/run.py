"""``turngate serve``: the embedded stack under uvicorn."""

from __future__ import annotations

import logging
from typing import Any

from ..config import Config


def build_config(args: Any) -> Config:
    return Config.from_env(host=getattr(args, "host", None), port=getattr(args, "port", None),
                           policy=getattr(args, "policy", None), store=getattr(args, "store", None))


def serve_main(args: Any) -> int:
    import uvicorn

    from .app import create_app
    from .providers import embedded
    from .serving import DrainingServer

    cfg = build_config(args)
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(SecretScrubber(cfg.secrets()))
    app = create_app(embedded(cfg))
    logging.getLogger("turngate").info("listening on http://%s:%d (Twilio webhook: POST /twilio/voice)",
                                       cfg.host, cfg.port)
    # A Twilio media frame is ~300 bytes; the codec logs frames up to 64 KiB as rejected,
    # anything beyond 1 MiB is not read at all.
    server = DrainingServer(uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level,
                                           ws="websockets-sansio" if _has_sansio() else "websockets",
                                           lifespan="on", ws_max_size=1 << 20,
                                           # Compressing base64 mu-law costs CPU on every frame both
                                           # ways for little gain; decline permessage-deflate.
                                           ws_per_message_deflate=False), grace_s=cfg.drain_grace_s)
    server.run()
    return 0


def _has_sansio() -> bool:
    try:
        from uvicorn.protocols.websockets import websockets_sansio_impl  # noqa: F401
        return True
    except ImportError:
        return False


class SecretScrubber(logging.Filter):
    """Defence in depth: a log line that would carry a configured secret carries
    ``[redacted]`` instead (secrets are never logged on purpose; see test_secrets)."""

    def __init__(self, secrets: Any) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if any(s in message or (record.exc_text and s in record.exc_text) for s in self.secrets):
            for s in self.secrets:
                message = message.replace(s, "[redacted]")
                record.exc_text = record.exc_text and record.exc_text.replace(s, "[redacted]")
            record.msg, record.args = message, None
        return True
