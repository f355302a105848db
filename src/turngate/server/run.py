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
    app = create_app(embedded(cfg))
    logging.getLogger("turngate").info("listening on http://%s:%d (Twilio webhook: POST /twilio/voice)",
                                       cfg.host, cfg.port)
    server = DrainingServer(uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level,
                                           ws="websockets-sansio" if _has_sansio() else "websockets",
                                           lifespan="on"), grace_s=cfg.drain_grace_s)
    server.run()
    return 0


def _has_sansio() -> bool:
    try:
        from uvicorn.protocols.websockets import websockets_sansio_impl  # noqa: F401
        return True
    except ImportError:
        return False
