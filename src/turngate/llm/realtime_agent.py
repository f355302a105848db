"""A ``realtime`` model profile on one call: speech to speech, with the gateway in charge.

The call core treats it like any model: ``StartModel`` at the gateway's end of turn,
text deltas (the model's transcript of its own audio) that the output guard reads
sentence by sentence, ``Synthesize`` for each sentence that may be spoken. What differs
is where the audio comes from: not from TTS but from the model, held back here until
the guard has passed the sentence it belongs to.

- The caller's audio since the last answer is kept here (``hear``), bounded, and sent
  at ``StartModel`` (``input_audio_buffer.append`` + ``commit`` + ``response.create``).
  When the gates redacted the turn (a card number, an identity answer), the audio is
  *not* sent: the model gets the redacted transcript as text instead, so a never-send
  value spoken by the caller never reaches it.
- Audio arriving while the transcript is on sentence *n* belongs to sentence *n* (the
  transcript runs ahead of the audio, so a sentence's tail may land in the next one:
  the error only ever drops audio, never releases a later sentence early).
  ``audio_for(seg)`` waits until no more audio can belong to the sentence.
- A barge-in cancels the response and truncates the model's item to the audio the
  caller heard (``cancel(heard_ms)``, from Twilio's mark echoes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..agent.base import GenerationRequest
from ..config import Secret, secret_from_env
from ..core.sentences import pop_sentences
from .errors import ModelConfigError
from .openai_chat import Finished, StreamItem, TextDelta
from .profiles import ModelProfile
from .realtime import AudioDelta, RealtimeClient, RealtimeError, RealtimeFailure, ResponseDone, TranscriptDelta

MAX_CALLER_BYTES = 30 * 8000  # 30 s of mu-law: a longer turn keeps its end


class RealtimeAgent:
    def __init__(self, profile: ModelProfile, *, env: dict[str, str] | None = None,
                 client_factory: Callable[..., RealtimeClient] = RealtimeClient) -> None:
        self.profile = profile
        self.name = profile.name
        self.key: Secret | None = secret_from_env(profile.api_key_env, env)
        self._factory = client_factory
        self._client: RealtimeClient | None = None
        self._caller = bytearray()
        self._gen = -1                      # the generation the current response serves
        self._audio: dict[int, bytearray] = {}
        self._sentences = 0                 # complete sentences of the current transcript
        self._done = False
        self._spoke: set[int] = set()       # generations this agent gave text for
        self._changed = asyncio.Condition()
        # One operation on the session at a time: a barge-in's truncate of the last answer
        # must reach the model before the next answer's commit (they are often decided in
        # the same step), or it would cut the wrong item.
        self._ops = asyncio.Lock()

    # ------------------------------------------------------------ the caller
    def hear(self, payload: bytes) -> None:
        self._caller += payload
        if len(self._caller) > MAX_CALLER_BYTES:
            del self._caller[:-MAX_CALLER_BYTES]

    # ------------------------------------------------------------ one answer
    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        if self.profile.api_key_env and self.key is None:
            raise ModelConfigError(f"{self.name}: ${self.profile.api_key_env} is not set")
        async with self._ops:
            client = await self._connected()
            self._gen, self._audio, self._sentences, self._done = request.generation, {}, 0, False
            audio, self._caller = bytes(self._caller), bytearray()
            context: list[str] = []
            if request.send_audio:
                await client.append_audio(audio)
            else:
                last = next((m["content"] for m in reversed(request.context) if m.get("role") == "user"), "")
                context.append(f"The caller said (personal details removed by the gateway): {last}")
            if request.memory:
                context.append("The caller's record, for this request only: "
                               + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in request.memory))
            await client.commit_and_respond(context=context, instructions=self.profile.system_prompt or None)
        transcript = ""
        async for ev in client.events():
            match ev:
                case TranscriptDelta():
                    transcript += ev.text
                    self._spoke.add(request.generation)
                    await self._note(sentences=len(pop_sentences(transcript, final=False)[0]))
                    yield TextDelta(text=ev.text)
                case AudioDelta():
                    self._audio.setdefault(self._sentences, bytearray()).extend(ev.audio)
                    await self._note()
                case ResponseDone():
                    await self._note(done=True)
                    yield Finished(finish_reason=ev.status, usage=ev.usage)
                    return
                case RealtimeError():
                    await self._note(done=True)
                    raise RealtimeFailure(ev.kind, ev.message)
        await self._note(done=True)
        raise RealtimeFailure("disconnect", "the Realtime session ended mid-answer")

    async def _connected(self) -> RealtimeClient:
        if self._client is None:
            client = self._factory(self.key.reveal() if self.key else "", url=self.profile.base_url,
                                   model=self.profile.model, instructions=self.profile.system_prompt)
            await client.connect()
            self._client = client
        return self._client

    async def _note(self, *, sentences: int | None = None, done: bool = False) -> None:
        async with self._changed:
            if sentences is not None:
                self._sentences = sentences
            self._done = self._done or done
            self._changed.notify_all()

    # ------------------------------------------------------------ the audio, by sentence
    def serves(self, generation: int) -> bool:
        return generation == self._gen

    def spoke(self, generation: int) -> bool:
        """Did this agent's text make ``generation``'s answer (so its audio is the speech)?"""
        return generation in self._spoke

    async def audio_for(self, generation: int, segment: int) -> bytes:
        """The model's audio of sentence ``segment``, once no more of it can arrive."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._gen != generation or self._done or self._sentences > segment)
            if self._gen != generation:
                return b""
            return bytes(self._audio.pop(segment, b""))

    async def cancel(self, generation: int, heard_ms: int) -> None:
        """Barge-in: stop the answer and cut the model's record of it to what was heard."""
        self._spoke.discard(generation)
        async with self._ops:
            if self._client is not None and generation == self._gen:
                await self._client.cancel(heard_ms)
        if generation == self._gen:
            await self._note(done=True)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def is_realtime(profile: Any) -> bool:
    return getattr(profile, "provider", "") == "realtime"
