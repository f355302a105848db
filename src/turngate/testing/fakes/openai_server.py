"""A local server speaking OpenAI's Chat Completions streaming protocol, for tests and
for rehearsing a policy's fallback without a provider.

It answers ``POST /v1/chat/completions`` (and ``/chat/completions``, and Azure's
``/openai/deployments/{name}/chat/completions``) the way the documented API does:
``text/event-stream`` of ``data: {chat.completion.chunk}`` events, a first chunk with
the ``assistant`` role, content (or ``tool_calls``) deltas, a chunk with
``finish_reason``, a usage chunk with ``choices: []`` when ``stream_options.include_usage``
is set, then ``data: [DONE]``; errors are an HTTP status with OpenAI's error JSON.
``stream: false`` gets one ``chat.completion`` object.

Each model name can be told to misbehave (:class:`Behaviour`): stall before the first
token (for ``stall_ms``, or until :meth:`FakeOpenAI.release` when ``hold`` is set),
answer slowly (``token_delay_ms`` between deltas), answer 429/500/503 (``status``),
ignore ``stream: true`` (``ignore_stream``),
cut the connection mid-stream (``end="disconnect"``), end cleanly without ``[DONE]``
(``end="no_done"``) or without any ``finish_reason`` (``end="no_finish"``), or send
an error event mid-stream (``end="error_event"``). :meth:`FakeOpenAI.queue` adds
one-shot behaviours consumed by the next requests for a model, before its standing one.

Every request is recorded (:attr:`FakeOpenAI.requests`: the parsed body, the raw
bytes and the header names) so a test can scan what the gateway sent.

Run it: ``python -m turngate.testing.fakes.openai_server --port 8000 --model fast=reply:Hello.``
``--model slow=stall_ms:2000`` ...; change a model's behaviour while it runs with
``POST /_fake/behaviour {"model": "slow", "stall_ms": 0}``; read the log at ``GET /_fake/requests``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["Behaviour", "RecordedRequest", "FakeOpenAI", "ERRORS", "serve_in_thread", "main"]

End = Literal["done", "no_done", "no_finish", "disconnect", "error_event"]

# OpenAI's error bodies for the statuses the fake can answer with.
ERRORS: dict[int, dict[str, Any]] = {
    400: {"message": "Invalid request.", "type": "invalid_request_error", "param": None, "code": None},
    401: {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": None,
          "code": "invalid_api_key"},
    404: {"message": "The model does not exist or you do not have access to it.", "type": "invalid_request_error",
          "param": None, "code": "model_not_found"},
    429: {"message": "Rate limit reached for requests. Please try again in 20ms.", "type": "requests",
          "param": None, "code": "rate_limit_exceeded"},
    500: {"message": "The server had an error while processing your request. Sorry about that!",
          "type": "server_error", "param": None, "code": None},
    503: {"message": "The engine is currently overloaded, please try again later.", "type": "server_error",
          "param": None, "code": None},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Behaviour:
    reply: str = "This is the fake model answering."
    stall_ms: int = 0              # before the first byte of the answer
    hold: bool = False             # stall until FakeOpenAI.release(model)
    token_delay_ms: int = 0        # between content deltas
    status: int = 200              # anything else: OpenAI's error JSON with that status
    end: End = "done"
    after_tokens: int = 2          # content deltas sent before a disconnect/no_finish/error_event
    tool_call: tuple[str, str] | None = None   # (function name, JSON arguments) instead of text
    ignore_stream: bool = False    # answer one chat.completion even when asked to stream


class _Cut(Exception):
    """Raised inside the response body: uvicorn drops the connection mid-body."""


class _QuietCuts(logging.Filter):
    # A cut is what the behaviour asked for, not a server error worth a traceback.
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, _Cut):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


logging.getLogger("uvicorn.error").addFilter(_QuietCuts())


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    path: str
    query: str
    model: str
    body: dict[str, Any]
    raw: bytes
    header_names: tuple[str, ...]
    authorization: str = ""        # the credential the client sent (to check it was sent, not leaked)

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


@dataclass
class FakeOpenAI:
    default: Behaviour = field(default_factory=Behaviour)
    models: dict[str, Behaviour] = field(default_factory=dict)
    api_key: str = ""              # when set, requests must carry it (Bearer or api-key header)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queued: dict[str, collections.deque[Behaviour]] = collections.defaultdict(collections.deque)
        self._held: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = collections.defaultdict(list)
        self._lock = threading.Condition()
        self._ids = itertools.count(1)
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/chat/completions", self._chat, methods=["POST"]),
            Route("/openai/deployments/{deployment}/chat/completions", self._chat, methods=["POST"]),
            Route("/_fake/behaviour", self._set_behaviour, methods=["POST"]),
            Route("/_fake/requests", self._list_requests, methods=["GET"]),
        ])

    # ------------------------------------------------------------ control
    def set(self, model: str, **changes: Any) -> None:
        self.models[model] = replace(self.models.get(model, self.default), **changes)

    def queue(self, model: str, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queued[model].extend(behaviours)

    def release(self, model: str) -> None:
        """Let every held request for ``model`` go on (thread-safe)."""
        with self._lock:
            held, self._held[model] = self._held[model], []
        for loop, ev in held:
            loop.call_soon_threadsafe(ev.set)

    def held(self, model: str) -> int:
        with self._lock:
            return len(self._held[model])

    def wait_held(self, model: str, n: int = 1, timeout: float = 30.0) -> bool:
        """Block until ``n`` requests for ``model`` are held (a synchronisation point for
        tests: the request has certainly reached the server and is stalling)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._held[model]) >= n, timeout)

    def bodies(self) -> list[str]:
        return [r.text for r in self.requests]

    def _behaviour(self, model: str) -> Behaviour:
        with self._lock:
            q = self._queued.get(model)
            if q:
                return q.popleft()
        return self.models.get(model, self.default)

    # ------------------------------------------------------------ protocol
    async def _chat(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        model = str(body.get("model") or request.path_params.get("deployment", ""))
        auth = request.headers.get("authorization", "") or request.headers.get("api-key", "")
        self.requests.append(RecordedRequest(path=request.url.path, query=request.url.query, model=model,
                                             body=body, raw=raw,
                                             header_names=tuple(request.headers.keys()), authorization=auth))
        if self.api_key and auth not in (f"Bearer {self.api_key}", self.api_key):
            return _error(401)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error(400, "'messages' is a required property")
        b = self._behaviour(model)
        if b.hold:
            ev = asyncio.Event()
            with self._lock:
                self._held[model].append((asyncio.get_running_loop(), ev))
                self._lock.notify_all()
            await ev.wait()
        if b.stall_ms:
            await asyncio.sleep(b.stall_ms / 1000)
        if b.status != 200:
            return _error(b.status)
        cid = f"chatcmpl-fake{next(self._ids)}"
        if not body.get("stream") or b.ignore_stream:
            return JSONResponse(self._completion(cid, model, b, body))
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(self._events(cid, model, b, body, usage), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"})

    async def _events(self, cid: str, model: str, b: Behaviour, body: dict[str, Any],
                      usage: bool) -> AsyncIterator[bytes]:
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            c: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                                 "system_fingerprint": "fp_fake",
                                 "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if usage:
                c["usage"] = None
            return b"data: " + json.dumps(c).encode() + b"\n\n"

        pieces = _pieces(b)
        yield b": keep-alive\n\n"
        yield chunk({"role": "assistant", "content": "" if b.tool_call is None else None, "refusal": None})
        for i, delta in enumerate(pieces):
            if b.end != "done" and b.end != "no_done" and i >= b.after_tokens:
                break
            if i and b.token_delay_ms:
                await asyncio.sleep(b.token_delay_ms / 1000)
            yield chunk(delta)
        if b.end == "disconnect":
            raise _Cut("fake: connection cut mid-stream")
        if b.end == "error_event":
            err = {"error": {**ERRORS[500], "message": "The server had an error while processing your request."}}
            yield b"data: " + json.dumps(err).encode() + b"\n\n"
            return
        if b.end == "no_finish":
            return
        yield chunk({}, "tool_calls" if b.tool_call else "stop")
        if usage:
            u = _usage(body, b)
            yield b"data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                          "model": model, "system_fingerprint": "fp_fake", "choices": [],
                                          "usage": u}).encode() + b"\n\n"
        if b.end == "done":
            yield b"data: [DONE]\n\n"

    def _completion(self, cid: str, model: str, b: Behaviour, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": b.reply},
                             "logprobs": None, "finish_reason": "stop"}], "usage": _usage(body, b)}

    async def _set_behaviour(self, request: Request) -> Response:
        data = await request.json()
        model = str(data.pop("model", ""))
        known = {f.name for f in fields(Behaviour)}
        bad = sorted(set(data) - known)
        if not model or bad:
            return JSONResponse({"error": f"need 'model' and fields from {sorted(known)}; unknown: {bad}"}, 400)
        if "tool_call" in data and data["tool_call"] is not None:
            data["tool_call"] = tuple(data["tool_call"])
        self.set(model, **data)
        return JSONResponse({"model": model, **asdict(self.models[model])})

    async def _list_requests(self, request: Request) -> Response:
        return JSONResponse([{"path": r.path, "model": r.model, "body": r.body} for r in self.requests])


