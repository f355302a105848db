"""The ``openai`` provider: Chat Completions with ``stream: true`` over httpx.

One adapter serves every server that speaks the protocol: OpenAI, Azure OpenAI
(``auth: api-key`` and ``api_version`` in the profile; ``base_url`` is the
deployment, ``https://RES.openai.azure.com/openai/deployments/NAME``), vLLM,
llama.cpp's server, Ollama (``http://127.0.0.1:11434/v1``) and LiteLLM.

The wire protocol, as the adapter reads it
------------------------------------------
``POST {base_url}/chat/completions`` with ``stream: true`` and
``stream_options: {include_usage: true}`` answers ``text/event-stream``: events
separated by a blank line, each ``data: {json}`` (lines starting ``:`` are comments,
a server's keep-alive). Each JSON is a ``chat.completion.chunk``; ``choices[0].delta``
carries ``content`` text and/or ``tool_calls`` fragments (``index`` names the call;
``id`` and ``function.name`` come once, ``function.arguments`` arrives in pieces to be
concatenated); ``choices[0].finish_reason`` is null until the last content chunk
(``stop``, ``length``, ``tool_calls``, ``content_filter``). With ``include_usage``
one more chunk follows with ``choices: []`` and ``usage``. The stream ends with
``data: [DONE]``. An error after the stream started arrives as ``data: {"error":
{...}}``. An error before it is an HTTP status with ``{"error": {"message", "type",
"param", "code"}}``.

A stream that ends without both a ``finish_reason`` and ``[DONE]`` is a failure
(:class:`ModelDisconnected`), never an answer: a proxy that cut the connection
cleanly would otherwise pass half a sentence off as the whole reply.

The key is a :class:`turngate.config.Secret`: revealed only into the request
header; error messages never carry it (401/403 bodies, which may echo part of a
key, are not quoted at all, and any message is scrubbed of the key besides).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..agent.base import GenerationRequest
from ..config import Secret, secret_from_env
from .errors import (
    ModelConfigError, ModelDisconnected, ModelError, ModelRateLimited, ModelRejected, ModelServerError,
    ModelTimeout,
)
from .profiles import ModelProfile

__all__ = ["TextDelta", "ToolCall", "Finished", "StreamItem", "SseDecoder", "ChunkAssembler", "OpenAIChat",
           "build_messages", "DEFAULT_SYSTEM_PROMPT"]

DEFAULT_SYSTEM_PROMPT = (
    "You are the voice agent of a contact centre, speaking to a caller on the phone. Answer in one to "
    "three short spoken sentences, without lists, markdown or symbols. Text in square brackets was "
    "redacted by the gateway: never ask the caller to repeat it."
)
_dc = dataclass(frozen=True, slots=True, kw_only=True)


@_dc
class TextDelta:
    text: str


@_dc
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@_dc
class Finished:
    finish_reason: str
    usage: tuple[tuple[str, int], ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()


StreamItem = TextDelta | Finished


# --- pure decoding ------------------------------------------------------------------------


class SseDecoder:
    """Server-sent events, line by line: ``feed(line)`` returns the ``data`` of the event
    that line completes, or None. Multi-line data joins with ``\\n``; ``event:``, ``id:``,
    ``retry:`` and comments are read and ignored."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data:
                return None
            data, self._data = "\n".join(self._data), []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    def flush(self) -> str | None:
        """What an unterminated last event held (the connection closed mid-event)."""
        return self.feed("")


