"""One call's answers, as the shell runs them: model streams and speech.

Each model stream ``(generation, attempt)`` is one task in its own cancel scope: a
hedge and its primary run side by side, and ``CancelModel`` names one attempt (the
loser) or, with ``attempt=None``, all of them (barge-in). ``run_attempt`` maps the
provider's failures to ``ModelFailed`` kinds and consults the provider's circuit
breaker; its measurements stay with the call (``attempts``). TTS is one worker per
generation, synthesizing its sentences in order, so the first sentence plays while
later ones are still being made; only a whole-answer cancel stops it.

A speech-to-speech profile (``realtime``) holds one session per call and hears the
caller's audio (``hear``); its sentences' audio comes from the model, released once
the output guard has passed their words.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..agent.base import GenerationRequest
from ..core.actions import CancelModel, StartModel
from ..core.events import Event, SpeechSynthesized, SynthesisFailed
from ..llm.realtime_agent import RealtimeAgent
from ..llm.runner import run_attempt
from ..speech.deepgram_tts import estimate_word_times
from ..speech.tts import synthesized_event

log = logging.getLogger("turngate.session")


class Answers:
    def __init__(self, providers: Any, *, emit: Callable[[Event], None]) -> None:
        self.pv = providers
        self.emit = emit
        self.loop = asyncio.get_running_loop()
        self.attempts: list[dict[str, Any]] = []  # per attempt: profile, ttft/total ms, tokens, outcome
        self._streams: dict[tuple[int, int], asyncio.Task[None]] = {}
        self._tts: dict[int, tuple[asyncio.Queue[tuple[int, str] | None], asyncio.Task[None]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()  # short background tasks, kept referenced
        self._realtime = {name: RealtimeAgent(a.profile) for name, a in providers.agents.items()
                          if isinstance(a, RealtimeAgent)}

    # ------------------------------------------------------------ model streams
    def hear(self, payload: bytes) -> None:
        for rt in self._realtime.values():
            rt.hear(payload)

    def start(self, a: StartModel) -> None:
        req = GenerationRequest(generation=a.generation, context=a.context, route=a.route,
                                profile=a.profile, memory=a.memory, continue_from=a.continue_from,
                                send_audio=a.send_audio)
        agent = self._realtime.get(a.profile) or self.pv.agent_for(a.profile)
        key = (a.generation, a.attempt)
        old = self._streams.pop(key, None)
        if old is not None:  # the core never reuses a key; if it did, the newer stream wins
            old.cancel(msg="restarted")
        self._streams[key] = asyncio.create_task(self._run(agent, req, a.attempt),
                                                 name=f"gen-{a.generation}.{a.attempt}")

    def cancel(self, a: CancelModel) -> None:
        for k in [k for k in self._streams if k[0] == a.generation and a.attempt in (None, k[1])]:
            self._streams.pop(k).cancel(msg=a.reason)
        if a.attempt is None:
            self.stop_tts(a.generation, a.reason)
            for rt in self._realtime.values():
                if rt.serves(a.generation):
                    # The model keeps its own record of the answer: cut it to what was heard.
                    self._background(rt.cancel(a.generation, a.heard_ms), f"realtime-cancel-{a.generation}")

    async def _run(self, agent: Any, req: GenerationRequest, attempt: int) -> None:
        key = (req.generation, attempt)
        try:
            stats = await run_attempt(agent, req, attempt, emit=self.emit, clock=self.loop.time,
                                      breaker=self.pv.breaker_for(agent))
            self.attempts.append(stats.to_dict())
        except asyncio.CancelledError:
            self.attempts.append({"generation": req.generation, "attempt": attempt, "profile": req.profile,
                                  "outcome": "cancelled"})
            raise
        finally:
            if self._streams.get(key) is asyncio.current_task():
                del self._streams[key]

    def running(self) -> dict[tuple[int, int], asyncio.Task[None]]:
        """The model streams in flight, by (generation, attempt)."""
        return dict(self._streams)

    # ------------------------------------------------------------ speech
    def synthesize(self, gen: int, segment: int, text: str) -> None:
        entry = self._tts.get(gen)
        if entry is None:
            q: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()
            entry = (q, asyncio.create_task(self._speak(gen, q), name=f"tts-{gen}"))
            self._tts[gen] = entry
        entry[0].put_nowait((segment, text))

    def stop_tts(self, gen: int, reason: str) -> None:
        entry = self._tts.pop(gen, None)
        if entry is not None:
            entry[1].cancel(msg=reason)

    async def _speak(self, gen: int, q: asyncio.Queue[tuple[int, str] | None]) -> None:
        while True:
            item = await q.get()
            if item is None:
                return
            segment, text = item
            try:
                model = next((rt for rt in self._realtime.values() if rt.spoke(gen)), None)
                if model is not None:
                    # Speech to speech: the model's own audio of this sentence, released now
                    # that the output guard has passed its words.
                    audio = await model.audio_for(gen, segment)
                    self.emit(synthesized_event(gen, segment, text, audio, estimate_word_times(text, audio)[0]))
                    continue
                # The segment's levels (a decode and two passes over seconds of audio) are
                # taken in the TTS thread too: the event loop carries every call's frames.
                self.emit(await self.loop.run_in_executor(self.pv.executor, self._synthesize, gen, segment, text))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("TTS failed on generation %s: %s", gen, e)
                self.emit(SynthesisFailed(generation=gen, segment=segment, reason=f"{type(e).__name__}: {e}"))

    def _synthesize(self, gen: int, segment: int, text: str) -> SpeechSynthesized:
        """In an executor thread: speak ``text`` and build the core's event for it."""
        syn = self.pv.tts.synthesize(text)
        return synthesized_event(gen, segment, text, syn.audio, syn.words)

    # ------------------------------------------------------------ the end of the call
    def stop(self, reason: str) -> None:
        for task in list(self._streams.values()):
            task.cancel(msg=reason)
        for gen in list(self._tts):
            self.stop_tts(gen, reason)

    async def close(self) -> None:
        for rt in self._realtime.values():
            try:
                await rt.close()
            except Exception:  # a session that already broke has nothing left to close
                log.debug("realtime session close failed", exc_info=True)

    def _background(self, coro: Any, name: str) -> None:
        """A short task the call does not wait for (its failure is logged, never raised)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("%s failed: %s", name, t.exception())

        task.add_done_callback(done)
