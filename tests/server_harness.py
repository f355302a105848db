"""A real gateway (uvicorn + the real app) on a free port in a background thread,
with providers a test chooses: real VAD, real store, doubles where a test says so."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from turngate.agent.scripted import ScriptedAgent, load_agent_script
from turngate.config import Config
from turngate.demo import free_port
from turngate.server.app import create_app
from turngate.server.providers import Providers
from turngate.server.vadhub import VadHub
from turngate.store import open_store
from turngate.store.writer import DecisionWriter
from turngate.testing import OpenGatekeeper, ScriptedStt


def make_providers(store_url: str, *, stt=None, tts=None, gatekeeper=None, **config) -> Providers:
    cfg = Config.from_env(env={}, store=store_url, **config)
    store = open_store(store_url)
    if tts is None:
        from turngate.speech.flite_tts import FliteTts
        tts = FliteTts()
    return Providers(config=cfg, vad=VadHub(), stt=stt or ScriptedStt(), tts=tts,
                     agents={"default": ScriptedAgent(load_agent_script())},
                     gatekeeper=gatekeeper or (lambda params: OpenGatekeeper()),
                     writer=DecisionWriter(store), store=store)


@contextmanager
def app_server(providers: Providers) -> Iterator[tuple[str, object]]:
    """The real app under uvicorn in a thread; yields (url, app) so a test can reach app.state."""
    app = create_app(providers)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(15)


@contextmanager
def running_server(providers: Providers) -> Iterator[str]:
    with app_server(providers) as (url, _app):
        yield url
