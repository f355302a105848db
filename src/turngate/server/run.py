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


def _draining_server_class() -> type:
    import asyncio
    import signal

    import uvicorn

    from .drain import drain

    class DrainingServer(uvicorn.Server):
        """uvicorn, except that the first SIGTERM drains (see server/drain.py) before
        uvicorn's own shutdown, which would close every live media stream at once."""

        def __init__(self, config: uvicorn.Config, *, grace_s: float) -> None:
            super().__init__(config)
            self.grace_s = grace_s
            self._drain_task: asyncio.Task[bool] | bool | None = None

        def handle_exit(self, sig: int, frame: Any) -> None:
            app_state = getattr(self.config.app, "state", None)
            if self._drain_task is not None or sig != signal.SIGTERM or app_state is None:
                super().handle_exit(sig, frame)  # a second signal, or SIGINT: stop now
                return
            loop = asyncio.get_event_loop()
            self._drain_task = True  # a drain is on its way

            def start() -> None:
                self._drain_task = loop.create_task(self._drain(app_state))

            loop.call_soon_threadsafe(start)

        async def _drain(self, app_state: Any) -> bool:
            try:
                return await drain(app_state.admission, grace_s=self.grace_s, flush=app_state.drain_flush)
            finally:
                self.should_exit = True

    return DrainingServer


def DrainingServer(config: Any, *, grace_s: float) -> Any:  # noqa: N802 (a class, built lazily)
    return _draining_server_class()(config, grace_s=grace_s)


def _has_sansio() -> bool:
    try:
        from uvicorn.protocols.websockets import websockets_sansio_impl  # noqa: F401
        return True
    except ImportError:
        return False
