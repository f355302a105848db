"""Everything a call needs from the process, built once: the embedded default
stack (Silero VAD, pocketsphinx, flite, the scripted agent, the policy gates)
or whatever a deployment plugs in instead."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..agent.base import Agent
from ..config import Config
from ..core.gatekeeper import Gatekeeper
from ..core.params import TurnParams
from ..speech.stt import SttEngine
from ..speech.tts import TtsEngine
from ..store.writer import DecisionWriter
from .metrics import Metrics
from .vadhub import VadHub

log = logging.getLogger("turngate")


@dataclass
class Providers:
    config: Config
    vad: VadHub
    stt: SttEngine
    tts: TtsEngine
    agents: Mapping[str, Agent]
    gatekeeper: Callable[[Mapping[str, str]], Gatekeeper]
    writer: DecisionWriter
    turn_params: TurnParams = field(default_factory=TurnParams)
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="turngate-io"))
    metrics: Metrics = field(default_factory=Metrics)
    store: Any = None

    def agent_for(self, profile: str) -> Agent:
        return self.agents.get(profile) or self.agents["default"]

    def close(self) -> None:
        self.writer.close()
        close = getattr(self.stt, "close", None)
        if close is not None:
            close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def embedded(config: Config) -> Providers:
    """The default stack: no API keys, no downloads."""
    from ..agent.scripted import ScriptedAgent, load_agent_script
    from ..encoder_cache import for_policy
    from ..gates.keeper import keeper_factory
    from ..policy import load_policy
    from ..speech.flite_tts import FliteTts
    from ..speech.pocketsphinx_stt import PocketsphinxEngine
    from ..speech.process_stt import ProcessSttEngine
    from ..store import open_store

    policy = load_policy(config.policy or None)
    script = load_agent_script(config.agent or None)
    phrases = [ex for r in policy.routes.values() for ex in r.examples]
    phrases += [rule.say for rules in script.routes.values() for rule in rules] + [script.greeting]
    log.info("loading embedded stack: policy %s, %d STT phrases", policy.version, len(phrases))
    store = open_store(config.store)
    return Providers(
        config=config,
        vad=VadHub(),
        # pocketsphinx decodes with the GIL held: in worker processes it cannot stall
        # the event loop that every call's frames go through.
        stt=scripted_stt(config) if config.stt == "scripted" else
        ProcessSttEngine(functools.partial(PocketsphinxEngine, phrases), workers=config.stt_workers)
        if config.stt_workers > 0 else PocketsphinxEngine(phrases),
        tts=FliteTts(voice=config.tts_voice),
        agents={"default": ScriptedAgent(script)},
        gatekeeper=keeper_factory(policy, script.greeting, encoder=for_policy(policy)),
        writer=DecisionWriter(store),
        turn_params=policy.turn_taking,
        store=store,
    )


def scripted_stt(config: Config) -> SttEngine:
    """``TURNGATE_STT=scripted``: every call hears the utterances of ``stt_script`` (one a
    line) in order, word by word, instead of decoding audio; for load runs and drills,
    where the gateway's own cost is what is measured."""
    from pathlib import Path

    from ..errors import ConfigError
    from ..testing import ScriptedStt

    if config.stt not in ("embedded", "scripted"):
        raise ConfigError(f"TURNGATE_STT: expected embedded or scripted, got {config.stt!r}")
    lines: list[str] = []
    if config.stt_script:
        try:
            lines = [ln.strip() for ln in Path(config.stt_script).read_text().splitlines() if ln.strip()]
        except OSError as e:
            raise ConfigError(f"TURNGATE_STT_SCRIPT {config.stt_script}: {e}") from e
    log.info("STT: scripted, %d utterances per call (%s)", len(lines), config.stt_script or "none")
    return ScriptedStt(lines)  # type: ignore[return-value]
