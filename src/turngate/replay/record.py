"""The replay record: a call's core input events with their call-relative time, in JSON.

The shell's :class:`EventRecorder` sees every event it feeds ``Call.handle`` and keeps
what replay needs, already redacted:

- caller and model text: numbers replaced by surrogates (``redact.py``); a text in
  which the guard finds an entity in words (an e-mail address, a password or security
  answer) becomes ``[REDACTED]``;
- keypad digits: every digit becomes ``0`` (a PIN is zero-retention; replay of a
  correct PIN therefore shows a mismatch, and says so);
- synthesized audio: its length only (replay plays silence of that length), with
  the levels and word times the core reads;
- the stream token in the call's parameters and a rejected frame's excerpt: dropped;
- ``TimerFired``: not kept; replay fires the core's own deadlines;
- ``TurnScored``: kept (the end-of-turn model's probability decides turn ends; replay
  does not run the model again).

Each event is one short list: ``[t_ms, kind, fields...]`` (see ``_ENCODERS``).
"""

from __future__ import annotations

from typing import Any

from ..core.events import (
    CallStarted, DtmfReceived, Event, FinalTranscript, MarkPlayed, ModelDone, ModelFailed, ModelTextDelta,
    PartialTranscript, PeerMessageRejected, SpeechSynthesized, StreamStopped, SynthesisFailed, TimerFired,
    TurnScored, VoiceActivity, WordTime,
)
from .redact import redact_numbers

__all__ = ["EventRecorder", "encode_event", "decode_event", "redact_text", "FORMAT"]

FORMAT = 1
_MULAW_SILENCE = b"\xff"


def redact_text(text: str) -> str:
    from ..gates.guard.entities import detect

    out = redact_numbers(text)
    try:
        # Entities in words, which surrogate digits do not cover: an e-mail address, a
        # password or security answer said aloud.
        if any(f.type == "EMAIL" or f.rule == "guard.pii.credential.words" for f in detect(out).findings):
            return "[REDACTED]"
    except Exception:  # the detector is best effort here; numbers are already replaced
        pass
    return out


def _round(confidence: float | None) -> float | None:
    return None if confidence is None else round(confidence, 3)


def encode_event(event: Event, t_ms: int) -> list[Any] | None:
    match event:
        case VoiceActivity():
            return [t_ms, "V", round(event.probability, 3), round(event.level_db, 1), event.window_ms]
        case PartialTranscript():
            return [t_ms, "P", redact_text(event.text), _round(event.confidence)]
        case FinalTranscript():
            return [t_ms, "F", redact_text(event.text), _round(event.confidence)]
        case MarkPlayed():
            return [t_ms, "M", event.name]
        case DtmfReceived():
            return [t_ms, "D", event.digit if event.digit in "#*" else "0"]
        case ModelTextDelta():
            return [t_ms, "T", event.generation, redact_text(event.text), event.attempt]
        case ModelDone():
            return [t_ms, "d", event.generation, event.attempt, [list(u) for u in event.usage]]
        case ModelFailed():
            return [t_ms, "f", event.generation, event.reason, event.attempt, event.kind]
        case SpeechSynthesized():
            return [t_ms, "S", event.generation, event.segment, redact_text(event.text), len(event.audio),
                    [[w.word, w.start_ms, w.end_ms] for w in event.words], event.level_db,
                    [round(v, 2) for v in event.chunk_levels_db]]
        case SynthesisFailed():
            return [t_ms, "s", event.generation, event.segment, event.reason]
        case StreamStopped():
            return [t_ms, "X", event.reason]
        case CallStarted():
            params = {k: v for k, v in event.parameters.items() if k != "token"}
            return [t_ms, "C", event.call_id, event.stream_sid, event.caller, params]
        case PeerMessageRejected():
            return [t_ms, "R", event.kind, event.detail]
        case TurnScored():
            return [t_ms, "E", event.request, round(event.probability, 4), round(event.elapsed_ms, 1)]
        case TimerFired():
            return None
    return None


def decode_event(item: list[Any]) -> tuple[int, Event]:
    t, kind, *f = item
    ev: Event
    match kind:
        case "V":
            ev = VoiceActivity(probability=f[0], level_db=f[1], window_ms=f[2])
        case "P":
            ev = PartialTranscript(text=f[0], confidence=f[1])
        case "F":
            ev = FinalTranscript(text=f[0], confidence=f[1])
        case "M":
            ev = MarkPlayed(name=f[0])
        case "D":
            ev = DtmfReceived(digit=f[0])
        case "T":
            ev = ModelTextDelta(generation=f[0], text=f[1], attempt=f[2])
        case "d":
            ev = ModelDone(generation=f[0], attempt=f[1], usage=tuple((str(k), int(v)) for k, v in f[2]))
        case "f":
            ev = ModelFailed(generation=f[0], reason=f[1], attempt=f[2], kind=f[3])
        case "S":
            ev = SpeechSynthesized(generation=f[0], segment=f[1], text=f[2], audio=_MULAW_SILENCE * f[3],
                                   words=tuple(WordTime(*w) for w in f[4]), level_db=f[5],
                                   chunk_levels_db=tuple(f[6]))
        case "s":
            ev = SynthesisFailed(generation=f[0], segment=f[1], reason=f[2])
        case "X":
            ev = StreamStopped(reason=f[0])
        case "C":
            ev = CallStarted(call_id=f[0], stream_sid=f[1], caller=f[2], parameters=dict(f[3]))
        case "R":
            ev = PeerMessageRejected(kind=f[0], detail=f[1])
        case "E":
            ev = TurnScored(request=f[0], probability=f[1], elapsed_ms=f[2])
        case _:
            raise ValueError(f"unknown replay event kind {kind!r}")
    return int(t), ev


class EventRecorder:
    """Keeps one call's events for replay; ``to_json`` goes into the call's summary."""

    __slots__ = ("t0", "events", "limit", "truncated")

    def __init__(self, t0: float, limit: int = 200_000) -> None:
        self.t0 = t0
        self.events: list[list[Any]] = []
        self.limit = limit  # about 100 minutes of VAD windows; past it the record says it is partial
        self.truncated = False

    def event(self, event: Event, now: float) -> None:
        if len(self.events) >= self.limit:
            self.truncated = True
            return
        item = encode_event(event, int(round((now - self.t0) * 1000)))
        if item is not None:
            self.events.append(item)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "truncated": self.truncated, "events": self.events}
