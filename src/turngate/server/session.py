"""One call's shell: decode Twilio frames, feed the core, carry out its actions.

Cancellation: every generation is one task (model text + its TTS worker) in one
scope; ``CancelModel`` cancels exactly that scope, with the reason. The outbound
``clear`` and decision writes never wait on it (they are queued before the
cancel is requested).

Queues and their drop policy:
- outbound frames to Twilio: unbounded deque, but the core keeps at most
  ``playback_lead_ms`` of audio outstanding, so it stays small;
- STT audio: appended while an utterance is open; the STT worker takes all of it
  each round (natural batching). Bounded at ``Config.stt_backlog_ms`` of audio:
  past it the oldest frames are dropped and counted
  (``turngate_audio_dropped_frames_total{queue="stt"}``), see server/backpressure.py;
- VAD audio: the VAD hub takes each tick's frames of every call at once; it holds
  no backlog of its own beyond one tick;
- decisions and outbox rows: the store's DecisionWriter, which spills rather than
  drops. A decision is never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, assert_never

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..audio import mulaw
from ..core.actions import (
    Action, CancelModel, CancelSynthesis, ClearPlayback, EndCall, FinishTranscription, QueueCrmNote, QueueFollowUp,
    ScoreTurn, SendAudio, SendMark, StartEchoCanceller, StartModel, StartTranscription, Synthesize, TransferCall,
    WriteDecision,
)
from ..core.call import Call
from .answers import Answers
from .echo import LineEcho
from ..core.decisions import Decision
from ..core.events import (
    CallStarted, DtmfReceived, Event, FinalTranscript, MarkPlayed, PartialTranscript, PeerMessageRejected,
    StreamStopped, TimerFired, TurnScored, VoiceActivity,
)
from ..errors import AuthError
from ..core.decisions import call_outcome
from ..store.base import OutboxItem
from ..twilio import codec
from .backpressure import FRAME_MS, trim_stt_audio
from .providers import Providers
from ..replay.record import EventRecorder
from .audio_keep import AudioKeeper, audio_path
from .tracing import CallSpans
from .track import CallTrack

log = logging.getLogger("turngate.session")
# The last 8 s of caller frames (20 ms, mu-law): the start of an STT utterance comes from
# its tail (preroll), the end-of-turn model's input from as much of it as the turn spans.
PREROLL_FRAMES = 400


class CallSession:
    def __init__(self, ws: WebSocket, providers: Providers, *, on_start: Callable[["CallSession"], None],
                 on_end: Callable[["CallSession"], None]) -> None:
        self.ws = ws
        self.pv = providers
        self.cfg = providers.config
        self.loop = asyncio.get_running_loop()
        self.call: Call | None = None
        self.call_id = ""
        self.stream_sid = ""
        self.account_sid = ""
        self._on_start, self._on_end = on_start, on_end
        self._out: deque[str] = deque()
        self._out_ready = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        # The model streams and TTS of this call's answers (server/answers.py).
        self.answers = Answers(providers, emit=self._feed)
        self._preroll: deque[bytes] = deque(maxlen=PREROLL_FRAMES)
        self._stt = None
        self._stt_open = False
        self.echo = LineEcho(providers.turn_params.speech_threshold)  # our playout, for the echo check and canceller
        self._stt_cmds: deque[tuple[str, Any]] = deque()
        self._stt_wake = asyncio.Event()
        self._stt_task: asyncio.Task[None] | None = None
        self._stt_dropping = False
        self._scoring: set[asyncio.Task[None]] = set()  # end-of-turn model runs in flight
        self._pending_decisions: list[Decision] = []
        self._pending_outbox: list[OutboxItem] = []
        self._early: list[PeerMessageRejected] = []
        self.track = CallTrack()  # levels and timings for the console's timeline (server/track.py)
        self.replay: EventRecorder | None = None  # when the policy keeps events for `turngate replay`
        self.spans: CallSpans | None = None  # OpenTelemetry, when configured
        self.audio: AudioKeeper | None = None  # caller audio, when the policy keeps it
        self._audio_info: dict[str, Any] | None = None
        self.closed = False

    # ------------------------------------------------------------ main loop
    async def run(self) -> None:
        sender = asyncio.create_task(self._sender(), name="twilio-sender")
        try:
            while True:
                try:
                    text = await self.ws.receive_text()
                except WebSocketDisconnect:
                    self._feed(StreamStopped(reason="disconnect"))
                    break
                except KeyError:
                    # A binary frame: Starlette raises KeyError on receive_text.
                    self._reject(PeerMessageRejected(kind="malformed", detail="binary frame"))
                    continue
                if not self._on_frame(text):
                    break
        except AuthError as e:
            self.pv.metrics.streams_refused.labels(e.close_reason).inc()
            log.warning("stream refused: %s", e)
            await self.ws.close(code=1008, reason=e.close_reason)
        finally:
            await self._finish()
            sender.cancel()

    def _on_frame(self, text: str) -> bool:
        """Handle one frame; False when the stream is over."""
        try:
            msg = codec.parse(text)
        except Exception as e:  # the codec promises not to raise; if it ever does, log and go on
            log.exception("codec raised on a frame")
            msg = codec.Rejected(kind="malformed", detail=f"codec error: {type(e).__name__}")
        if self.call is None and not isinstance(msg, (codec.Start, codec.Connected, codec.Rejected)):
            self._reject(PeerMessageRejected(kind="out_of_order", detail=f"{type(msg).__name__.lower()} before start"))
            return True
        match msg:
            case codec.Media():
                if msg.track not in ("inbound", "inbound_track"):
                    return True
                # Hot path: the payload stays mu-law until something needs samples (the
                # VAD hub decodes a whole tick of frames at once; STT only while open).
                payload = self.echo.heard(msg.payload)
                self.pv.vad.push_mulaw(self.call_id, payload)
                self._preroll.append(payload)
                self.answers.hear(payload)
                if self.audio is not None:
                    self.audio.frames.append(msg.payload)  # kept as the caller said it
                if self._stt_open:
                    self._stt_audio(payload)
            case codec.Mark():
                self._feed(MarkPlayed(name=msg.name))
            case codec.Dtmf():
                self._feed(DtmfReceived(digit=msg.digit))
            case codec.Start():
                if self.call is not None:
                    self._reject(PeerMessageRejected(kind="out_of_order", detail="second start"))
                    return True
                self._start(msg)
            case codec.Stop():
                self._feed(StreamStopped(reason="stop"))
                return False
            case codec.Connected():
                pass
            case codec.Rejected():
                self._reject(PeerMessageRejected(kind=msg.kind, detail=msg.detail, excerpt=msg.excerpt))
        return True

    def _reject(self, ev: PeerMessageRejected) -> None:
        log.info("rejected frame on %s: %s", self.call_id or "unstarted stream", ev.detail)
        if self.call is None:
            self._early.append(ev)  # logged into the call once it starts
            del self._early[:-50]
        else:
            self._feed(ev)

    def _start(self, msg: codec.Start) -> None:
        assert self.pv.stream_tokens is not None  # the app sets it
        self.pv.stream_tokens.check(msg.custom_parameters.get("token"), msg.call_sid,
                                    now=datetime.now(timezone.utc).timestamp())
        if msg.encoding != "audio/x-mulaw" or msg.sample_rate != 8000:
            raise AuthError(f"unsupported media format {msg.encoding}@{msg.sample_rate}",
                            close_reason="unsupported media format")
        self.call_id, self.stream_sid, self.account_sid = msg.call_sid, msg.stream_sid, msg.account_sid
        gates = self.pv.gatekeeper(msg.custom_parameters)
        self.call = Call(self.call_id, gates=gates, params=self.pv.turn_params, started_at=self.loop.time(),
                         models=self.pv.models)
        self.track.t0 = self.loop.time()
        retention = getattr(getattr(gates, "policy", None), "retention", {})
        if retention.get("replay_events"):
            self.replay = EventRecorder(self.track.t0)
        if retention.get("audio"):
            self.audio = AudioKeeper()
        if self.pv.tracer is not None:
            self.spans = CallSpans(self.pv.tracer, self.call_id, gates.policy_version, time.time_ns())
        self.pv.writer.start_call(self.call_id, stream_sid=self.stream_sid,
                                  caller=msg.custom_parameters.get("from", ""),
                                  started_at=datetime.now(timezone.utc), policy_version=gates.policy_version)
        self.pv.vad.register(self.call_id, self._on_vad)
        try:
            self._stt = self.pv.stt.new_stream()
            self._stt_task = asyncio.create_task(self._stt_worker(), name=f"stt-{self.call_id}")
        except Exception as e:
            # No recogniser for this call: it still runs (VAD, DTMF, playback); every turn ends
            # in the core's no-transcript decision, and the log says why here.
            log.error("call %s: STT unavailable: %s", msg.call_sid, e)
            self._stt = None
        self._on_start(self)
        self._feed(CallStarted(call_id=self.call_id, stream_sid=self.stream_sid,
                               caller=msg.custom_parameters.get("from", ""), parameters=msg.custom_parameters))
        for ev in self._early:
            self._feed(ev)
        self._early.clear()

    # ------------------------------------------------------------ core step
    def _feed(self, event: Event) -> None:
        if self.call is None:
            return
        now = self.loop.time()
        if not isinstance(event, TimerFired):
            # A deadline that passed while this event waited in the loop's queue (a busy
            # loop runs an executor's result before a due timer) fires first, as on the
            # core's own timeline and in replay: a turn model's score that came after the
            # silence rule had ended the turn must not decide it.
            # The armed timer holds the core's next deadline as of its last step.
            for _ in range(10):
                if self._timer is None or self._timer.when() > now:
                    break
                self._timer.cancel()
                self._timer = None
                self._feed(TimerFired())
        if self.replay is not None:
            self.replay.event(event, now)
        try:
            actions = self.call.handle(event, now)
        except Exception:
            # A bug in the core must not take the call's socket (or any other call) down with
            # it: the event is lost, the traceback is logged, the call goes on.
            log.exception("call %s: core error on %s", self.call_id, type(event).__name__)
            return
        self.track.event(event, now)
        self.track.actions(actions, now)
        self._dispatch(actions)
        self._arm_timer()

    def _on_vad(self, probability: float, level: float) -> None:
        self._feed(VoiceActivity(probability=probability, level_db=level,
                                 residual_db=self.echo.residual_db(probability, level)))

    def _arm_timer(self) -> None:
        assert self.call is not None
        deadline = self.call.next_deadline()
        if self._timer is not None:
            if deadline is not None and abs(self._timer.when() - deadline) < 1e-4:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._feed(TimerFired())

    # ------------------------------------------------------------ actions
    def _dispatch(self, actions: list[Action]) -> None:
        for a in actions:
            match a:
                case SendAudio():
                    self._send(codec.render_media(self.stream_sid, a.payload))
                    self.echo.sent(a.payload)
                case SendMark():
                    self._send(codec.render_mark(self.stream_sid, a.name))
                case ClearPlayback():
                    self._send(codec.render_clear(self.stream_sid))
                    self.echo.cleared()
                case StartEchoCanceller():
                    self.echo.start_canceller(self.call_id)
                case WriteDecision():
                    self._pending_decisions.append(a.decision)
                case StartModel():
                    self.answers.start(a)
                case CancelModel():
                    self.answers.cancel(a)
                case Synthesize():
                    self.answers.synthesize(a.generation, a.segment, a.text)
                case CancelSynthesis():
                    self.answers.stop_tts(a.generation, a.reason)
                case StartTranscription() | FinishTranscription() if self._stt is None:
                    pass  # no recogniser on this call (see _on_start)
                case StartTranscription():
                    self._stt_open = True
                    frames = max(1, a.preroll_ms // 20)
                    self._stt_cmds.append(("start", None))
                    self._stt_cmds.append(("audio", [b"".join(list(self._preroll)[-frames:])]))
                    self._stt_wake.set()
                case FinishTranscription():
                    self._stt_open = False
                    self._stt_cmds.append(("finish", a.discard))
                    self._stt_wake.set()
                case QueueCrmNote():
                    self._pending_outbox.append(OutboxItem(
                        kind="crm_note", key=f"{self.call_id}:crm_note", call_id=self.call_id,
                        payload={**self._handoff_payload(a.queue, a.reason), "note": a.note}))
                case ScoreTurn():
                    if self.pv.turn_model is not None:  # without it the core's silence rule stands
                        heard = b"".join(list(self._preroll)[-max(1, a.audio_ms // 20):])
                        task = self.loop.create_task(self._score_turn(a.request, heard))
                        self._scoring.add(task)
                        task.add_done_callback(self._scoring.discard)
                case TransferCall():
                    self._transfer(a)
                case QueueFollowUp():
                    self._pending_outbox.append(OutboxItem(
                        kind="follow_up", key=f"{self.call_id}:follow_up:{a.kind}", call_id=self.call_id,
                        payload={"task": a.kind, "queue": a.queue, "reason": a.reason,
                                 "evidence": [dict(e) for e in a.evidence]}))
                case EndCall():
                    self.closed = True
                case _:
                    assert_never(a)  # a new action the shell does not carry out is a type error
        if self._pending_decisions or self._pending_outbox:
            self.pv.writer.submit(self._pending_decisions, self._pending_outbox)
            self.pv.metrics.decisions(self._pending_decisions)
            if self.spans is not None:
                self.spans.decisions(self._pending_decisions)
            self._pending_decisions, self._pending_outbox = [], []

    def _send(self, text: str) -> None:
        self._out.append(text)
        self._out_ready.set()

    async def _sender(self) -> None:
        while True:
            await self._out_ready.wait()
            self._out_ready.clear()
            while self._out:
                try:
                    await self.ws.send_text(self._out.popleft())
                except Exception:  # the peer is gone; the receive loop will notice
                    self._out.clear()
                    return

    def _transfer(self, a: TransferCall) -> None:
        # The transfer (Twilio REST: redirect the call to the queue) goes out through the
        # outbox, in the same transaction as the handoff decision that caused it. Its CRM
        # note was queued with the decision to hand off (QueueCrmNote), so the note's reason
        # is the decision's reason, and survives a process lost while the caller is told.
        self._pending_outbox.append(OutboxItem(kind="transfer", key=f"{self.call_id}:transfer",
                                               call_id=self.call_id, payload=self._handoff_payload(a.queue, a.reason)))

    def _handoff_payload(self, queue: str, reason: str) -> dict[str, str]:
        """What the transfer and its CRM note both carry: whose call, where to, and why."""
        return {"call_id": self.call_id, "account_sid": self.account_sid, "queue": queue, "reason": reason}

    # ------------------------------------------------------------ STT
    def _stt_audio(self, payload: bytes) -> None:
        # Consecutive frames coalesce into one command: the worker feeds whatever
        # accumulated while it was busy, in one call. They stay mu-law until then: the
        # worker decodes them all at once, in its executor thread, not on the event loop.
        if self._stt_cmds and self._stt_cmds[-1][0] == "audio":
            self._stt_cmds[-1][1].append(payload)
        else:
            self._stt_cmds.append(("audio", [payload]))
        dropped = trim_stt_audio(self._stt_cmds, max(1, self.cfg.stt_backlog_ms // FRAME_MS))
        if dropped:
            if not self._stt_dropping:
                log.warning("call %s: STT lags by over %d ms; dropping its oldest audio", self.call_id,
                            self.cfg.stt_backlog_ms)
            self.pv.metrics.audio_dropped.labels("stt").inc(dropped)
        self._stt_dropping = bool(dropped)
        self._stt_wake.set()

    async def _stt_worker(self) -> None:
        stream = self._stt
        assert stream is not None
        open_ = False
        while True:
            await self._stt_wake.wait()
            self._stt_wake.clear()
            while self._stt_cmds:
                cmd, arg = self._stt_cmds.popleft()
                try:
                    open_ = await self._stt_step(stream, cmd, arg, open_)
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    # A crashed or stalled recogniser: the core's final-transcript deadline
                    # turns the missing words into a logged decision; the call goes on.
                    log.warning("call %s: STT %s failed: %s", self.call_id, cmd, e)
                    open_ = False

    async def _stt_step(self, stream: Any, cmd: str, arg: Any, open_: bool) -> bool:
        run = self.loop.run_in_executor
        if cmd == "start":
            if open_:
                await run(self.pv.executor, stream.end_utterance)
            await run(self.pv.executor, stream.start_utterance)
            return True
        if cmd == "audio" and open_:
            audio = b"".join(arg) if len(arg) > 1 else arg[0]
            for r in await run(self.pv.executor, _feed_mulaw, stream, audio):
                if not r.is_final and self._stt_open:
                    self._feed(PartialTranscript(text=r.text, confidence=r.confidence))
            return True
        if cmd == "finish" and open_:
            final = await run(self.pv.executor, stream.end_utterance)
            if not arg:
                prefetch = getattr(self.pv.gatekeeper, "prefetch", None)
                if prefetch is not None and final.text and self.call is not None:
                    # The route gate's sentence encoder, off the event loop (see embedding.cache).
                    await run(self.pv.executor, prefetch, self.call.routed_text(final.text))
                self._feed(FinalTranscript(text=final.text, confidence=final.confidence))
            settle = getattr(stream, "settle", None)
            if settle is not None:
                # A long utterance's deferred decoding passes, now that its final is delivered.
                await run(self.pv.executor, settle)
            return False
        return open_

    async def _score_turn(self, request: int, payload: bytes) -> None:
        """The end-of-turn model, off the event loop (features + ONNX: 10-300 ms)."""
        model = self.pv.turn_model
        t0 = time.perf_counter()
        try:
            p = await self.loop.run_in_executor(self.pv.executor, lambda: model.score(mulaw.decode(payload)))
        except Exception as e:
            # No score: the core's silence rule ends the turn, as without the model.
            log.warning("call %s: end-of-turn model failed: %s", self.call_id, e)
            return
        self._feed(TurnScored(request=request, probability=p, elapsed_ms=(time.perf_counter() - t0) * 1000))

    # ------------------------------------------------------------ teardown
    async def _finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.answers.stop("call ended")
        for task in list(self._scoring):
            task.cancel()
        if self._stt_task is not None:
            self._stt_task.cancel()
        if self.call is None:
            return
        if self.call.state != "ended":
            self._feed(StreamStopped(reason="disconnect"))
        self.pv.vad.unregister(self.call_id)
        if self._stt is not None:
            stream = self._stt
            await self.loop.run_in_executor(self.pv.executor, stream.close)
        await self.answers.close()
        if self.audio is not None:
            path = audio_path(self.cfg.audio_dir, self.call_id)
            try:
                self._audio_info = await self.loop.run_in_executor(self.pv.executor, self.audio.write, path,
                                                                   tuple(self.call.decisions))
            except OSError as e:
                log.error("call %s: could not keep its audio: %s", self.call_id, e)
        self.pv.writer.end_call(self.call_id, ended_at=datetime.now(timezone.utc), outcome=self.outcome(),
                                summary=self.summary())
        if self.spans is not None:
            self.spans.end(self.outcome(), time.time_ns())
        self._on_end(self)

    def outcome(self) -> str:
        assert self.call is not None
        return call_outcome(self.call.decisions)

    def summary(self) -> dict[str, Any]:
        assert self.call is not None
        # Only redacted text leaves the call: the context holds the guard's redacted
        # caller turns and what the caller heard of ours; the raw STT text is never stored.
        return {"state": str(self.call.state), "context": list(self.call.context),
                "transcript": [{"role": m["role"], "text": m["content"]} for m in self.call.context],
                "models": list(self.answers.attempts),
                "track": self.track.to_json(),
                **({"replay": self.replay.to_json()} if self.replay is not None else {}),
                **({"audio": self._audio_info} if self._audio_info else {})}

    def snapshot(self) -> dict[str, Any]:
        assert self.call is not None
        return {"call_id": self.call_id, "state": str(self.call.state),
                "decisions": [d.to_dict() for d in self.call.decisions], **self.summary()}


def _feed_mulaw(stream: Any, audio: bytes) -> Any:
    """In an executor thread: decode a batch of the caller's mu-law and feed the recogniser."""
    return stream.feed(mulaw.decode(audio))
