"""The offline default agent: answers per route from a YAML script.

It is not a fake model: it is what turngate runs with no API key, a small
rule-based agent that asks follow-up questions and confirms. Each route has rules
tried in order against the caller's latest (redacted) words; the first whose
``when`` pattern matches (or that has none) answers. ``{match}`` in a reply is
the matched text. A route's rules may depend on what the agent already said
(``after``: a substring of the previous assistant turn).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from ..errors import ConfigError
from .base import GenerationRequest


@dataclass(frozen=True, slots=True)
class Rule:
    say: str
    when: re.Pattern[str] | None = None
    after: str = ""


@dataclass(frozen=True, slots=True)
class AgentScript:
    greeting: str
    routes: dict[str, tuple[Rule, ...]]
    fallback: str


def load_agent_script(path: str | Path | None = None) -> AgentScript:
    if path:
        text = Path(path).read_text()
        where = str(path)
    else:
        text = resources.files("turngate.data").joinpath("agent.yaml").read_text()
        where = "turngate/data/agent.yaml"
    try:
        raw = yaml.safe_load(text)
        routes: dict[str, tuple[Rule, ...]] = {}
        for name, rules in (raw.get("routes") or {}).items():
            out = []
            for i, r in enumerate(rules):
                if "say" not in r:
                    raise ConfigError(f"{where}: routes.{name}[{i}]: missing 'say'")
                when = re.compile(r["when"], re.I) if r.get("when") else None
                out.append(Rule(say=str(r["say"]).strip(), when=when, after=str(r.get("after", ""))))
            routes[str(name)] = tuple(out)
        return AgentScript(greeting=str(raw.get("greeting", "")).strip(), routes=routes,
                           fallback=str(raw.get("fallback", "Sorry, could you say that again?")).strip())
    except (yaml.YAMLError, re.error, AttributeError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from e


class ScriptedAgent:
    """Streams its reply word by word, like a model would, so TTS can start on the
    first sentence and a barge-in can cancel mid-answer."""

    name = "scripted"

    def __init__(self, script: AgentScript | None = None, *, word_delay_s: float = 0.0) -> None:
        self.script = script or load_agent_script()
        self.word_delay_s = word_delay_s

    def reply(self, request: GenerationRequest) -> str:
        user = next((m["content"] for m in reversed(request.context) if m["role"] == "user"), "")
        last_agent = next((m["content"] for m in reversed(request.context) if m["role"] == "assistant"), "")
        for rule in self.script.routes.get(request.route, ()):
            if rule.after and rule.after.lower() not in last_agent.lower():
                continue
            if rule.when is None:
                return rule.say
            m = rule.when.search(user)
            if m:
                return rule.say.replace("{match}", m.group(0))
        return self.script.fallback

    async def generate(self, request: GenerationRequest) -> AsyncIterator[str]:
        text = self.reply(request)
        if request.continue_from:
            # A fallback after the caller heard part of an answer: say only what is left of
            # ours, if it begins the same way; a different answer would repeat the topic.
            said = request.continue_from.strip()
            text = text[len(said):].lstrip() if text.startswith(said) else ""
            if not text:
                return
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word
            if self.word_delay_s:
                await asyncio.sleep(self.word_delay_s)
            elif i % 8 == 7:
                await asyncio.sleep(0)  # let a barge-in in between words
