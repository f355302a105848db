"""What Twilio does before the stream opens: the signed voice webhook and reading its TwiML.

Twilio's request signature (``X-Twilio-Signature``): take the full URL Twilio
requested (scheme, host, path and query string), append every POST parameter
sorted by name as name + value with no separators, HMAC-SHA1 the result with
the account's auth token as key, base64 the digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import PeerError


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits (CA call, AC account, MZ stream)."""
    return prefix + secrets.token_hex(16)


def voice_webhook_params(*, call_sid: str, account_sid: str, from_number: str, to_number: str) -> dict[str, str]:
    # The subset of Twilio's voice webhook parameters a gateway can rely on.
    return {
        "CallSid": call_sid,
        "AccountSid": account_sid,
        "From": from_number,
        "To": to_number,
        "Caller": from_number,
        "Called": to_number,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


class TwimlError(PeerError):
    close_reason = "bad TwiML"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamInstruction:
    url: str
    parameters: dict[str, str] = field(default_factory=dict)


def parse_connect_stream(twiml: str) -> StreamInstruction:
    """The ``<Connect><Stream url=...>`` of a TwiML answer, with its ``<Parameter>``s."""
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError as e:
        raise TwimlError(f"the voice webhook's answer is not XML: {e}") from None
    if root.tag != "Response":
        raise TwimlError(f"TwiML root is <{root.tag}>, expected <Response>")
    stream = root.find("./Connect/Stream")
    if stream is None:
        raise TwimlError("TwiML has no <Connect><Stream> (a bidirectional stream is required)")
    url = stream.get("url")
    if not url or not url.startswith(("ws://", "wss://")):
        raise TwimlError(f"<Stream url={url!r}> is not a ws:// or wss:// URL")
    params: dict[str, str] = {}
    for p in stream.findall("./Parameter"):
        name = p.get("name")
        if name:
            params[name] = p.get("value", "")
    return StreamInstruction(url=url, parameters=params)
