"""The simulated caller on the wire: webhook, WebSocket, real-time pacing, and the call's result.

``run_scenario(scenario, url, speed=1.0)`` places one call the way Twilio does:

1. ``POST {url}/twilio/voice`` (form-encoded, signed with ``X-Twilio-Signature`` when
   an auth token is configured) and read ``<Connect><Stream url>`` from the TwiML;
2. open the WebSocket (the handshake signed too, as Twilio does), send ``connected``
   and ``start``, then one ``media`` frame every 20 ms of audio time until the
   script hangs up, then ``stop``;
3. ``GET {url}/api/calls/{CallSid}`` until its state is ``ended`` (the gateway
   finishes writing after ``stop``), and check the scenario's expectations.

Pacing: frame k covers audio ``[20k, 20k+20)`` ms and is sent when that audio has
been "captured", at ``t0 + 20(k+1) ms / speed`` on the loop clock. Each deadline is
computed from ``t0``, never from the previous sleep, so sleep error never
accumulates; a late loop sends the frames it owes at once, as a jittery line would.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx
import numpy as np

from ..config import Config
from .audio import (FRAME_MS, EchoPath, NoiseBed, active_rms, gain_db, read_wav, speech_onset_ms,
                    synthesize, write_wav)
from .expect import BargeIn, Check, barge_in_episode, check
from .playout import Span
from .scenario import Say, Scenario, Wav, load_scenario
from .script import CallerScript, Clip
from .session import CallerUtterance, SimCall
from .webhook import TwimlError, new_sid, parse_connect_stream, twilio_signature, voice_webhook_params

NOMINAL_SPEECH_RMS = 1640.0  # about -26 dBov, for noise levels when the scenario has no speech
FETCH_TIMEOUT_S = 3.0


@dataclass(slots=True, kw_only=True)
class CallResult:
    scenario: str
    call_id: str
    passed: bool
    expectations: list[Check]
    barge_ins: list[BargeIn]
    decisions: list[dict[str, Any]]
    context: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[Any] = field(default_factory=list)
    state: str | None = None
    utterances: list[CallerUtterance] = field(default_factory=list)
    bot_spans: list[Span] = field(default_factory=list)
    clears_ms: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    duration_ms: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "call_id": self.call_id,
            "passed": self.passed,
            "expectations": [c.to_dict() for c in self.expectations],
            "barge_ins": [b.to_dict() for b in self.barge_ins],
            "decisions": self.decisions,
            "state": self.state,
            "context": self.context,
            "transcript": self.transcript,
            "caller": [{"said": u.label, "start_ms": u.start_ms, "onset_ms": u.onset_ms, "end_ms": u.end_ms,
                        "over_bot": bool(u.over_bot)} for u in self.utterances],
            "bot_audio": [{"start_ms": s.start_ms, "end_ms": s.end_ms} for s in self.bot_spans],
            "clears_ms": self.clears_ms,
            "problems": self.problems,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "stats": self.stats,
        }


# -- preparing the caller's audio -------------------------------------------------------


def render_clips(scenario: Scenario) -> dict[int, Clip]:
    """Every utterance of the script, rendered before the call (synthesis takes real time)."""
    clips: dict[int, Clip] = {}
    for i, step in enumerate(scenario.steps):
        match step:
            case Say(text=text, voice=voice):
                pcm = synthesize(text, voice)
                clips[i] = Clip(pcm=pcm, onset_ms=speech_onset_ms(pcm), label=text)
            case Wav(path=path, gain_db=g):
                pcm = gain_db(read_wav(path), g)
                clips[i] = Clip(pcm=pcm, onset_ms=speech_onset_ms(pcm), label=path.name)
            case _:
                pass
    return clips


def noise_bed(scenario: Scenario, clips: dict[int, Clip]) -> NoiseBed | None:
    if scenario.noise is None:
        return None
    levels = [active_rms(c.pcm) for c in clips.values()]
    speech = float(np.mean(levels)) if levels else NOMINAL_SPEECH_RMS
    return NoiseBed.at_snr(read_wav(scenario.noise.file), speech, scenario.noise.snr_db)


def build_call(scenario: Scenario, clips: dict[int, Clip], *, call_sid: str, account_sid: str,
               stream_sid: str, parameters: dict[str, str]) -> SimCall:
    echo = None if scenario.echo is None else EchoPath(delay_ms=scenario.echo.delay_ms,
                                                       attenuation_db=scenario.echo.attenuation_db)
    return SimCall(script=CallerScript(steps=scenario.steps, clips=clips), call_sid=call_sid,
                   account_sid=account_sid, stream_sid=stream_sid, custom_parameters=parameters,
                   noise=noise_bed(scenario, clips), echo=echo,
                   max_duration_ms=int(scenario.max_duration_s * 1000))


# -- the result ---------------------------------------------------------------------


def measure_barge_ins(call: SimCall, decisions: list[dict[str, Any]]) -> list[BargeIn]:
    out = []
    bis = call.barge_in_utterances
    for k, u in enumerate(bis):
        nxt = bis[k + 1].onset_ms if k + 1 < len(bis) else None
        outcome, heard = barge_in_episode(decisions, u.onset_ms, nxt)
        clear = call.first_clear_after(u)
        if clear is not None and nxt is not None and clear.at_ms >= nxt:
            clear = None
        out.append(BargeIn(said=u.label, at_ms=u.onset_ms,
                           reaction_ms=None if clear is None else clear.at_ms - u.onset_ms,
                           outcome=outcome, heard_text=heard))
    return out


def finish(scenario: Scenario, call: SimCall, *, record: dict[str, Any] | None, error: str | None,
           duration_ms: int, stats: dict[str, Any]) -> CallResult:
    record = record or {}
    decisions = [d for d in record.get("decisions", []) if isinstance(d, dict)]
    decisions.sort(key=lambda d: d.get("seq", 0))
    context = [m for m in record.get("context", []) if isinstance(m, dict)]
    barge_ins = measure_barge_ins(call, decisions)
    problems = list(call.script.problems) + list(call.problems)
    checks: list[Check] = []
    if error is not None:
        checks.append(Check(name="call", passed=False, detail=error))
    else:
        checks.append(Check(name="call", passed=record.get("state") == "ended",
                            detail=f"call record state {record.get('state')!r} (expected 'ended')"))
    checks.append(Check(name="script", passed=not call.script.problems,
                        detail="; ".join(call.script.problems) or "every step ran"))
    checks.append(Check(name="protocol", passed=not call.problems,
                        detail="; ".join(call.problems[:5]) or "the gateway spoke valid Media Streams"))
    transcript = list(record.get("transcript", []))
    call.speaker.finish()
    checks += check(scenario.expect, decisions=decisions, barge_ins=barge_ins, context=context, transcript=transcript,
                    bot_spans=call.speaker.spans, barge_in_utterances=call.barge_in_utterances)
    return CallResult(
        scenario=scenario.name, call_id=call.call_sid, passed=all(c.passed for c in checks),
        expectations=checks, barge_ins=barge_ins, decisions=decisions, context=context,
        transcript=transcript, state=record.get("state"),
        utterances=list(call.utterances), bot_spans=list(call.speaker.spans),
        clears_ms=[c.at_ms for c in call.clears], problems=problems, error=error,
        duration_ms=duration_ms, stats=stats)


# -- pacing -------------------------------------------------------------------------


class Clock(Protocol):
    """Seconds on a monotonic clock, and a way to wait for a moment on it."""

    def now(self) -> float: ...

    async def sleep_until(self, t: float) -> None: ...


@dataclass(slots=True)
class LoopClock:
    loop: asyncio.AbstractEventLoop

    def now(self) -> float:
        return self.loop.time()

    async def sleep_until(self, t: float) -> None:
        delay = t - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass(slots=True)
class Pacer:
    """Sends frame k when its 20 ms of audio is complete: at ``t0 + 20(k+1) ms / speed``.

    Every deadline comes from ``t0``: a late wake-up delays one frame, never the
    ones after it (sleep error does not accumulate), and frames owed after a stall
    go out at once, as from a jittery line."""

    clock: Clock
    speed: float = 1.0
    t0: float | None = None
    max_lateness_s: float = 0.0

    def audio_now_ms(self) -> float:
        """The caller's audio clock now, for stamping what the gateway sends."""
        return 0.0 if self.t0 is None else (self.clock.now() - self.t0) * self.speed * 1000.0

    async def run(self, call: SimCall, send: Callable[[list[dict[str, Any]]], Awaitable[None]], *,
                  stopped: Callable[[], bool] = lambda: False) -> int:
        """Tick ``call`` until it hangs up or ``stopped()``; returns the frames sent."""
        self.t0 = self.clock.now()
        k = 0
        while not call.hung_up and not stopped():
            due = self.t0 + (k + 1) * FRAME_MS / 1000.0 / self.speed
            now = self.clock.now()
            if now < due:
                await self.clock.sleep_until(due)
            else:
                self.max_lateness_s = max(self.max_lateness_s, now - due)
            if stopped():
                break
            await send(call.tick(k * FRAME_MS))
            k += 1
        return k


