"""The shell's driver for one model attempt, ``(generation, attempt)``.

The core decides which profile runs, when to hedge and when to fall back; this
driver only acts and reports: it asks the provider's circuit breaker, streams the
provider's text as ``ModelTextDelta`` events, and ends with exactly one
``ModelDone`` (its ``usage`` carries the provider's token counts plus ``ttft_ms``
and ``total_ms``, so the core can put them in a decision) or one ``ModelFailed``
whose ``kind`` is the failure class the fallback policy acts on. A cancelled
attempt (barge-in, a hedge that lost) reports nothing: the core cancelled it and
already knows. Every attempt leaves an :class:`AttemptStats` for the call record.

The profile's ``total_ms`` bounds the whole stream here (kind ``timeout``); its
``first_token_ms`` is the core's hedge deadline and is not enforced here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..agent.base import GenerationRequest
from ..core.events import Event, ModelDone, ModelFailed, ModelTextDelta
from .breaker import CircuitBreaker, Refuse
from .errors import failure_kind
from .openai_chat import Finished, StreamItem, TextDelta
from .profiles import ModelProfile

__all__ = ["ModelAdapter", "AttemptStats", "run_attempt"]

log = logging.getLogger("turngate.llm")


@runtime_checkable
class ModelAdapter(Protocol):
    """A provider for one profile: text deltas, then one ``Finished``; errors from
    :mod:`turngate.llm.errors`."""

    profile: ModelProfile

    def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]: ...


@dataclass
class AttemptStats:
    generation: int
    attempt: int
    profile: str
    provider: str                     # "scripted" or the provider key (base_url#model)
    started: float
    first_token: float | None = None
    ended: float | None = None
    outcome: str = "running"          # done | failed | cancelled
    kind: str = ""                    # the failure kind when failed
    usage: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        ms = lambda t: None if t is None else round((t - self.started) * 1000)  # noqa: E731
        return {"generation": self.generation, "attempt": self.attempt, "profile": self.profile,
                "provider": self.provider, "outcome": self.outcome, "kind": self.kind,
                "ttft_ms": ms(self.first_token), "total_ms": ms(self.ended), **self.usage}


async def run_attempt(agent: Any, req: GenerationRequest, attempt: int, *, emit: Callable[[Event], None],
                      clock: Callable[[], float], breaker: CircuitBreaker | None = None,
                      stats: AttemptStats | None = None) -> AttemptStats:
    """Run one attempt to its end; events go to ``emit`` (the core's ``handle``)."""
    adapter = agent if isinstance(agent, ModelAdapter) else None
    st = stats or AttemptStats(generation=req.generation, attempt=attempt, profile=req.profile,
                               provider=adapter.profile.provider_key if adapter else "scripted", started=clock())
    gen = req.generation

    def fail(reason: str, kind: str) -> AttemptStats:
        st.ended, st.outcome, st.kind = clock(), "failed", kind
        emit(ModelFailed(generation=gen, attempt=attempt, reason=reason[:200], kind=kind))  # type: ignore[arg-type]
        return st

    if breaker is not None:
        check = breaker.check(st.started)
        if isinstance(check, Refuse):
            wait_ms = max(0, round((check.retry_at - st.started) * 1000))
            return fail(f"circuit open for {req.profile} (next probe in {wait_ms} ms)", "circuit_open")
    finished: Finished | None = None
    total_ms = adapter.profile.total_ms if adapter else None
    try:
        async with contextlib.AsyncExitStack() as scope:
            if total_ms:
                await scope.enter_async_context(asyncio.timeout(total_ms / 1000))
            items = adapter.stream(req) if adapter else _text_only(agent.generate(req))
            async with contextlib.aclosing(items) as it:  # type: ignore[type-var]
                async for item in it:
                    if isinstance(item, TextDelta):
                        if st.first_token is None:
                            st.first_token = clock()
                        emit(ModelTextDelta(generation=gen, attempt=attempt, text=item.text))
                    else:
                        finished = item
    except asyncio.CancelledError:
        st.ended, st.outcome = clock(), "cancelled"
        if breaker is not None:
            breaker.release(st.ended)
        raise
    except Exception as e:  # a provider failure is an event, never silence
        kind = "timeout" if isinstance(e, TimeoutError) else failure_kind(e)
        if breaker is not None:
            breaker.failure(clock(), kind)
        if isinstance(e, TimeoutError):
            reason = f"{req.profile}: no complete answer within total_ms={total_ms}"
        elif adapter is not None and not hasattr(e, "kind"):
            log.exception("model attempt %s.%s (%s) raised", gen, attempt, req.profile)
            reason = f"{req.profile}: {type(e).__name__}"  # an unknown error's text may hold anything
        else:
            reason = f"{type(e).__name__}: {e}"
        log.warning("generation %s attempt %s failed (%s): %s", gen, attempt, kind, reason)
        return fail(reason, kind)
    if adapter is not None and finished is None:
        # An adapter's stream always ends in Finished or raises; one that just stops broke its
        # contract, and half an answer must not pass for a whole one.
        if breaker is not None:
            breaker.failure(clock(), "disconnect")
        return fail(f"{req.profile}: the stream stopped without finishing", "disconnect")
    st.ended, st.outcome = clock(), "done"
    if breaker is not None:
        breaker.success(st.ended)
    if finished is not None:
        st.usage = dict(finished.usage)
        if finished.tool_calls:
            st.usage["tool_calls"] = len(finished.tool_calls)
        if finished.finish_reason == "length":
            st.usage["truncated"] = 1
    measured = {"ttft_ms": round(((st.first_token or st.ended) - st.started) * 1000),
                "total_ms": round((st.ended - st.started) * 1000)}
    emit(ModelDone(generation=gen, attempt=attempt, usage=tuple({**st.usage, **measured}.items())))
    return st


async def _text_only(texts: AsyncIterator[str]) -> AsyncIterator[StreamItem]:
    """A plain agent (the scripted one) seen as a model stream."""
    try:
        async for t in texts:
            yield TextDelta(text=t)
    finally:
        aclose = getattr(texts, "aclose", None)
        if aclose is not None:
            await aclose()
