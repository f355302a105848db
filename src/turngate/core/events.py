"""Events: past-tense facts fed into ``Call.handle(event, now)``.

The union is closed: ``Event`` lists every kind, and the core matches on it with
``assert_never``. The shell (or a test) creates them; the core never does I/O to
learn anything. Times are the ``now`` argument of ``handle``, not fields here,
except where a provider reports a time inside the audio (word timings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

__all__ = [
    "CallStarted", "VoiceActivity", "PartialTranscript", "FinalTranscript",
    "DtmfReceived", "MarkPlayed", "ModelTextDelta", "ModelDone", "ModelFailed",
    "SpeechSynthesized", "SynthesisFailed", "TimerFired", "StreamStopped",
    "PeerMessageRejected", "TurnScored", "Event", "WordTime", "ModelFailureKind",
]

ModelFailureKind = Literal["error", "rate_limited", "server_error", "disconnect", "timeout",
                           "circuit_open", "config"]

_dc = dataclass(frozen=True, slots=True, kw_only=True)


@_dc
class CallStarted:
    call_id: str
    stream_sid: str
    caller: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


@_dc
class VoiceActivity:
    """One VAD window (32 ms at 8 kHz) of caller audio.

    ``probability`` is the speech probability (Silero, gated by WebRTC VAD);
    ``level_db`` the window's RMS level in dBFS, used to tell the caller's voice
    from the echo of our own playback. ``residual_db`` is its level with our own echo taken
    out (``audio/echo_check.py``: what of it our recent playback cannot explain); None when
    the shell did not check (no speech heard, or nothing of ours could be echoing).
    """

    probability: float
    level_db: float
    window_ms: int = 32
    residual_db: float | None = None


@_dc
class PartialTranscript:
    text: str
    confidence: float | None = None  # the recogniser's, 0..1; None: it gives no measure


@_dc
class FinalTranscript:
    text: str
    confidence: float | None = None  # the recogniser's, 0..1; None: it gives no measure


@_dc
class DtmfReceived:
    digit: str


@_dc
class MarkPlayed:
    """Twilio echoed a mark: the audio before it has played (or was cleared)."""

    name: str


@_dc
class ModelTextDelta:
    generation: int
    text: str
    attempt: int = 1


@_dc
class ModelDone:
    """The stream ended properly (``finish_reason`` and ``[DONE]`` seen). ``usage`` is
    what the provider reported (``prompt_tokens``, ``completion_tokens``, ...)."""

    generation: int
    attempt: int = 1
    usage: tuple[tuple[str, int], ...] = ()


@_dc
class ModelFailed:
    """The stream failed. ``kind`` is the failure class the fallback policy acts on:
    ``error`` (anything else), ``rate_limited`` (429), ``server_error`` (5xx),
    ``disconnect`` (the stream broke or ended without finishing), ``timeout``,
    ``circuit_open`` (the provider's breaker refused the request), ``config`` (a
    missing key or an unknown provider: no retry helps). ``reason`` is a redacted
    one-line description for the decision log."""

    generation: int
    reason: str
    attempt: int = 1
    kind: ModelFailureKind = "error"


@dataclass(frozen=True, slots=True)
class WordTime:
    word: str
    start_ms: int
    end_ms: int


@_dc
class SpeechSynthesized:
    """TTS produced the audio (8 kHz mu-law) of one sentence of a generation."""

    generation: int
    segment: int
    text: str
    audio: bytes
    words: tuple[WordTime, ...] = ()
    level_db: float = -20.0  # RMS of the segment
    # RMS of each 100 ms of the audio: the moment-by-moment reference for how loud our own
    # echo can be in the caller's channel (a segment's average understates its peaks).
    chunk_levels_db: tuple[float, ...] = ()


@_dc
class SynthesisFailed:
    generation: int
    segment: int
    reason: str


@_dc
class TurnScored:
    """The end-of-turn model scored the caller's turn (answering ``ScoreTurn(request=...)``):
    ``probability`` that the turn is finished. A score for an older request is stale."""

    request: int
    probability: float
    elapsed_ms: float = 0.0  # how long the model took (features and inference)


@_dc
class TimerFired:
    pass


@_dc
class StreamStopped:
    reason: str = "stop"


@_dc
class PeerMessageRejected:
    """A frame from the peer that the codec could not use (malformed or unknown).

    It is a fact about the call, so it is logged as a decision; it never raises in the shell.
    """

    kind: str  # "malformed" | "unknown" | "out_of_order"
    detail: str
    excerpt: str = ""


Event = Union[
    CallStarted, VoiceActivity, PartialTranscript, FinalTranscript, DtmfReceived,
    MarkPlayed, ModelTextDelta, ModelDone, ModelFailed, SpeechSynthesized,
    SynthesisFailed, TimerFired, StreamStopped, PeerMessageRejected, TurnScored,
]
