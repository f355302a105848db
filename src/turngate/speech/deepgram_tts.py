"""Cloud TTS: Deepgram Aura over REST, asked for what Twilio plays as is.

``POST {base}/v1/speak?model=aura-2-thalia-en&encoding=mulaw&sample_rate=8000&container=none``
with ``{"text": ...}`` answers raw 8 kHz G.711 mu-law bytes (the REST default
container is WAV, hence ``container=none``; a WAV header that comes anyway is
stripped). One request per sentence: the shell already synthesizes sentence by
sentence, so the first sentence plays while the next is on the wire.

Aura gives no word times, so they are estimated (``words_estimated=True``): the
audio's speech span (first to last sample above a floor) is shared among the
words by character count. The core uses them only to cut the agent's turn at
what the caller heard, where a word either side is the known error.

Failures raise ``CloudError`` with a kind: 429 ``rate_limited``, 5xx
``server_error``, 401/403 ``config``, no answer in ``timeout_s`` ``timeout``, a
broken connection ``disconnect``; the shell turns them into ``SynthesisFailed``.
"""

from __future__ import annotations

import httpx
import numpy as np

from turngate.audio import mulaw
from turngate.core.events import ModelFailureKind, WordTime
from turngate.speech.cloud import CloudError, kind_for_status, redact
from turngate.speech.tts import Synthesis

__all__ = ["DeepgramTts", "estimate_word_times"]

_PROVIDER = "deepgram-tts"
_SPEECH_FLOOR = 500  # |int16| above this is speech, not the codec's idle noise


class DeepgramTts:
    """``TtsEngine`` over Deepgram's ``/v1/speak``. Thread-safe (one pooled httpx client)."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.deepgram.com",
        model: str = "aura-2-thalia-en",
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self._key = api_key
        self.model = model
        self.url = base_url.rstrip("/").replace("wss://", "https://").replace("ws://", "http://")
        if not self.url.endswith("/v1/speak"):
            self.url += "/v1/speak"
        self.params = {"model": model, "encoding": "mulaw", "sample_rate": "8000", "container": "none"}
        self.timeout_s = timeout_s
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            headers={"Authorization": f"Token {api_key}"},
        )

    def synthesize(self, text: str) -> Synthesis:
        text = " ".join(text.split())
        if not text:
            return Synthesis(text=text, audio=b"")
        try:
            resp = self._client.post(self.url, params=self.params, json={"text": text})
        except httpx.TimeoutException:
            raise self._error("timeout", f"no answer within {self.timeout_s} s") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError) as exc:
            raise self._error("disconnect", f"{type(exc).__name__}: {exc}") from None
        except httpx.HTTPError as exc:
            raise self._error("error", f"{type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            raise self._error(kind_for_status(resp.status_code), f"HTTP {resp.status_code} {_err_msg(resp)}".strip(),
                              status=resp.status_code)
        audio = _strip_wav(resp.content)
        words, estimated = estimate_word_times(text, audio)
        return Synthesis(text=text, audio=audio, words=words, words_estimated=estimated)

    def close(self) -> None:
        self._client.close()

    def _error(self, kind: ModelFailureKind, message: str, *, status: int | None = None) -> CloudError:
        return CloudError(_PROVIDER, kind, redact(message, self._key), status=status)


def estimate_word_times(text: str, audio: bytes) -> tuple[tuple[WordTime, ...], bool]:
    """Word times for ``text`` spoken in mu-law ``audio``, shared over the speech span by
    character count. Always an estimate (the second value says so)."""
    tokens = [t for t in text.split() if any(c.isalnum() for c in t)]
    if not tokens or not audio:
        return (), True
    pcm = np.abs(mulaw.decode(audio).astype(np.int32))
    loud = np.flatnonzero(pcm > _SPEECH_FLOOR)
    lo, hi = (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, pcm.size)
    weights = np.array([len(t.strip(".,;:!?\"'()[]")) or 1 for t in tokens], dtype=float)
    edges = (lo + np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum() * (hi - lo)) / 8  # samples -> ms
    return tuple(
        WordTime(word=t.strip(".,;:!?\"()[]"), start_ms=int(round(edges[k])), end_ms=int(round(edges[k + 1])))
        for k, t in enumerate(tokens)
    ), True


def _strip_wav(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return data
    i = 12
    while i + 8 <= len(data):
        chunk, size = data[i:i + 4], int.from_bytes(data[i + 4:i + 8], "little")
        if chunk == b"data":
            return data[i + 8:i + 8 + size]
        i += 8 + size + (size & 1)
    return b""


def _err_msg(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("err_msg") or body.get("message") or body.get("err_code") or "")[:200]
    except ValueError:
        return resp.text[:200]
