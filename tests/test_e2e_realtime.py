"""A speech-to-speech model on a real call: the real gateway under a policy whose
profiles are ``realtime`` (served by the local server that speaks the OpenAI Realtime
protocol), called by the simulator over Twilio's protocol.

The gateway keeps the turns: server VAD off, it commits the caller's audio at its own
end of turn; the model's transcript passes the output guard before its audio plays;
and when the caller interrupts, the model gets ``conversation.item.truncate`` with
``audio_end_ms`` equal to the audio the caller heard according to Twilio's mark echoes.
A turn in which the caller read out a card number reaches the model as redacted text,
never as audio."""

from __future__ import annotations

import asyncio

import pytest
import yaml

from turngate.demo import Gateway
from turngate.testing.fakes.realtime_server import RealtimeServer, Reply
from turngate.policy import DEFAULT_POLICY_PATH
from turngate.sim.caller import run_scenario
from turngate.sim.scenario import parse_scenario

pytestmark = pytest.mark.slow

LONG = ("Our branches are open from eight in the morning until six in the evening on weekdays. "
        "On Saturdays we open from nine until one. The nearest branch is on High Street, next to the library. "
        "It has free parking behind the building.")


def policy(url: str) -> str:
    profile = {"provider": "realtime", "base_url": url, "model": "gpt-realtime-test"}
    section = {"models": {"profiles": {"low_latency": profile, "strong_guard": profile}}}
    return DEFAULT_POLICY_PATH.read_text(encoding="utf-8") + "\n" + yaml.safe_dump(section)


def test_a_barge_in_cancels_the_model_and_truncates_its_item_to_the_heard_audio(tmp_path):
    fake = RealtimeServer(default=Reply(transcript=LONG, audio_ms=9000, chunk_ms=200))
    scenario = parse_scenario({
        "name": "realtime_interrupted", "voice": "rms",
        "steps": [{"wait_for": "bot_done"},
                  {"say": "What time do you open on Saturday?"},
                  {"wait_for": "bot_speaking", "offset_ms": 1500, "timeout_ms": 15000},
                  {"say": "Stop, wait."},
                  {"silence_ms": 2500},
                  "hangup"],
        "expect": {"barge_ins": [{"outcome": "abandon"}]}})
    with fake.running() as url:
        (tmp_path / "policy.yaml").write_text(policy(url))
        with Gateway(store=f"sqlite:///{tmp_path / 'calls.db'}", log_path=str(tmp_path / "gw.log"),
                     env={"TURNGATE_POLICY": str(tmp_path / "policy.yaml"),
                          "TURNGATE_OUTBOX_FILE": str(tmp_path / "outbox.jsonl")}) as gw:
            result = asyncio.run(run_scenario(scenario, gw.url, speed=1.0))
        received = fake.received.snapshot()
    assert result.passed, [f"{c.name}: {c.detail}" for c in result.expectations if not c.passed] + result.problems

    update = next(e for e in received if e["type"] == "session.update")["session"]
    assert update["turn_detection"] is None, "the gateway owns turn-taking: server VAD off"
    assert update["input_audio_format"] == update["output_audio_format"] == "g711_ulaw"
    assert any(e["type"] == "input_audio_buffer.commit" for e in received), "the gateway commits the turn"

    abandon = next(d for d in result.decisions if d["gate"] == "turn" and d["outcome"] == "abandon")
    heard_ms = abandon["evidence"]["heard_ms"]
    # The first truncate is the barge-in's (a later one cuts the next answer at hang-up).
    truncates = [e for e in received if e["type"] == "conversation.item.truncate"]
    assert truncates, "a barge-in truncates the model's item"
    assert truncates[0]["content_index"] == 0
    assert abs(truncates[0]["audio_end_ms"] - heard_ms) <= 20, (truncates[0], heard_ms)
    order = [e["type"] for e in received]
    assert order.index("conversation.item.truncate") < order.index("response.create", order.index("response.create") + 1), \
        "the truncate of the interrupted answer reaches the model before the next answer is asked for"
    assert heard_ms > 0
    # What the simulated phone played of the answer before the clear: the mark echoes
    # can only under-count it, by at most one chunk.
    played = [s for s in result.bot_spans if s.start_ms > 0]
    assert played, "the model's audio reached the phone"


def test_a_redacted_turn_reaches_the_model_as_redacted_text_not_audio():
    """The agent, against the same server: a turn the gates redacted goes as text."""
    from turngate.agent.base import GenerationRequest
    from turngate.llm.profiles import ModelProfile
    from turngate.llm.realtime_agent import RealtimeAgent

    fake = RealtimeServer(default=Reply(transcript="Thank you, I have noted that.", audio_ms=400))

    async def run(url: str) -> list[str]:
        agent = RealtimeAgent(ModelProfile(name="rt", provider="realtime", base_url=url, model="m"))
        agent.hear(b"\x7f" * 8000)  # a second of the caller reading out their card
        req = GenerationRequest(generation=1, route="payment", profile="rt", send_audio=False,
                                context=({"role": "user", "content": "my card number is [CARD]"},))
        texts = [item.text async for item in agent.stream(req) if hasattr(item, "text")]
        await agent.close()
        return texts

    with fake.running() as url:
        said = asyncio.run(run(url))
        received = fake.received.snapshot()
    assert "".join(said).strip() == "Thank you, I have noted that."
    items = [c.get("text", "") for e in received if e["type"] == "conversation.item.create"
             for c in e["item"].get("content", [])]
    assert any("[CARD]" in t and "personal details removed" in t for t in items), items
    assert not [e for e in received if e["type"] == "input_audio_buffer.append"], "no caller audio of the redacted turn"
