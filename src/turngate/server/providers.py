"""Everything a call needs from the process, built once: the embedded default
stack (Silero VAD, pocketsphinx, flite, the scripted agent, the policy gates)
or whatever a deployment plugs in instead.

Models: one adapter per profile the policy's ``models:`` section defines (see
:func:`model_agents`), and one circuit breaker per provider (``base_url`` + ``model``)
shared by every call of the process. A profile the section does not define, and
``scripted``, are served by the scripted agent."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..agent.base import Agent
from ..config import Config, api_key
from ..core.gatekeeper import Gatekeeper
from ..core.fallback import FallbackPolicy
from ..core.params import TurnParams
from ..llm.breaker import BreakerPolicy, Breakers, CircuitBreaker
from ..speech.stt import SttEngine
from ..speech.tts import TtsEngine
from ..twilio.security import StreamTokens
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
    models: FallbackPolicy = field(default_factory=FallbackPolicy)  # hedge budgets and fallback chains
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="turngate-io"))
    metrics: Metrics = field(default_factory=Metrics)
    store: Any = None
    breakers: Breakers = field(default_factory=Breakers)
    stream_tokens: StreamTokens | None = None   # the app makes one from the config when None
    tracer: Any = None  # an OpenTelemetry TracerProvider when TURNGATE_OTEL_ENDPOINT is set (server/tracing.py)
    # The end-of-turn model (vad/smart_turn.py), scored at candidate turn ends; None: turns
    # end on silence and words alone (the core never waits for a score that does not come).
    turn_model: Any = None

    def agent_for(self, profile: str) -> Agent:
        return self.agents.get(profile) or self.agents["default"]

    def breaker_for(self, agent: Any) -> CircuitBreaker | None:
        """The provider's breaker for a model adapter; None for the scripted agent."""
        profile = getattr(agent, "profile", None)
        return None if profile is None else self.breakers.for_key(profile.provider_key)

    def close(self) -> None:
        self.writer.close()
        for provider in (self.stt, self.tts):
            close = getattr(provider, "close", None)
            if close is not None:
                close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.tracer is not None:
            self.tracer.shutdown()  # flushes the spans still batched


def model_agents(models: Any, scripted: Agent, env: Mapping[str, str] | None = None) -> dict[str, Agent]:
    """``default`` and ``scripted`` -> the scripted agent; each profile of the policy's
    ``models:`` section -> its provider's adapter. A missing key is logged by variable
    name (never a value) and every attempt on that profile fails with kind ``config``."""
    from ..llm.openai_chat import PROVIDER_FACTORIES

    agents: dict[str, Agent] = {"default": scripted, "scripted": scripted}
    for name, profile in models.profiles.items():
        if profile.provider == "realtime":
            # Speech to speech holds a session per call: the session makes its own from this one.
            from ..llm.realtime_agent import RealtimeAgent
            adapter: Any = RealtimeAgent(profile, env=env)
        else:
            adapter = PROVIDER_FACTORIES[profile.provider](profile, env=env)
        if profile.api_key_env and adapter.key is None:
            log.warning("model profile %s: $%s is not set; its attempts will fail (kind config)",
                        name, profile.api_key_env)
        agents[name] = adapter
    return agents


def breakers_for(models: Any) -> Breakers:
    b = models.breaker
    return Breakers(BreakerPolicy(failures_to_open=b.failures_to_open, cool_down_s=b.cool_down_ms / 1000))


def stt_phrases(policy, script) -> list[str]:
    """What the embedded recogniser's domain language model is built from: the policy's route
    examples, its risk language (``guard.phrases``: a caller in distress must be heard) and the
    scripted agent's lines (callers echo the agent's words)."""
    phrases = [ex for r in policy.routes.values() for ex in r.examples]
    phrases += list(policy.guard_rules.phrases) if policy.guard_rules is not None else []
    return phrases + [rule.say for rules in script.routes.values() for rule in rules] + [script.greeting]


