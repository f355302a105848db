"""The shell side of model attempts: run_attempt turns a provider's stream into the
core's events (one ModelDone with usage and timings, or one ModelFailed with its
kind), consults the provider's breaker, and the call session runs one task per
(generation, attempt) that CancelModel cancels one by one or all together."""

from __future__ import annotations

import asyncio

import pytest

from turngate.agent.base import GenerationRequest
from turngate.agent.scripted import ScriptedAgent
from turngate.core.actions import CancelModel, StartModel
from turngate.core.events import ModelDone, ModelFailed, ModelTextDelta
from turngate.testing.fakes.openai_server import Behaviour, FakeOpenAI, serve_in_thread
from turngate.llm.breaker import BreakerPolicy, Breakers, CircuitBreaker
from turngate.llm.openai_chat import OpenAIChat
from turngate.llm.profiles import ModelProfile, ModelsSection
from turngate.llm.runner import run_attempt
from turngate.server.providers import breakers_for, model_agents
from turngate.testing import FakeClock

KEY = "sk-runner-test-key-77"
REQ = GenerationRequest(generation=4, context=({"role": "user", "content": "hello"},), route="faq", profile="fast")


@pytest.fixture(scope="module")
def fake():
    f = FakeOpenAI(default=Behaviour(reply="Hello from the model."), api_key=KEY)
    with serve_in_thread(f) as url:
        f.url = url
        yield f


def profile(fake, name="fast", model="m", **kw) -> ModelProfile:
    return ModelProfile(name=name, provider="openai", base_url=fake.url, model=model, api_key_env="K", **kw)


def chat(fake, **kw) -> OpenAIChat:
    return OpenAIChat(profile(fake, **kw), env={"K": KEY})


async def run(agent, clock=None, breaker=None, attempt=1, req=REQ):
    events = []
    clock = clock or FakeClock()
    st = await run_attempt(agent, req, attempt, emit=events.append, clock=clock, breaker=breaker)
    return events, st


async def test_a_model_answer_streams_deltas_then_one_done_with_tokens_and_timings(fake):
    events, st = await run(chat(fake), attempt=2)
    assert "".join(e.text for e in events if isinstance(e, ModelTextDelta)) == "Hello from the model."
    assert all(e.generation == 4 and e.attempt == 2 for e in events)
    done = events[-1]
    assert isinstance(done, ModelDone) and sum(isinstance(e, ModelDone) for e in events) == 1
    usage = dict(done.usage)
    assert usage["completion_tokens"] == 4 and {"prompt_tokens", "total_tokens", "ttft_ms", "total_ms"} <= set(usage)
    assert st.outcome == "done" and st.to_dict()["profile"] == "fast"


async def test_the_scripted_agent_runs_through_the_same_driver():
    req = GenerationRequest(generation=1, context=({"role": "user", "content": "hi"},), route="nowhere",
                            profile="scripted")
    events, st = await run(ScriptedAgent(), req=req)
    assert isinstance(events[-1], ModelDone) and dict(events[-1].usage).keys() == {"ttft_ms", "total_ms"}
    assert any(isinstance(e, ModelTextDelta) for e in events) and st.provider == "scripted"


@pytest.mark.parametrize("behaviour,kind", [
    (Behaviour(status=429), "rate_limited"),
    (Behaviour(status=503), "server_error"),
    (Behaviour(end="disconnect"), "disconnect"),
    (Behaviour(end="no_done"), "disconnect"),
])
async def test_a_provider_failure_is_one_model_failed_of_its_kind(fake, behaviour, kind):
    fake.queue("m", behaviour)
    events, st = await run(chat(fake))
    failed = [e for e in events if isinstance(e, ModelFailed)]
    assert len(failed) == 1 and failed[0].kind == kind and events[-1] is failed[0]
    assert not any(isinstance(e, ModelDone) for e in events)
    assert KEY not in failed[0].reason and st.outcome == "failed" and st.kind == kind


async def test_a_missing_key_is_a_config_failure(fake):
    events, _ = await run(OpenAIChat(profile(fake), env={}))
    assert [(type(e), e.kind) for e in events] == [(ModelFailed, "config")]
    assert "$K" in events[0].reason


async def test_total_ms_bounds_a_stalled_attempt(fake):
    fake.queue("stall", Behaviour(hold=True))
    try:
        events, _ = await run(chat(fake, model="stall", total_ms=250))
    finally:
        fake.release("stall")
    assert [(type(e), e.kind) for e in events] == [(ModelFailed, "timeout")]


