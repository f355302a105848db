"""The Realtime speech-to-speech client against the protocol-faithful local server,
over a real WebSocket on loopback."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import pytest

from turngate.testing.fakes.realtime_server import RealtimeServer, Reply
from turngate.llm.realtime import (AudioDelta, RealtimeClient, RealtimeError, RealtimeFailure, ResponseDone,
                                   TranscriptDelta)

KEY = "sk-test-realtime-abcdef"


@pytest.fixture
def fake():
    server = RealtimeServer(api_key=KEY)
    with server.running() as url:
        yield server, url


@pytest.fixture
async def client(fake) -> AsyncIterator[RealtimeClient]:
    _, url = fake
    c = RealtimeClient(KEY, url=url, instructions="You are a bank's phone agent.")
    await c.connect()
    yield c
    await c.close()


async def take(client: RealtimeClient, n: int | None = None) -> list:
    """Events up to the end of a response (or ``n`` events)."""
    out = []
    async for ev in client.events():
        out.append(ev)
        if len(out) == n or isinstance(ev, (ResponseDone, RealtimeError)):
            break
    return out


async def wait(recorder, predicate):
    return await asyncio.to_thread(recorder.wait_for, predicate)


def types(server: RealtimeServer) -> list[str]:
    return [e["type"] for e in server.received.snapshot()]


async def test_session_update_turns_server_vad_off_and_speaks_g711_ulaw(fake, client):
    server, _ = fake
    update = server.events("session.update")[0]["session"]
    assert update["input_audio_format"] == "g711_ulaw" and update["output_audio_format"] == "g711_ulaw"
    assert "turn_detection" in update and update["turn_detection"] is None
    assert update["instructions"] == "You are a bank's phone agent."
    opened = server.opened.snapshot()[0]
    assert opened["headers"]["authorization"] == f"Bearer {KEY}"
    assert opened["headers"]["openai-beta"] == "realtime=v1"
    assert opened["query"] == {"model": "gpt-4o-realtime-preview"}


async def test_commit_and_respond_streams_audio_and_transcript_then_usage(fake, client):
    server, _ = fake
    frames = [bytes([0x7F - i]) * 160 for i in range(6)]
    for f in frames:
        await client.append_audio(f)
    await client.commit_and_respond(instructions="Be brief.", context=["The caller is authenticated."])
    events = await take(client)
    assert types(server) == ["session.update"] + ["input_audio_buffer.append"] * 6 + [
        "conversation.item.create", "input_audio_buffer.commit", "response.create"]
    appended = b"".join(base64.b64decode(e["audio"]) for e in server.events("input_audio_buffer.append"))
    assert appended == b"".join(frames)
    assert server.events("response.create")[0]["response"] == {"instructions": "Be brief."}
    item = server.events("conversation.item.create")[0]["item"]
    assert item["role"] == "system" and item["content"][0]["text"] == "The caller is authenticated."
    audio = b"".join(e.audio for e in events if isinstance(e, AudioDelta))
    assert len(audio) == 600 * 8  # 600 ms of 8 kHz mu-law
    assert "".join(e.text for e in events if isinstance(e, TranscriptDelta)) == Reply().transcript
    done = events[-1]
    assert isinstance(done, ResponseDone) and done.status == "completed"
    assert dict(done.usage) == {"total_tokens": 120, "input_tokens": 80, "output_tokens": 40}


async def test_respond_without_new_audio_sends_no_empty_commit(fake, client):
    server, _ = fake
    await client.commit_and_respond()
    events = await take(client)
    assert isinstance(events[-1], ResponseDone)
    assert types(server) == ["session.update", "response.create"]
    assert server.events("response.create")[0] == {"type": "response.create"}


async def test_barge_in_cancels_then_truncates_to_exactly_the_heard_audio(fake, client):
    server, _ = fake
    server.add(Reply(audio_ms=1000, hold_after_chunks=3, send_after_cancel=2))
    await client.append_audio(b"\x7f" * 1600)
    await client.commit_and_respond()
    first = []
    async for ev in client.events():  # the server holds after three chunks of audio
        first.append(ev)
        if sum(isinstance(e, AudioDelta) for e in first) == 3:
            break
    await client.cancel(heard_ms=180)
    rest = await take(client)
    # the two chunks the server still sent after the cancel never reach playback
    assert not any(isinstance(e, (AudioDelta, TranscriptDelta)) for e in rest)
    assert isinstance(rest[-1], ResponseDone) and rest[-1].status == "cancelled"
    # the truncate may reach the server after the cancelled response.done reached us
    sent = await wait(server.sent, lambda s: any(e["type"] == "conversation.item.truncated" for e in s))
    received = server.received.snapshot()
    item_id = first[-1].item_id
    assert received[-2] == {"type": "response.cancel", "response_id": first[-1].response_id}
    assert received[-1] == {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                            "audio_end_ms": 180}
    truncated = [e for e in sent if e["type"] == "conversation.item.truncated"][0]
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 180)
    assert not [e for e in sent if e["type"] == "error"]


async def test_barge_in_after_the_response_finished_only_truncates(fake, client):
    server, _ = fake
    await client.commit_and_respond()
    events = await take(client)
    await client.cancel(heard_ms=250)
    sent = await wait(server.sent, lambda s: any(e["type"] in ("conversation.item.truncated", "error") for e in s))
    assert not server.events("response.cancel")
    assert server.events("conversation.item.truncate") == [
        {"type": "conversation.item.truncate", "item_id": events[0].item_id, "content_index": 0, "audio_end_ms": 250}]
    assert [e["audio_end_ms"] for e in sent if e["type"] == "conversation.item.truncated"] == [250]


async def test_heard_audio_beyond_what_arrived_is_clamped(fake, client):
    server, _ = fake
    await client.commit_and_respond()
    await take(client)
    await client.cancel(heard_ms=10_000)
    await wait(server.sent, lambda s: any(e["type"] in ("conversation.item.truncated", "error") for e in s))
    assert server.events("conversation.item.truncate")[0]["audio_end_ms"] == 600


async def test_cancel_before_any_audio_cancels_without_truncating(fake, client):
    server, _ = fake
    server.add(Reply(stall=True))
    await client.commit_and_respond()
    await wait(server.sent, lambda s: any(e["type"] == "response.created" for e in s))
    await client.cancel(heard_ms=0)
    events = await take(client)
    assert isinstance(events[-1], ResponseDone) and events[-1].status == "cancelled"
    assert len(server.events("response.cancel")) == 1 and not server.events("conversation.item.truncate")


async def test_cancel_before_the_second_answer_speaks_leaves_the_first_answer_whole(fake, client):
    server, _ = fake
    server.add(Reply(), Reply(stall=True))
    await client.commit_and_respond()
    await take(client)
    await client.commit_and_respond()
    await wait(server.sent, lambda s: sum(e["type"] == "response.created" for e in s) == 2)
    await client.cancel(heard_ms=0)
    events = await take(client)
    assert events[-1].status == "cancelled"
    assert not server.events("conversation.item.truncate")


async def test_a_slow_answer_arrives_whole(fake, client):
    server, _ = fake
    server.add(Reply(delay_s=0.01))
    await client.commit_and_respond()
    events = await take(client)
    assert sum(len(e.audio) for e in events if isinstance(e, AudioDelta)) == 600 * 8
    assert isinstance(events[-1], ResponseDone)


async def test_stall_before_the_first_delta_is_a_timeout(fake):
    server, url = fake
    server.add(Reply(stall=True))
    c = RealtimeClient(KEY, url=url, response_timeout_s=0.2)
    await c.connect()
    await c.commit_and_respond()
    [ev] = await take(c)
    assert isinstance(ev, RealtimeError) and ev.kind == "timeout" and not ev.fatal
    await c.close()


@pytest.mark.parametrize("error,kind", [
    ({"type": "invalid_request_error", "code": "invalid_value", "message": "Invalid value"}, "error"),
    ({"type": "invalid_request_error", "code": "rate_limit_exceeded", "message": "Slow down"}, "rate_limited"),
    ({"type": "server_error", "code": None, "message": "The server had an error"}, "server_error"),
])
async def test_error_events_map_to_kinds(fake, client, error, kind):
    server, _ = fake
    server.add(Reply(error=error))
    await client.commit_and_respond()
    [ev] = await take(client)
    assert isinstance(ev, RealtimeError) and ev.kind == kind and ev.message == error["message"]


async def test_an_error_that_echoes_the_key_is_config_and_redacted(fake, client):
    server, _ = fake
    server.add(Reply(error={"type": "invalid_request_error", "code": "invalid_api_key",
                            "message": f"Incorrect API key provided: {KEY}."}))
    await client.commit_and_respond()
    [ev] = await take(client)
    assert ev.kind == "config" and KEY not in ev.message and "[redacted]" in ev.message


async def test_a_failed_response_is_an_error_of_its_kind(fake, client):
    server, _ = fake
    server.add(Reply(fail={"type": "server_error", "code": "server_error", "message": "boom"}))
    await client.commit_and_respond()
    events = await take(client)
    err = events[-1]
    assert isinstance(err, RealtimeError) and err.kind == "server_error" and err.response_id


async def test_disconnect_mid_stream_is_a_fatal_error_and_ends_the_events(fake, client):
    server, _ = fake
    server.add(Reply(disconnect_after_chunks=2, close_code=1011))
    await client.commit_and_respond()
    events = [ev async for ev in client.events()]
    assert sum(isinstance(e, AudioDelta) for e in events) == 2
    err = events[-1]
    assert isinstance(err, RealtimeError) and err.kind == "disconnect" and err.fatal and "1011" in err.message
    with pytest.raises(RealtimeFailure) as exc:
        await client.append_audio(b"\x7f" * 160)
    assert exc.value.kind == "disconnect"


@pytest.mark.parametrize("status,kind", [(401, "config"), (429, "rate_limited"), (503, "server_error")])
async def test_refused_handshake_is_a_failure_of_its_kind(fake, status, kind):
    server, url = fake
    server.reject_status = status
    with pytest.raises(RealtimeFailure) as exc:
        await RealtimeClient(KEY, url=url).connect()
    assert exc.value.kind == kind and exc.value.status == status and KEY not in str(exc.value)


async def test_wrong_key_is_config_and_never_echoed(fake):
    _, url = fake
    with pytest.raises(RealtimeFailure) as exc:
        await RealtimeClient("sk-wrong-999", url=url).connect()
    assert exc.value.kind == "config" and "sk-wrong-999" not in str(exc.value)


async def test_nothing_listening_is_a_disconnect():
    from turngate.demo import free_port
    with pytest.raises(RealtimeFailure) as exc:
        await RealtimeClient(KEY, url=f"http://127.0.0.1:{free_port()}").connect()
    assert exc.value.kind == "disconnect"


async def test_a_handshake_that_never_completes_is_a_timeout():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:  # accepts TCP, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(RealtimeFailure) as exc:
            await RealtimeClient(KEY, url=url, connect_timeout_s=0.2).connect()
    assert exc.value.kind == "timeout"


async def test_close_returns_even_when_nobody_reads_the_events(fake):
    server, url = fake
    c = RealtimeClient(KEY, url=url, queue_size=4)
    await c.connect()
    await c.commit_and_respond()  # 6 audio + 6 transcript deltas + done: more than the queue holds
    await asyncio.to_thread(server.sent.wait_for, lambda s: any(e["type"] == "response.done" for e in s))
    await c.close()
    assert [ev async for ev in c.events()]  # what was queued, then the end