def embedded(config: Config) -> Providers:
    """The default stack: no API keys, no downloads."""
    from ..agent.scripted import ScriptedAgent, load_agent_script
    from ..embedding.cache import for_policy
    from ..gates.pipeline import keeper_factory
    from ..llm.profiles import fallback_policy
    from ..policy import load_policy
    from ..speech.flite_tts import FliteTts
    from ..speech.pocketsphinx_stt import PocketsphinxEngine
    from ..speech.process_stt import ProcessSttEngine
    from ..store import open_store
    from ..vad import smart_turn
    from .tracing import make_tracer

    policy = load_policy(config.policy or None)
    script = load_agent_script(config.agent or None)
    phrases = stt_phrases(policy, script)
    log.info("loading embedded stack: policy %s, STT %s, TTS %s, model profiles: %s", policy.version, config.stt,
             config.tts, ", ".join(f"{n}={p.model}@{p.base_url}" for n, p in policy.models.profiles.items())
             or "none (scripted agent)")
    stt: SttEngine
    if config.stt == "scripted":
        stt = scripted_stt(config)
    elif config.stt == "deepgram":
        from ..speech.deepgram_stt import DeepgramStt
        stt = DeepgramStt(api_key(config.deepgram_api_key_env, needed_by="TURNGATE_STT=deepgram"),
                          base_url=config.deepgram_url, model=config.deepgram_stt_model)
    elif config.stt_workers > 0:
        # pocketsphinx decodes with the GIL held: in worker processes it cannot stall
        # the event loop that every call's frames go through.
        stt = ProcessSttEngine(functools.partial(PocketsphinxEngine, phrases), workers=config.stt_workers)
    else:
        stt = PocketsphinxEngine(phrases)
    tts: TtsEngine
    if config.tts == "deepgram":
        from ..speech.deepgram_tts import DeepgramTts
        tts = DeepgramTts(api_key(config.deepgram_api_key_env, needed_by="TURNGATE_TTS=deepgram"),
                          base_url=config.deepgram_url, model=config.deepgram_tts_model)
    else:
        tts = FliteTts(voice=config.tts_voice)
    store = open_store(config.store)
    extra: dict[str, Any] = {}
    if "deepgram" in (config.stt, config.tts):
        # A cloud STT turn blocks an I/O thread on the network at its start (handshake) and
        # end (the flushed final), a cloud TTS sentence for its round trip: waits that hold
        # no GIL, so many calls need more threads than the embedded stack's four.
        extra["executor"] = ThreadPoolExecutor(32, thread_name_prefix="turngate-io")
    return Providers(
        config=config,
        vad=VadHub(),
        stt=stt,
        tts=tts,
        **extra,
        agents=model_agents(policy.models, ScriptedAgent(script)),
        breakers=breakers_for(policy.models),
        gatekeeper=keeper_factory(policy, script.greeting, encoder=for_policy(policy, config.cache_dir)),
        writer=DecisionWriter(store),
        turn_params=policy.turn_taking,
        turn_model=smart_turn.load() if policy.turn_taking.turn_model_after_ms > 0 else None,
        models=fallback_policy(policy.models),
        store=store,
        tracer=make_tracer(config.otel_endpoint),
    )


def scripted_stt(config: Config) -> SttEngine:
    """``TURNGATE_STT=scripted``: every call hears the utterances of ``stt_script`` (one a
    line) in order, word by word, instead of decoding audio; for load runs and drills,
    where the gateway's own cost is what is measured."""
    from pathlib import Path

    from ..errors import ConfigError
    from ..testing import ScriptedStt

    lines: list[str] = []
    if config.stt_script:
        try:
            lines = [ln.strip() for ln in Path(config.stt_script).read_text().splitlines() if ln.strip()]
        except OSError as e:
            raise ConfigError(f"TURNGATE_STT_SCRIPT {config.stt_script}: {e}") from e
    log.info("STT: scripted, %d utterances per call (%s)", len(lines), config.stt_script or "none")
    # A word every 1/3 s of the caller's audio: the pace of speech, and of a recogniser's partials.
    return ScriptedStt(lines, words_per_s=3.0)  # type: ignore[return-value]