def _pieces(b: Behaviour) -> list[dict[str, Any]]:
    if b.tool_call is not None:
        name, args = b.tool_call
        first = {"tool_calls": [{"index": 0, "id": "call_fake1", "type": "function",
                                 "function": {"name": name, "arguments": ""}}]}
        cut = max(1, len(args) // 2)
        return [first] + [{"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
                          for part in (args[:cut], args[cut:]) if part]
    words = b.reply.split(" ")
    return [{"content": w if i == 0 else " " + w} for i, w in enumerate(words)]


def _usage(body: dict[str, Any], b: Behaviour) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "").split()) for m in body.get("messages") or [])
    completion = len(b.reply.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _error(status: int, message: str | None = None) -> Response:
    err = dict(ERRORS.get(status, {"message": f"HTTP {status}", "type": "server_error", "param": None,
                                   "code": None}))
    if message:
        err["message"] = message
    return JSONResponse({"error": err}, status_code=status)


@contextmanager
def serve_in_thread(fake: FakeOpenAI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``fake`` under uvicorn in a background thread; yields its ``.../v1`` base URL."""
    import socket

    import uvicorn

    if not port:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake.app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True, name="fake-openai")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake OpenAI server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        server.should_exit = True
        for model in list(fake._held):
            fake.release(model)
        thread.join(10)


def _parse_model(spec: str) -> tuple[str, dict[str, Any]]:
    # NAME=key:value,key:value   (reply text may not contain commas here; use the control endpoint)
    name, _, rest = spec.partition("=")
    types = {f.name: f.type for f in fields(Behaviour)}
    out: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition(":")
        if k not in types:
            raise SystemExit(f"--model {spec}: unknown field {k!r}; fields: {sorted(types)}")
        t = str(types[k])
        out[k] = int(v) if t == "int" else (v.lower() in ("1", "true", "yes") if t == "bool" else v)
    return name, out


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    ap = argparse.ArgumentParser(prog="python -m turngate.testing.fakes.openai_server", description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--api-key", default="", help="require this key (Bearer or api-key header)")
    ap.add_argument("--reply", default=Behaviour().reply, help="the default answer")
    ap.add_argument("--model", action="append", default=[], metavar="NAME=FIELD:VALUE,...",
                    help="a model's behaviour, e.g. slow=stall_ms:2000 or flaky=status:503")
    args = ap.parse_args(argv)
    fake = FakeOpenAI(default=Behaviour(reply=args.reply), api_key=args.api_key)
    for spec in args.model:
        name, changes = _parse_model(spec)
        fake.set(name, **changes)
    print(f"fake OpenAI Chat Completions on http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(fake.app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
