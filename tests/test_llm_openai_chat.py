"""The openai adapter against the protocol-faithful fake server, over real HTTP on
loopback: every failure a provider can produce becomes the right error and kind, a
complete stream is an answer, and the key goes only into the request header."""

from __future__ import annotations

import asyncio

import pytest

from turngate.agent.base import GenerationRequest
from turngate.demo import free_port
from turngate.testing.fakes.openai_server import Behaviour, FakeOpenAI, serve_in_thread
from turngate.llm.errors import (
    ModelConfigError, ModelDisconnected, ModelRateLimited, ModelRejected, ModelServerError, ModelTimeout,
)
from turngate.llm.openai_chat import ChunkAssembler, Finished, OpenAIChat, SseDecoder, TextDelta
from turngate.llm.profiles import ModelProfile

KEY = "sk-test-0123456789abcdef"
REQ = GenerationRequest(generation=1, context=({"role": "user", "content": "when do you open on saturday"},),
                        route="faq", profile="p", memory=(("name", "Alex Morgan"),))


@pytest.fixture(scope="module")
def fake():
    f = FakeOpenAI(default=Behaviour(reply="We open at nine on Saturdays."), api_key=KEY)
    with serve_in_thread(f) as url:
        f.url = url
        yield f


def adapter(fake, model="m", env=None, **profile) -> OpenAIChat:
    p = ModelProfile(name="p", provider="openai", base_url=profile.pop("base_url", fake.url), model=model,
                     api_key_env="TEST_KEY", **profile)
    return OpenAIChat(p, env={"TEST_KEY": KEY} if env is None else env)


async def collect(a: OpenAIChat, req: GenerationRequest = REQ) -> tuple[str, Finished]:
    text, fin = [], None
    async for item in a.stream(req):
        if isinstance(item, TextDelta):
            assert fin is None
            text.append(item.text)
        else:
            fin = item
    assert fin is not None
    return "".join(text), fin


async def test_a_complete_stream_is_the_answer_with_its_usage(fake):
    n = len(fake.requests)
    text, fin = await collect(adapter(fake, temperature=0.2, max_tokens=50))
    assert text == "We open at nine on Saturdays."
    assert fin.finish_reason == "stop"
    usage = dict(fin.usage)
    assert usage["completion_tokens"] == 6 and usage["total_tokens"] == usage["prompt_tokens"] + 6
    req = fake.requests[n]
    assert req.path == "/v1/chat/completions" and req.authorization == f"Bearer {KEY}"
    body = req.body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "m" and body["temperature"] == 0.2 and body["max_tokens"] == 50
    assert body["messages"][0]["role"] == "system" and "name: Alex Morgan" in body["messages"][0]["content"]
    assert body["messages"][1:] == [{"role": "user", "content": "when do you open on saturday"}]
    assert KEY not in req.text  # the key travels in the header only


@pytest.mark.parametrize("status,error,kind", [
    (429, ModelRateLimited, "rate_limited"),
    (500, ModelServerError, "server_error"),
    (503, ModelServerError, "server_error"),
    (400, ModelRejected, "error"),
    (404, ModelConfigError, "config"),
])
async def test_an_error_status_is_its_failure_kind(fake, status, error, kind):
    fake.queue("m", Behaviour(status=status))
    with pytest.raises(error) as e:
        await collect(adapter(fake))
    assert e.value.kind == kind and e.value.status == status
    assert f"HTTP {status}" in str(e.value)


async def test_the_rate_limit_message_names_openais_error_type_and_code(fake):
    fake.queue("m", Behaviour(status=429))
    with pytest.raises(ModelRateLimited, match="requests/rate_limit_exceeded"):
        await collect(adapter(fake))


async def test_a_connection_cut_mid_stream_is_a_disconnect_after_the_words_already_sent(fake):
    fake.queue("m", Behaviour(reply="one two three four", end="disconnect", after_tokens=2))
    got = []
    with pytest.raises(ModelDisconnected):
        async for item in adapter(fake).stream(REQ):
            got.append(item)
    assert got == [TextDelta(text="one"), TextDelta(text=" two")]


@pytest.mark.parametrize("end,missing", [("no_done", "[DONE]"), ("no_finish", "finish_reason and [DONE]")])
async def test_a_stream_that_ends_cleanly_but_unfinished_is_a_failure_not_an_answer(fake, end, missing):
    fake.queue("m", Behaviour(end=end))
    with pytest.raises(ModelDisconnected, match=f"without {missing.replace('[', '.').replace(']', '.')}") as e:
        await collect(adapter(fake))
    assert e.value.kind == "disconnect"


async def test_an_error_event_mid_stream_is_a_server_error(fake):
    fake.queue("m", Behaviour(end="error_event"))
    with pytest.raises(ModelServerError, match="mid-stream") as e:
        await collect(adapter(fake))
    assert e.value.kind == "server_error"


async def test_a_wrong_key_is_a_config_failure_whose_message_never_holds_the_key(fake):
    wrong = "sk-wrong-key-do-not-echo-42"
    with pytest.raises(ModelConfigError) as e:
        await collect(adapter(fake, env={"TEST_KEY": wrong}))
    assert e.value.kind == "config" and e.value.status == 401
    assert wrong not in str(e.value) and "do-not-echo" not in repr(e.value) and "$TEST_KEY" in str(e.value)


