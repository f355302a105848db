"""Scenarios that need real model profiles: a local OpenAI-compatible server (the
fake of ``turngate.testing.fakes.openai_server``) answers as each profile's model the way the
scenario says (stall, error, reply), and a gateway runs under the bundled policy plus
a ``models:`` section that points every profile at it. The demo and the tests use this
to show a stalled primary hedged by its backup, over the real protocol."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from ..testing.fakes.openai_server import Behaviour, FakeOpenAI, serve_in_thread
from ..policy import DEFAULT_POLICY_PATH
from .scenario import FakeModels


def fake_for(models: FakeModels) -> FakeOpenAI:
    fake = FakeOpenAI()
    for name, m in models.profiles:
        b = Behaviour(stall_ms=m.stall_ms, status=m.status)
        fake.models[name] = Behaviour(reply=m.reply, stall_ms=m.stall_ms, status=m.status) if m.reply else b
    return fake


def policy_text(models: FakeModels, base_url: str) -> str:
    """The bundled policy with a ``models:`` section whose profiles are served at ``base_url``
    (the model name is the profile's name, which is how the fake tells them apart)."""
    profiles = {}
    for name, m in models.profiles:
        p: dict[str, object] = {"provider": "openai", "base_url": base_url, "model": name}
        if m.first_token_ms is not None:
            p["first_token_ms"] = m.first_token_ms
        profiles[name] = p
    section = {"models": {"profiles": profiles, "fallback": {n: list(c) for n, c in models.fallback}}}
    return DEFAULT_POLICY_PATH.read_text(encoding="utf-8") + "\n" + yaml.safe_dump(section, sort_keys=False)


@contextmanager
def models_gateway(models: FakeModels, workdir: Path, *, store: str) -> Iterator[tuple[str, FakeOpenAI]]:
    """A fake model server and a ``turngate serve`` whose policy points at it: (url, fake)."""
    from ..demo import Gateway

    fake = fake_for(models)
    with serve_in_thread(fake) as base_url:
        workdir.mkdir(parents=True, exist_ok=True)
        policy = workdir / "models-policy.yaml"
        policy.write_text(policy_text(models, base_url), encoding="utf-8")
        with Gateway(store=store, log_path=str(workdir / "models-gateway.log"),
                     env={"TURNGATE_POLICY": str(policy),
                          "TURNGATE_OUTBOX_FILE": str(workdir / "models-outbox.jsonl")}) as gw:
            yield gw.url, fake
