"""Actions: imperative commands the core returns for the shell to carry out.

The shell executes them in order in one dispatch function. The union is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .decisions import Decision

__all__ = [
    "SendAudio", "SendMark", "ClearPlayback", "StartModel", "CancelModel",
    "Synthesize", "CancelSynthesis", "TransferCall", "QueueCrmNote", "QueueFollowUp", "WriteDecision",
    "StartTranscription", "FinishTranscription", "StartEchoCanceller", "ScoreTurn", "EndCall", "Action",
]

_dc = dataclass(frozen=True, slots=True, kw_only=True)


@_dc
class SendAudio:
    """Send 8 kHz mu-law bytes to the caller (one Twilio ``media`` message)."""

    payload: bytes


@_dc
class SendMark:
    name: str


@_dc
class ClearPlayback:
    """Twilio ``clear``: drop the audio buffered at Twilio, at once."""

    reason: str


@_dc
class StartModel:
    """Start one model stream of a generation. ``context`` is the conversation so far,
    already redacted and truncated to what the caller heard; ``route`` and ``profile``
    say which path and model profile serve it. A generation may run several attempts
    (a hedge after a stalled first token, a fallback after an error); each is one
    stream, named by ``(generation, attempt)``, and every event it produces carries both."""

    generation: int
    context: tuple[dict[str, str], ...]
    route: str
    profile: str
    memory: tuple[tuple[str, str], ...] = ()
    attempt: int = 1
    # A fallback after the caller already heard part of the answer: what was said.
    # The attempt continues from there and must not repeat it.
    continue_from: str = ""
    # The gates redacted the caller's words this turn: their audio must not reach a model.
    send_audio: bool = True


@_dc
class CancelModel:
    """Cancel a generation's model streams and its TTS: every attempt when ``attempt``
    is None, else only that one (the loser of a hedge). ``heard_ms`` is the audio of
    this generation the caller heard (from mark echoes): a speech-to-speech provider
    truncates its own record of the answer to it."""

    generation: int
    reason: str
    attempt: int | None = None
    heard_ms: int = 0


@_dc
class Synthesize:
    generation: int
    segment: int
    text: str


@_dc
class CancelSynthesis:
    generation: int
    reason: str


@_dc
class TransferCall:
    """Hand the call to ``queue`` now. Its CRM note went out before, as a ``QueueCrmNote``."""

    queue: str
    reason: str
    note: str


@_dc
class QueueCrmNote:
    """The CRM note of a handoff, queued in the same transaction as the handoff decision
    that made it, before any announcement plays: a process lost mid-announcement still
    delivers it (from the outbox, after a restart) even though the transfer never ran."""

    queue: str
    reason: str
    note: str


@_dc
class QueueFollowUp:
    """A task for after the call (a refund approval, a complaint case, a call-back),
    with the evidence that triggers it. Delivered through the outbox, in the same
    transaction as the decisions of the same step."""

    kind: str
    queue: str
    reason: str
    evidence: tuple[dict[str, object], ...] = ()


@_dc
class WriteDecision:
    decision: Decision


@_dc
class StartTranscription:
    """Open an STT utterance, feeding it ``preroll_ms`` of audio from before the onset
    (the VAD decides a little after the caller started)."""

    preroll_ms: int


@_dc
class FinishTranscription:
    """Close the STT utterance. ``discard``: the sound was a backchannel, echo or noise;
    its final is not a caller turn and must not be fed back as ``FinalTranscript``."""

    discard: bool = False


@_dc
class StartEchoCanceller:
    """This line sends our own audio back loudly (``erl_db``): cancel it from the caller's
    channel, with our playback as the reference, before VAD and STT hear it."""

    erl_db: float


@_dc
class ScoreTurn:
    """A candidate end of turn: score the last ``audio_ms`` of caller audio with the
    end-of-turn model, off the event loop, and feed back ``TurnScored(request=...)``.
    A shell without the model does nothing; the turn then ends on silence alone."""

    request: int
    audio_ms: int


@_dc
class EndCall:
    reason: str


Action = Union[
    SendAudio, SendMark, ClearPlayback, StartModel, CancelModel, Synthesize,
    CancelSynthesis, TransferCall, QueueCrmNote, QueueFollowUp, WriteDecision, StartTranscription, FinishTranscription,
    StartEchoCanceller, ScoreTurn, EndCall,
]