async def test_a_missing_key_fails_before_any_request_is_sent(fake):
    n = len(fake.requests)
    with pytest.raises(ModelConfigError, match=r"\$TEST_KEY is not set") as e:
        await collect(adapter(fake, env={}))
    assert e.value.kind == "config" and len(fake.requests) == n


async def test_nothing_listening_is_a_disconnect():
    p = ModelProfile(name="p", provider="openai", base_url=f"http://127.0.0.1:{free_port()}/v1", model="m")
    with pytest.raises(ModelDisconnected, match="ConnectError"):
        await collect(OpenAIChat(p, env={}))


async def test_a_stall_past_total_ms_is_a_timeout(fake):
    fake.queue("stall", Behaviour(hold=True))
    try:
        with pytest.raises(ModelTimeout) as e:
            await collect(adapter(fake, model="stall", total_ms=300))
        assert e.value.kind == "timeout"
    finally:
        fake.release("stall")


async def test_a_stalled_first_token_arrives_when_the_server_lets_go(fake):
    fake.queue("held", Behaviour(hold=True, reply="late but whole"))
    task = asyncio.create_task(collect(adapter(fake, model="held")))
    assert await asyncio.to_thread(fake.wait_held, "held")
    assert not task.done()
    fake.release("held")
    text, fin = await task
    assert text == "late but whole" and fin.finish_reason == "stop"


async def test_a_slow_answer_is_still_one_whole_answer(fake):
    fake.queue("m", Behaviour(reply="slow and steady wins", token_delay_ms=30))
    text, _ = await collect(adapter(fake))
    assert text == "slow and steady wins"


async def test_streamed_tool_call_fragments_are_assembled(fake):
    fake.queue("m", Behaviour(tool_call=("find_slot", '{"day": "friday", "time": "morning"}')))
    a = adapter(fake, tools=({"type": "function", "function": {"name": "find_slot", "parameters": {}}},))
    text, fin = await collect(a)
    assert text == "" and fin.finish_reason == "tool_calls"
    assert [(t.id, t.name, t.arguments) for t in fin.tool_calls] == [
        ("call_fake1", "find_slot", '{"day": "friday", "time": "morning"}')]
    assert fake.requests[-1].body["tools"][0]["function"]["name"] == "find_slot"


async def test_azure_style_sends_the_api_key_header_and_api_version(fake):
    a = adapter(fake, base_url=fake.url.removesuffix("/v1") + "/openai/deployments/gpt4o-prod", auth="api-key",
                api_version="2024-10-21")
    text, _ = await collect(a)
    req = fake.requests[-1]
    assert text == "We open at nine on Saturdays."
    assert req.path == "/openai/deployments/gpt4o-prod/chat/completions" and req.query == "api-version=2024-10-21"
    assert req.authorization == KEY and "authorization" not in req.header_names


def test_sse_decoder_joins_multiline_data_and_skips_comments_and_other_fields():
    d = SseDecoder()
    lines = [": keep-alive", "", "event: message", "id: 7", "data: {\"a\":", "data:1}\r", "", "data: [DONE]"]
    assert [x for x in (d.feed(line) for line in lines) if x is not None] == ['{"a":\n1}']
    assert d.flush() == "[DONE]"


def test_a_usage_chunk_with_null_choices_is_read():
    # vLLM ends with a usage-only chunk whose choices is null; OpenAI's has choices: [].
    asm = ChunkAssembler("p")
    asm.feed('{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}')
    asm.feed('{"choices":null,"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}')
    asm.feed("[DONE]")
    assert asm.finish().usage == (("prompt_tokens", 3), ("completion_tokens", 1), ("total_tokens", 4))


def test_a_content_filter_stop_is_not_an_answer():
    asm = ChunkAssembler("p")
    asm.feed('{"choices":[{"index":0,"delta":{},"finish_reason":"content_filter"}]}')
    asm.feed("[DONE]")
    with pytest.raises(ModelRejected):
        asm.finish()


async def test_a_running_fake_is_told_to_misbehave_over_http_and_lists_what_it_received(fake):
    import httpx

    from turngate.testing.fakes.openai_server import _parse_model

    async with httpx.AsyncClient() as c:
        r = await c.post(fake.url.removesuffix("/v1") + "/_fake/behaviour", json={"model": "ctl", "status": 503})
        assert r.status_code == 200 and r.json()["status"] == 503
        with pytest.raises(ModelServerError):
            await collect(adapter(fake, model="ctl"))
        listed = (await c.get(fake.url.removesuffix("/v1") + "/_fake/requests")).json()
    assert listed[-1]["model"] == "ctl" and listed[-1]["body"]["stream"] is True
    assert _parse_model("slow=stall_ms:2000,end:no_done,hold:true") == (
        "slow", {"stall_ms": 2000, "end": "no_done", "hold": True})


async def test_a_server_that_ignores_stream_true_is_refused_not_misread(fake):
    fake.queue("m", Behaviour(ignore_stream=True))
    with pytest.raises(ModelRejected, match="did not stream") as e:
        await collect(adapter(fake))
    assert e.value.kind == "error"
