"""The policy's ``models:`` section: named model profiles and their fallback chains.

    models:
      profiles:
        low_latency:        {provider: openai, base_url: https://api.openai.com/v1, model: gpt-4o-mini,
                             api_key_env: OPENAI_API_KEY, first_token_ms: 600}
        low_latency_backup: {provider: openai, base_url: http://127.0.0.1:8000/v1, model: llama-3.1-8b,
                             first_token_ms: 900}
      fallback:
        low_latency: [low_latency_backup, scripted]
      breaker: {failures_to_open: 3, cool_down_ms: 30000}

A route names a profile; a profile this section does not define (and ``scripted``)
is served by the offline scripted agent, so a policy without the section needs no
key. The section holds the *name* of the environment variable with the key, never
the key. This module is pure: the schema is validated by ``turngate.policy`` (which
turns a location into file, line and field), :func:`problems` finds the cross-field
mistakes, :func:`build` makes the frozen objects the providers read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["PROVIDERS", "SCRIPTED", "ModelProfile", "BreakerSettings", "ModelsSection", "ModelsSchema",
           "problems", "build"]

# openai: Chat Completions (text; flite or a cloud TTS speaks it). realtime: OpenAI Realtime,
# speech to speech (the model speaks; the gateway still owns the turns).
PROVIDERS: frozenset[str] = frozenset({"openai", "realtime"})
SCRIPTED = "scripted"  # the offline agent: a valid last entry of any fallback chain
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


# --- frozen objects the providers read -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelProfile:
    name: str
    provider: str
    base_url: str
    model: str
    api_key_env: str = ""             # empty: send no key (a local server)
    auth: Literal["bearer", "api-key"] = "bearer"   # "api-key": Azure OpenAI's header
    api_version: str = ""             # Azure OpenAI's ?api-version=
    first_token_ms: int | None = None
    total_ms: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    system_prompt: str = ""
    tools: tuple[Mapping[str, Any], ...] = ()

    @property
    def provider_key(self) -> str:
        """What a circuit breaker is kept per: one endpoint serving one model."""
        return f"{self.base_url.rstrip('/')}#{self.model}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerSettings:
    failures_to_open: int = 3
    cool_down_ms: int = 30_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelsSection:
    profiles: Mapping[str, ModelProfile] = field(default_factory=lambda: MappingProxyType({}))
    fallback: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    breaker: BreakerSettings = field(default_factory=BreakerSettings)

    def profile(self, name: str) -> ModelProfile | None:
        """The profile serving ``name``; None: the scripted agent serves it."""
        return self.profiles.get(name)

    def chain(self, name: str) -> tuple[str, ...]:
        """The fallback entries after ``name``, in order (may end in ``scripted``)."""
        return self.fallback.get(name, ())


# --- validation schema ------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Profile(_Strict):
    provider: str
    base_url: str
    model: str = Field(min_length=1)
    api_key_env: str = ""
    auth: Literal["bearer", "api-key"] = "bearer"
    api_version: str = ""
    first_token_ms: int | None = Field(default=None, gt=0, le=60_000)
    total_ms: int | None = Field(default=None, gt=0, le=600_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=100_000)
    system_prompt: str = ""
    tools: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, v: str) -> str:
        if v not in PROVIDERS:
            raise ValueError(f"unknown provider {v!r}; expected one of {sorted(PROVIDERS)}")
        return v

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^(https?|wss?)://[^/\s]+", v):
            raise ValueError("base_url must be an http(s):// URL (the API root, e.g. .../v1), or ws(s):// for realtime")
        return v

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        # The policy names the variable; a value that is not a variable name may be a
        # pasted key, so the message must not echo it.
        if v and not _ENV_NAME.match(v):
            raise ValueError("must be the name of an environment variable holding the key, not the key")
        return v

    @field_validator("tools")
    @classmethod
    def _function_tools(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, t in enumerate(v):
            fn = t.get("function")
            if t.get("type") != "function" or not isinstance(fn, dict) or not fn.get("name"):
                raise ValueError(f"tool {i} must be {{type: function, function: {{name: ..., parameters: ...}}}}")
        return v


class _Breaker(_Strict):
    failures_to_open: int = Field(default=3, ge=1, le=1000)
    cool_down_ms: int = Field(default=30_000, ge=0, le=3_600_000)


class ModelsSchema(_Strict):
    profiles: dict[str, _Profile] = Field(default_factory=dict)
    fallback: dict[str, list[str]] = Field(default_factory=dict)
    breaker: _Breaker = _Breaker()


# --- cross-field checks -----------------------------------------------------------------

Loc = tuple[str | int, ...]


def problems(m: ModelsSchema) -> list[tuple[Loc, str]]:
    """Mistakes no single field shows, as (location under ``models``, message), in file order."""
    out: list[tuple[Loc, str]] = []
    for name, p in m.profiles.items():
        if name == SCRIPTED:
            out.append((("profiles", name), f"{SCRIPTED!r} is the offline agent's name; a profile may not take it"))
        elif not _NAME.match(name):
            out.append((("profiles", name), "a profile name is letters, digits, '_', '-' or '.'"))
        if p.total_ms is not None and p.first_token_ms is not None and p.total_ms < p.first_token_ms:
            out.append((("profiles", name, "total_ms"),
                        f"total_ms ({p.total_ms}) is shorter than first_token_ms ({p.first_token_ms})"))
        if p.auth == "api-key" and not p.api_key_env:
            out.append((("profiles", name, "api_key_env"), "auth: api-key needs api_key_env"))
    for name, chain in m.fallback.items():
        if name not in m.profiles:
            out.append((("fallback", name), f"fallback for {name!r}, which models.profiles does not define"))
        seen: set[str] = set()
        for i, entry in enumerate(chain):
            if entry == SCRIPTED:
                if i != len(chain) - 1:
                    out.append((("fallback", name, i), f"{SCRIPTED!r} must be the last entry (it always answers)"))
            elif entry not in m.profiles:
                out.append((("fallback", name, i),
                            f"{entry!r} is not a profile under models.profiles (nor {SCRIPTED!r})"))
            if entry == name:
                out.append((("fallback", name, i), f"{name!r} falls back to itself"))
            elif entry in seen:
                out.append((("fallback", name, i), f"{entry!r} is listed twice"))
            seen.add(entry)
    cycle = _cycle(m.fallback)
    if cycle and len(cycle) > 2:
        out.append((("fallback", cycle[0]), "fallback cycle: " + " -> ".join(cycle)))
    return out


def _cycle(graph: Mapping[str, list[str]]) -> list[str]:
    """One cycle of the fallback graph as [a, b, ..., a], or [] (depth-first, three colours)."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str]:
        colour[n] = 1
        stack.append(n)
        for nxt in graph.get(n, ()):
            if colour.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[n] = 2
        return []

    for node in graph:
        if colour.get(node) is None:
            found = visit(node)
            if found:
                return found
    return []


def build(m: ModelsSchema) -> ModelsSection:
    profiles = {
        name: ModelProfile(name=name, provider=p.provider, base_url=p.base_url.rstrip("/"), model=p.model,
                           api_key_env=p.api_key_env, auth=p.auth, api_version=p.api_version,
                           first_token_ms=p.first_token_ms, total_ms=p.total_ms, temperature=p.temperature,
                           max_tokens=p.max_tokens, system_prompt=p.system_prompt.strip(),
                           tools=tuple(MappingProxyType(dict(t)) for t in p.tools))
        for name, p in m.profiles.items()
    }
    return ModelsSection(profiles=MappingProxyType(profiles),
                         fallback=MappingProxyType({k: tuple(v) for k, v in m.fallback.items()}),
                         breaker=BreakerSettings(**m.breaker.model_dump()))


def fallback_policy(models: ModelsSection) -> "FallbackPolicy":
    """What the call core needs of the section: each profile's budgets and chain."""
    from ..core.fallback import FallbackPolicy, ModelBudget

    return FallbackPolicy(
        budgets={n: ModelBudget(first_token_ms=p.first_token_ms, total_ms=p.total_ms) for n, p in models.profiles.items()},
        chains={n: tuple(chain) for n, chain in models.fallback.items()})
