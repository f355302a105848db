"""Twilio Media Streams codec: ``parse(text) -> TwilioMessage``, ``render_*(...) -> str``.

Pure: no sockets, no clocks, no REST calls. Every inbound frame becomes exactly one
message object; anything unusable becomes ``Rejected`` with a reason, so the
shell logs it as a decision and goes on. Numbers may arrive as strings (Twilio
sends ``sequenceNumber``, ``timestamp`` and ``chunk`` as strings), so they are
accepted either way.

Message reference (Twilio docs, "Media Streams - WebSocket Messages"):

  from Twilio: connected, start, media, dtmf, mark, stop
  to Twilio:   media (base64 mu-law, 8 kHz), mark (name), clear
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Union

_dc = dataclass(frozen=True, slots=True, kw_only=True)
MAX_FRAME_CHARS = 64 * 1024  # a 20 ms media frame is ~300 chars; refuse absurd ones early


@_dc
class Connected:
    protocol: str = ""
    version: str = ""


@_dc
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str = ""
    tracks: tuple[str, ...] = ()
    custom_parameters: dict[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@_dc
class Media:
    payload: bytes
    track: str = "inbound"
    timestamp_ms: int | None = None
    chunk: int | None = None
    sequence: int | None = None


@_dc
class Dtmf:
    digit: str


@_dc
class Mark:
    name: str


@_dc
class Stop:
    call_sid: str = ""


@_dc
class Rejected:
    """A frame we cannot use. ``kind`` is ``malformed`` or ``unknown``."""

    kind: str
    detail: str
    excerpt: str = ""


TwilioMessage = Union[Connected, Start, Media, Dtmf, Mark, Stop, Rejected]


def _int(v: object) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise ValueError("boolean where a number was expected")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise ValueError(f"not a number: {v!r}")


def _excerpt(text: str) -> str:
    # Never keep caller audio in a log: only the frame's shape survives.
    return text[:80].replace('"payload":"', '"payload":"…') if len(text) > 80 else text


def _bad(detail: str, text: str, kind: str = "malformed") -> Rejected:
    return Rejected(kind=kind, detail=detail, excerpt=_excerpt(text))


# Twilio's media frame, exactly: any frame this matches is valid JSON with these fields,
# so taking the fast path can never accept what the full parse would reject.
_MEDIA_RE = re.compile(
    r'\{"event":\s?"media",\s?"sequenceNumber":\s?"(\d{1,12})",\s?"media":\s?\{'
    r'"track":\s?"(inbound|outbound)",\s?"chunk":\s?"(\d{1,12})",\s?"timestamp":\s?"(\d{1,15})",\s?'
    r'"payload":\s?"([A-Za-z0-9+/]*={0,2})"\},\s?"streamSid":\s?"[A-Za-z0-9]{1,64}"\}'
)


def _fast_media(text: str) -> Media | None:
    """The hot path: 50 ``media`` frames a second per call.

    A full ``json.loads`` costs about three times a match of Twilio's exact shape.
    Only a frame in that shape (field order as Twilio sends it) takes this path;
    anything else returns None and gets the full parse, so a malformed frame is
    still rejected with its reason.
    """
    m = _MEDIA_RE.fullmatch(text)
    if m is None:
        return None
    # Strict base64, as the full parse validates it. Sequence numbers and timestamps are not read here: the
    # shell keeps its own clock, and the full parse reads them where a tool needs them.
    try:
        return Media(payload=binascii.a2b_base64(m.group(5), strict_mode=True), track=m.group(2))
    except binascii.Error:
        return None


def parse(text: str | bytes) -> TwilioMessage:
    """Parse one WebSocket text frame from Twilio."""
    if type(text) is str and (fast := _fast_media(text)) is not None:
        return fast
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return Rejected(kind="malformed", detail="binary frame is not UTF-8 JSON")
    if len(text) > MAX_FRAME_CHARS:
        return _bad(f"frame of {len(text)} chars exceeds {MAX_FRAME_CHARS}", text)
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError) as e:
        return _bad(f"invalid JSON: {e}", text)
    if not isinstance(msg, dict):
        return _bad("frame is not a JSON object", text)
    event = msg.get("event")
    try:
        match event:
            case "media":
                m = msg["media"]
                payload = m["payload"]
                if not isinstance(payload, str):
                    raise ValueError("media.payload is not a string")
                return Media(
                    payload=base64.b64decode(payload, validate=True),
                    track=str(m.get("track", "inbound")),
                    timestamp_ms=_int(m.get("timestamp")),
                    chunk=_int(m.get("chunk")),
                    sequence=_int(msg.get("sequenceNumber")),
                )
            case "mark":
                name = msg["mark"]["name"]
                if not isinstance(name, str):
                    raise ValueError("mark.name is not a string")
                return Mark(name=name)
            case "dtmf":
                digit = msg["dtmf"]["digit"]
                if not isinstance(digit, str) or len(digit) != 1 or digit not in "0123456789*#ABCD":
                    raise ValueError(f"dtmf.digit is not a DTMF digit: {digit!r}")
                return Dtmf(digit=digit)
            case "start":
                s = msg["start"]
                fmt = s.get("mediaFormat") or {}
                params = s.get("customParameters") or {}
                if not isinstance(params, dict):
                    raise ValueError("start.customParameters is not an object")
                stream_sid = s.get("streamSid") or msg.get("streamSid")
                if not isinstance(stream_sid, str) or not isinstance(s["callSid"], str):
                    raise ValueError("start.streamSid/callSid missing")
                return Start(
                    stream_sid=stream_sid,
                    call_sid=s["callSid"],
                    account_sid=str(s.get("accountSid", "")),
                    tracks=tuple(str(t) for t in s.get("tracks", ())),
                    custom_parameters={str(k): str(v) for k, v in params.items()},
                    encoding=str(fmt.get("encoding", "audio/x-mulaw")),
                    sample_rate=_int(fmt.get("sampleRate", 8000)) or 8000,
                    channels=_int(fmt.get("channels", 1)) or 1,
                )
            case "connected":
                return Connected(protocol=str(msg.get("protocol", "")), version=str(msg.get("version", "")))
            case "stop":
                stop = msg.get("stop") or {}
                return Stop(call_sid=str(stop.get("callSid", "")) if isinstance(stop, dict) else "")
            case _:
                return _bad(f"unknown event {event!r}", text, kind="unknown")
    except (KeyError, TypeError, AttributeError) as e:
        # A field missing or of the wrong JSON type ("start": 5, "media": []).
        return _bad(f"{event} frame has a missing or mistyped field: {e}", text)
    except (ValueError, binascii.Error) as e:
        return _bad(f"{event} frame: {e}", text)


def render_media(stream_sid: str, payload: bytes) -> str:
    return json.dumps({"event": "media", "streamSid": stream_sid,
                       "media": {"payload": base64.b64encode(payload).decode("ascii")}})


def render_mark(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def render_clear(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})