async def test_the_breaker_opens_refuses_without_a_request_then_a_probe_closes_it(fake):
    clock, breaker = FakeClock(), CircuitBreaker(BreakerPolicy(failures_to_open=2, cool_down_s=30))
    agent = chat(fake, model="flaky")
    fake.queue("flaky", Behaviour(status=500), Behaviour(status=503))
    for _ in range(2):
        events, _ = await run(agent, clock, breaker)
        assert events[-1].kind == "server_error"
    assert breaker.state == "open"
    sent = len(fake.requests)
    events, _ = await run(agent, clock, breaker)
    assert [(type(e), e.kind) for e in events] == [(ModelFailed, "circuit_open")]
    assert len(fake.requests) == sent                      # refused at once, nothing sent
    clock.advance(30)
    events, _ = await run(agent, clock, breaker)           # the half-open probe; the provider is well
    assert isinstance(events[-1], ModelDone) and breaker.state == "closed"
    assert len(fake.requests) == sent + 1


# --- the call session's runner -------------------------------------------------------------


@pytest.fixture
async def session(fake, tmp_path):
    from server_harness import make_providers
    from turngate.server.session import CallSession

    models = ModelsSection(profiles={"fast": profile(fake, model="held-a"), "backup": profile(fake, name="backup",
                                                                                                 model="held-b")})
    pv = make_providers(f"sqlite:///{tmp_path / 'calls.db'}", tts=object())
    pv.agents = model_agents(models, ScriptedAgent(), env={"K": KEY})
    pv.breakers = breakers_for(models)
    s = CallSession(ws=None, providers=pv, on_start=lambda s: None, on_end=lambda s: None)
    s.events = []
    s._feed = s.answers.emit = s.events.append  # the core is not under test here: collect what it would be fed
    yield s
    for t in list(s.answers.running().values()):
        t.cancel()
    pv.close()


def start(gen, attempt, profile):
    return StartModel(generation=gen, attempt=attempt, context=REQ.context, route="faq", profile=profile)


async def test_cancel_with_an_attempt_stops_only_that_stream_and_without_one_stops_them_all(fake, session):
    fake.queue("held-a", Behaviour(hold=True))
    fake.queue("held-b", Behaviour(hold=True), Behaviour(hold=True))
    session._dispatch([start(7, 1, "fast"), start(7, 2, "backup"), start(8, 1, "backup")])
    assert await asyncio.to_thread(fake.wait_held, "held-a") and await asyncio.to_thread(fake.wait_held, "held-b", 2)
    a1, a2, b1 = session.answers.running()[(7, 1)], session.answers.running()[(7, 2)], session.answers.running()[(8, 1)]
    session._dispatch([CancelModel(generation=7, attempt=1, reason="hedge_lost")])
    assert set(session.answers.running()) == {(7, 2), (8, 1)}
    await asyncio.gather(a1, return_exceptions=True)
    assert a1.cancelled() and not a2.done()
    session._dispatch([CancelModel(generation=7, reason="barge_in")])
    assert set(session.answers.running()) == {(8, 1)}
    await asyncio.gather(a1, a2, return_exceptions=True)
    assert a2.cancelled() and not b1.done()
    assert session.events == []                              # a cancelled attempt reports nothing
    assert [(m["generation"], m["attempt"], m["outcome"]) for m in session.answers.attempts] == [
        (7, 1, "cancelled"), (7, 2, "cancelled")]
    fake.release("held-b")
    await b1
    assert isinstance(session.events[-1], ModelDone) and session.events[-1].generation == 8
    fake.release("held-a")


async def test_an_undefined_profile_is_served_by_the_scripted_agent(session):
    session._dispatch([start(3, 1, "strong_guard")])
    await session.answers.running()[(3, 1)]
    assert isinstance(session.events[-1], ModelDone) and session.answers.attempts[-1]["provider"] == "scripted"


async def test_an_open_breaker_answers_circuit_open_at_once(fake, session):
    agent = session.pv.agent_for("fast")
    breaker = session.pv.breaker_for(agent)
    for _ in range(breaker.policy.failures_to_open):
        breaker.failure(session.loop.time(), "server_error")
    sent = len(fake.requests)
    session._dispatch([start(5, 2, "fast")])
    await session.answers.running()[(5, 2)]
    assert [(type(e), e.attempt, e.kind) for e in session.events] == [(ModelFailed, 2, "circuit_open")]
    assert len(fake.requests) == sent


def test_each_defined_profile_gets_an_adapter_and_the_rest_the_scripted_agent(fake):
    scripted = ScriptedAgent()
    models = ModelsSection(profiles={"fast": profile(fake)})
    agents = model_agents(models, scripted, env={})
    assert agents["scripted"] is scripted and agents["default"] is scripted
    assert isinstance(agents["fast"], OpenAIChat) and agents["fast"].key is None
    assert isinstance(breakers_for(models), Breakers)


async def test_an_adapter_stream_that_stops_without_finishing_is_a_disconnect(fake):
    from turngate.llm.openai_chat import TextDelta

    class Truncating:
        profile = profile(fake)

        async def stream(self, request):
            yield TextDelta(text="half an")

    events, st = await run(Truncating())
    assert [type(e) for e in events] == [ModelTextDelta, ModelFailed] and events[-1].kind == "disconnect"
