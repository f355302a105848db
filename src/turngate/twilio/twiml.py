"""TwiML for the voice webhook: connect the call to our media stream."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr


def connect_stream(stream_url: str, parameters: dict[str, str]) -> str:
    params = "".join(f"<Parameter name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in parameters.items())
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f"<Response><Connect><Stream url={quoteattr(stream_url)}>{params}</Stream></Connect></Response>")


def say_and_hangup(text: str) -> str:
    from xml.sax.saxutils import escape
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Say>{escape(text)}</Say><Hangup/></Response>'
