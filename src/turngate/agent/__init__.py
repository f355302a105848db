"""Agents: what produces the words of a response (an LLM, or the offline scripted agent)."""

from .base import Agent, GenerationRequest
from .scripted import ScriptedAgent, load_agent_script

__all__ = ["Agent", "GenerationRequest", "ScriptedAgent", "load_agent_script"]