@dataclass
class _PartialTool:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ChunkAssembler:
    """``chat.completion.chunk`` JSON in, text out; remembers ``finish_reason``, usage and
    the tool calls assembled from their fragments. :meth:`finish` says whether the stream
    was complete."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.done = False
        self.finish_reason: str | None = None
        self.usage: dict[str, int] = {}
        self._tools: dict[int, _PartialTool] = {}

    def feed(self, data: str) -> str:
        """The text this event adds ('' for none). Raises on an error event or bad JSON."""
        if data.strip() == "[DONE]":
            self.done = True
            return ""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ModelServerError(self.provider, "malformed stream chunk (not JSON)") from None
        if not isinstance(chunk, dict):
            raise ModelServerError(self.provider, "malformed stream chunk (not an object)")
        if chunk.get("error"):
            raise ModelServerError(self.provider, "error mid-stream: " + _error_text(chunk))
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = {k: int(v) for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}
        text = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # n > 1 is never asked for; only the first choice is spoken
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                text.append(delta["content"])
            for tc in delta.get("tool_calls") or ():
                part = self._tools.setdefault(int(tc.get("index", 0)), _PartialTool())
                part.id = tc.get("id") or part.id
                fn = tc.get("function") or {}
                part.name = fn.get("name") or part.name
                if isinstance(fn.get("arguments"), str):
                    part.arguments.append(fn["arguments"])
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        return "".join(text)

    def finish(self) -> Finished:
        if self.finish_reason is None or not self.done:
            missing = " and ".join(x for x, ok in (("finish_reason", self.finish_reason), ("[DONE]", self.done))
                                   if not ok)
            raise ModelDisconnected(self.provider, f"stream ended without {missing}")
        if self.finish_reason == "content_filter":
            raise ModelRejected(self.provider, "the provider's content filter stopped the answer")
        tools = tuple(ToolCall(id=t.id, name=t.name, arguments="".join(t.arguments))
                      for _, t in sorted(self._tools.items()))
        usage = tuple((k, v) for k, v in self.usage.items()
                      if k in ("prompt_tokens", "completion_tokens", "total_tokens"))
        return Finished(finish_reason=self.finish_reason, usage=usage, tool_calls=tools)


def _error_text(body: Any) -> str:
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        kind = "/".join(str(x) for x in (err.get("type"), err.get("code")) if x)
        msg = str(err.get("message") or "")[:160]
        return f"{kind}: {msg}" if kind else msg
    if isinstance(err, str):
        return err[:160]
    return ""


def build_messages(profile: ModelProfile, request: GenerationRequest) -> list[dict[str, str]]:
    """The Chat Completions ``messages``: one system message (the profile's prompt, the
    call's purpose and the memory the Guard gate released for it), then the context."""
    system = profile.system_prompt or DEFAULT_SYSTEM_PROMPT
    system += f"\n\nThe caller's request is about: {request.route}."
    if request.memory:
        system += "\nThe caller's record, for this request only:\n" + "\n".join(
            f"- {k.replace('_', ' ')}: {v}" for k, v in request.memory)
    out = [{"role": "system", "content": system}]
    out += [{"role": m["role"], "content": m["content"]} for m in request.context
            if m.get("role") in ("user", "assistant", "system") and m.get("content")]
    if request.continue_from:
        # A fallback after the caller heard part of another model's answer.
        out.append({"role": "assistant", "content": request.continue_from})
        out.append({"role": "system", "content": "Your answer above was cut off there. Continue it from exactly "
                    "where it stopped; do not repeat anything already said."})
    return out


# --- the adapter ----------------------------------------------------------------------------


class OpenAIChat:
    """The ``openai`` provider for one profile. ``stream`` yields :class:`TextDelta` items
    then one :class:`Finished`, or raises a :mod:`turngate.llm.errors` error."""

    def __init__(self, profile: ModelProfile, *, env: Mapping[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.profile = profile
        self.name = profile.name
        self.key: Secret | None = secret_from_env(profile.api_key_env, env)
        self._transport = transport
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        total = (profile.total_ms or 60_000) / 1000
        # The read timeout is the longest silence between chunks we accept; the profile's
        # first_token_ms is the core's hedge deadline, not a reason to drop the stream.
        self._timeout = httpx.Timeout(connect=min(5.0, total), read=total, write=10.0, pool=5.0)

    @property
    def url(self) -> str:
        return f"{self.profile.base_url}/chat/completions"

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        p = self.profile
        body: dict[str, Any] = {"model": p.model, "messages": build_messages(p, request), "stream": True,
                                "stream_options": {"include_usage": True}}
        if p.temperature is not None:
            body["temperature"] = p.temperature
        if p.max_tokens is not None:
            body["max_tokens"] = p.max_tokens
        if p.tools:
            body["tools"] = [dict(t) for t in p.tools]
        return body

    def _headers(self) -> dict[str, str]:
        h = {"accept": "text/event-stream", "content-type": "application/json"}
        if self.key is not None:
            if self.profile.auth == "api-key":
                h["api-key"] = self.key.reveal()
            else:
                h["authorization"] = f"Bearer {self.key.reveal()}"
        return h

    def _client(self) -> httpx.AsyncClient:
        # An AsyncClient's pool belongs to one event loop; the gateway has one, tests several.
        loop = asyncio.get_running_loop()
        c = self._clients.get(loop)
        if c is None or c.is_closed:
            for old in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[old]
            c = self._clients[loop] = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        return c

    async def aclose(self) -> None:
        c = self._clients.pop(asyncio.get_running_loop(), None)
        if c is not None:
            await c.aclose()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        if self.profile.api_key_env and self.key is None:
            raise ModelConfigError(self.name, f"no API key: ${self.profile.api_key_env} is not set")
        params = {"api-version": self.profile.api_version} if self.profile.api_version else None
        asm = ChunkAssembler(self.name)
        sse = SseDecoder()
        try:
            async with self._client().stream("POST", self.url, params=params, json=self.body(request),
                                             headers=self._headers()) as resp:
                if resp.status_code != 200:
                    raise await self._status_error(resp)
                ctype = resp.headers.get("content-type", "")
                if not ctype.startswith("text/event-stream"):
                    # A server (or a proxy in front of it) that ignored stream: true.
                    raise ModelRejected(self.name, f"the server did not stream (content-type {ctype[:60]!r})")
                async for line in resp.aiter_lines():
                    data = sse.feed(line)
                    if data is not None:
                        text = asm.feed(data)
                        if text:
                            yield TextDelta(text=text)
                        if asm.done:
                            break
                tail = sse.flush()
                if tail is not None and not asm.done:
                    text = asm.feed(tail)
                    if text:
                        yield TextDelta(text=text)
        except httpx.TimeoutException as e:
            raise ModelTimeout(self.name, f"{type(e).__name__} from {self.profile.base_url}") from None
        except httpx.TransportError as e:
            raise ModelDisconnected(self.name, f"{type(e).__name__} from {self.profile.base_url}") from None
        yield asm.finish()

    async def generate(self, request: GenerationRequest) -> AsyncIterator[str]:
        """The plain :class:`turngate.agent.base.Agent` view: text only."""
        async for item in self.stream(request):
            if isinstance(item, TextDelta):
                yield item.text

    async def _status_error(self, resp: httpx.Response) -> ModelError | ModelConfigError:
        status = resp.status_code
        try:
            raw = await resp.aread()
            detail = _error_text(json.loads(raw[:65536]))
        except (ValueError, httpx.HTTPError):
            detail = ""
        detail = self._scrub(detail)
        where = f"HTTP {status}" + (f" {detail}" if detail else "")
        if status in (401, 403):
            # These bodies may quote part of the key; say only what to fix.
            return ModelConfigError(self.name, f"HTTP {status}: the provider refused the key from "
                                               f"${self.profile.api_key_env or '(none configured)'}", status=status)
        if status == 404:
            return ModelConfigError(self.name, f"{where} (check base_url and model)", status=status)
        if status == 429:
            return ModelRateLimited(self.name, where, status=status)
        if status >= 500:
            return ModelServerError(self.name, where, status=status)
        return ModelRejected(self.name, where, status=status)

    def _scrub(self, text: str) -> str:
        if self.key is not None and self.key.reveal() and self.key.reveal() in text:
            text = text.replace(self.key.reveal(), "[key]")
        return text


ProviderFactory = Callable[[ModelProfile], OpenAIChat]
PROVIDER_FACTORIES: dict[str, ProviderFactory] = {"openai": OpenAIChat}
