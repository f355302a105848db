"""Scenarios that need a gateway of their own.

Real model profiles: a local OpenAI-compatible server (the fake of
``turngate.testing.fakes.openai_server``) answers as each profile's model the way the
scenario says (stall, error, reply), and a gateway runs under the bundled policy plus a
``models:`` section that points every profile at it. The demo and the tests use this to
show a stalled primary hedged by its backup, over the real protocol.

Turn-taking settings: the bundled policy with the scenario's ``turn_taking`` fields set
(an option the bundled policy leaves off, shown working end to end)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import yaml

from ..testing.fakes.openai_server import Behaviour, FakeOpenAI, serve_in_thread
from ..policy import DEFAULT_POLICY_PATH
from .scenario import FakeModels, Scenario


def fake_for(models: FakeModels) -> FakeOpenAI:
    fake = FakeOpenAI()
    for name, m in models.profiles:
        b = Behaviour(stall_ms=m.stall_ms, status=m.status)
        fake.models[name] = Behaviour(reply=m.reply, stall_ms=m.stall_ms, status=m.status) if m.reply else b
    return fake


def models_section(models: FakeModels, base_url: str) -> dict[str, object]:
    """A ``models:`` section whose profiles are served at ``base_url`` (the model name is the
    profile's name, which is how the fake tells them apart)."""
    profiles = {}
    for name, m in models.profiles:
        p: dict[str, object] = {"provider": "openai", "base_url": base_url, "model": name}
        if m.first_token_ms is not None:
            p["first_token_ms"] = m.first_token_ms
        profiles[name] = p
    return {"models": {"profiles": profiles, "fallback": {n: list(c) for n, c in models.fallback}}}


def scenario_policy_text(scenario: Scenario, base_url: str | None) -> str:
    """The bundled policy as the scenario needs it: its model profiles served at
    ``base_url``, its turn-taking fields set over the bundled ones."""
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    if scenario.models is not None and base_url is not None:
        policy.update(models_section(scenario.models, base_url))
    policy["turn_taking"] = {**policy.get("turn_taking", {}), **dict(scenario.turn_taking)}
    return yaml.safe_dump(policy, sort_keys=False)


@contextmanager
def scenario_gateway(scenario: Scenario, workdir: Path, *, store: str) -> Iterator[str]:
    """A ``turngate serve`` whose policy is the scenario's (``scenario_policy_text``), and,
    if the scenario has model profiles, the local fake that serves them: yields its URL."""
    from ..demo import Gateway

    with ExitStack() as stack:
        base_url = None
        if scenario.models is not None:
            base_url = stack.enter_context(serve_in_thread(fake_for(scenario.models)))
        workdir.mkdir(parents=True, exist_ok=True)
        policy = workdir / "scenario-policy.yaml"
        policy.write_text(scenario_policy_text(scenario, base_url), encoding="utf-8")
        gw = stack.enter_context(Gateway(store=store, log_path=str(workdir / "scenario-gateway.log"),
                                         env={"TURNGATE_POLICY": str(policy),
                                              "TURNGATE_OUTBOX_FILE": str(workdir / "scenario-outbox.jsonl")}))
        yield gw.url