# -- the wire -----------------------------------------------------------------------


async def _fetch_record(client: httpx.AsyncClient, base: str, call_id: str,
                        admin_token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FETCH_TIMEOUT_S
    last: dict[str, Any] = {}
    while True:
        r = await client.get(f"{base}/api/calls/{call_id}", headers=headers)
        if r.status_code == 200:
            last = r.json()
            if last.get("state") == "ended":
                return last
        elif r.status_code != 404:
            r.raise_for_status()
        if loop.time() >= deadline:
            if not last:
                raise RuntimeError(f"GET /api/calls/{call_id} answered {r.status_code} for {FETCH_TIMEOUT_S:.0f} s")
            return last
        await asyncio.sleep(0.1)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Built once: a fresh client builds a default context (the CA bundle read again), which
    # cost a load test 4.5% of its CPU at 60 calls.
    return ssl.create_default_context()


async def run_scenario(scenario: Scenario | str | Path, url: str, speed: float = 1.0, *,
                       auth_token: str | None = None, record_dir: Path | str | None = None,
                       admin_token: str | None = None, clips: dict[int, Clip] | None = None) -> CallResult:
    """Run one scenario as one call against the gateway at ``url`` (its base HTTP URL).

    ``auth_token`` (default: env ``TWILIO_AUTH_TOKEN``) signs the webhook and the
    stream handshake. ``admin_token`` (default: env ``TURNGATE_ADMIN_TOKEN``) reads the
    call's record from the review API. ``clips``: the scenario's audio from
    :func:`render_clips`, when many calls share it. ``record_dir``: write ``<scenario>.<CallSid>.bot.wav`` (the bot's
    audio as the caller heard it) and ``.line.wav`` (what the caller's line carried).
    Never raises for a gateway failure: the result says what failed."""
    import websockets

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if speed <= 0:
        raise ValueError("speed must be positive")
    cfg = Config.from_env()
    token = auth_token if auth_token is not None else cfg.twilio_auth_token or None
    admin = admin_token if admin_token is not None else cfg.admin_token or None
    base = url.rstrip("/")
    call_sid, account_sid, stream_sid = new_sid("CA"), new_sid("AC"), new_sid("MZ")
    if clips is None:
        clips = await asyncio.to_thread(render_clips, scenario)
    loop = asyncio.get_running_loop()
    call = build_call(scenario, clips, call_sid=call_sid, account_sid=account_sid,
                      stream_sid=stream_sid, parameters={})
    error: str | None = None
    record: dict[str, Any] | None = None
    stats: dict[str, Any] = {"speed": speed, "max_send_lateness_ms": 0.0, "ticks": 0}
    duration_ms = 0
    async with httpx.AsyncClient(timeout=10.0, verify=_tls_context()) as client:
        try:
            params = voice_webhook_params(call_sid=call_sid, account_sid=account_sid,
                                          from_number=scenario.from_number, to_number=scenario.to_number)
            hook = f"{base}/twilio/voice"
            headers = {"X-Twilio-Signature": twilio_signature(token, hook, params)} if token else {}
            r = await client.post(hook, data=params, headers=headers)
            if r.status_code != 200:
                raise RuntimeError(f"POST /twilio/voice answered {r.status_code}: {r.text[:200]}")
            stream = parse_connect_stream(r.text)
            call.custom_parameters = dict(stream.parameters)
            ws_headers = {"X-Twilio-Signature": twilio_signature(token, stream.url, {})} if token else None
            async with websockets.connect(stream.url, additional_headers=ws_headers,
                                          max_size=2**22, ping_interval=None) as ws:
                pacer = Pacer(LoopClock(loop), speed)

                async def send(msgs: list[dict[str, Any]]) -> None:
                    for m in msgs:
                        await ws.send(json.dumps(m, separators=(",", ":")))

                async def receive() -> None:
                    async for text in ws:
                        await send(call.on_message(text, pacer.audio_now_ms()))

                await send(call.opening())
                rx = asyncio.create_task(receive())
                try:
                    k = await pacer.run(call, send, stopped=rx.done)
                    stats["max_send_lateness_ms"] = round(pacer.max_lateness_s * 1000, 1)
                    duration_ms = call.audio_ms
                    stats["ticks"] = k
                    if rx.done():
                        exc = rx.exception()
                        closed = f"code {ws.close_code}, reason {ws.close_reason!r}"
                        if exc is not None and not isinstance(exc, websockets.ConnectionClosed):
                            raise exc
                        # Legitimate (a transfer ends the stream), so a note, not a failure;
                        # steps the script could not run are visible in ``steps_left``.
                        stats["ended_by"] = f"gateway at {duration_ms} ms ({closed})"
                        stats["steps_left"] = len(scenario.steps) - call.script.index
                        call.speaker.finish()
                    else:
                        stats["ended_by"] = "caller"
                        await send(call.closing())
                        await asyncio.sleep(0.05)  # let the last echoes cross before closing
                finally:
                    rx.cancel()
                    await asyncio.gather(rx, return_exceptions=True)
            stats.update(bot_bytes_received=call.speaker.received_bytes, bot_bytes_played=call.speaker.played_bytes,
                         bot_bytes_dropped=call.speaker.dropped_bytes, marks_received=call.marks_received,
                         marks_echoed=call.marks_echoed, clears=len(call.clears))
            record = await _fetch_record(client, base, call_sid, admin)
        except (OSError, httpx.HTTPError, TwimlError, RuntimeError, websockets.WebSocketException, ValueError) as e:
            error = f"{type(e).__name__}: {e}"
            if str(stats.get("ended_by", "")).startswith("gateway"):
                error += f" (the stream was ended by the {stats['ended_by']})"
    if record_dir is not None:
        d = Path(record_dir)
        d.mkdir(parents=True, exist_ok=True)
        bot, line = call.recordings()
        write_wav(d / f"{scenario.name}.{call_sid}.bot.wav", bot)
        write_wav(d / f"{scenario.name}.{call_sid}.line.wav", line)
    return finish(scenario, call, record=record, error=error, duration_ms=duration_ms, stats=stats)
