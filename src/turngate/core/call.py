"""The call core: ``Call.handle(event, now) -> list[Action]`` and ``Call.next_deadline()``.

Theory of operation
-------------------
One ``Call`` per phone call, no I/O. ``now`` is seconds on any monotonic clock (the
shell's loop clock, a test's fake clock, or the audio clock of a benchmark);
decisions carry milliseconds relative to the call's start.

``Call`` composes small sub-machines, each with its own lifetime, and owns the turn
state (``states.py``: every change goes through the table):

* ``SoundDetector`` (``sound.py``), for the whole call: VAD windows -> onsets and
  ends of the caller's sound, judged against the echo our playback could cause.
* ``CallerTurn`` (``turn.py``), for the whole call: the caller's words, the open STT
  utterance, the end of turn and the wait for its final.
* ``Generation`` (``generation.py``), one per answer: its model attempts (hedge,
  fallback), its sentences through TTS, its playback ledger.
* ``BargeIn`` (``bargein.py``), only while paused: an onset over our playback sends
  ``clear`` at once (stop fast), then the pause's evidence decides: abandon the
  answer (the context keeps only what the caller heard) or resume from the cut.

Model failures follow ``FallbackPolicy`` (``fallback.py``) and then the gates. Every
turn-level choice is a ``WriteDecision`` with the rule that made it (``log.py``).
"""

from __future__ import annotations

from typing import Any, assert_never

from .actions import (
    Action, CancelModel, CancelSynthesis, ClearPlayback, QueueCrmNote, QueueFollowUp, TransferCall,
)
from . import answering, bargein, speculation
from .bargein import BargeIn
from .decisions import Decision, Verdict
from .events import (
    CallStarted, DtmfReceived, Event, FinalTranscript, MarkPlayed, ModelDone, ModelFailed, ModelTextDelta,
    PartialTranscript, PeerMessageRejected, SpeechSynthesized, StreamStopped, SynthesisFailed, TimerFired,
    TurnScored, VoiceActivity,
)
from .fallback import FallbackPolicy
from .gatekeeper import Gatekeeper
from .generation import Generation
from .log import DecisionLog
from .params import TurnParams
from .playback import Playback
from .sound import Onset, SoundDetector, SoundEnded
from .states import State, Trigger, transition
from .turn import CallerTurn
from .utterance import words


class Call:
    """The sans-I/O state machine of one call."""

    def __init__(self, call_id: str, *, gates: Gatekeeper, params: TurnParams | None = None,
                 started_at: float = 0.0, models: FallbackPolicy | None = None) -> None:
        self.call_id = call_id
        self.gates = gates
        self.p = params or TurnParams()
        self.models = models or FallbackPolicy()
        self.state = State.LISTENING
        self.context: list[dict[str, str]] = []
        self.log = DecisionLog(call_id, gates.policy_version, started_at)
        self.sound = SoundDetector(self.p)
        self.turn = CallerTurn(self.p)
        self.gen: Generation | None = None
        self.pause: BargeIn | None = None     # while paused; then a resumed pause whose final may come late
        self.spec: speculation.Speculation | None = None  # an answer started before the turn ended (gen)
        self._gen_counter = 0
        self._retired: list[Playback] = []    # cancelled playbacks whose marks Twilio still echoes
        self._pending_transfer: tuple[str, str, str] | None = None
        self._follow_ups: set[str] = set()

    @property
    def decisions(self) -> list[Decision]:
        return self.log.decisions

    def ms(self, now: float) -> int:
        return self.log.ms(now)

    def take_turn(self, text: str, now: float) -> list[Action]:
        """The caller said ``text`` and their turn ended: answer it. Tests and the audio
        harness reach an answer this way without speaking the question; a live call gets
        there through VAD, STT and end of turn."""
        out: list[Action] = []
        if self.state is State.LISTENING:
            self.go(Trigger.SPEECH_START)
        self.go(Trigger.END_OF_TURN)
        answering.answer(self, text, now, out)
        return out

    # ------------------------------------------------------------------ API
    def handle(self, event: Event, now: float) -> list[Action]:
        out: list[Action] = []
        match event:
            case VoiceActivity():
                self._on_voice(event, now, out)
            case PartialTranscript():
                self._on_partial(event.text, now, out)
            case FinalTranscript():
                self._on_final(event.text, now, out, event.confidence)
            case MarkPlayed():
                self._on_mark(event.name, now, out)
            case ModelTextDelta() | ModelDone() | ModelFailed() | SpeechSynthesized() | SynthesisFailed():
                answering.on_event(self, event, now, out)
            case TimerFired():
                pass
            case TurnScored():
                self._on_turn_score(event, now, out)
            case DtmfReceived() if self.state is State.ENDED:
                pass  # a key pressed as the stream stopped: the call is over
            case DtmfReceived():
                kv = self.gates.dtmf(event.digit, self.ms(now))
                for v in kv.verdicts:
                    self.log.record(v, now, out)
                if kv.reply and self.state is State.LISTENING:
                    self.go(Trigger.RESPOND)
                    answering.start_scripted(self, kv.reply, "keypad", now, out)
            case CallStarted():
                self.log.t0 = now
                self.log.decide("turn", "call_started", "stream_start", "turn.start", now, out,
                                stream_sid=event.stream_sid)
                if greeting := self.gates.greeting():
                    self.go(Trigger.RESPOND)
                    answering.start_scripted(self, greeting, "greeting", now, out)
            case StreamStopped():
                self._on_stopped(event.reason, now, out)
            case PeerMessageRejected():
                self.log.decide("transport", "rejected", event.kind, "transport.reject", now, out,
                                detail=event.detail[:200], excerpt=event.excerpt[:80])
            case _:
                assert_never(event)
        self._check_timers(now, out)
        return out

    def next_deadline(self) -> float | None:
        t, state = self.turn, self.state
        ds = [d for d in (t.deadline, t.final_due) if d is not None]
        if self.gen is not None:
            ds += answering.deadlines(self)
        if state is State.CALLER_SPEAKING:
            if (m := t.max_deadline()) is not None:
                ds.append(m)
            if t.score_due is not None:
                ds.append(t.score_due)
            if t.close_due is not None:
                ds.append(t.close_due)
        if state is State.PAUSED and self.pause is not None and (d := self.pause.next_deadline()) is not None:
            ds.append(d)
        return min(ds) if ds else None

    # ------------------------------------------------------------ helpers
    def go(self, trigger: Trigger) -> None:
        self.state = transition(self.state, trigger)
        if self.state is not State.THINKING:
            self.turn.answered = None  # our answer is playing, or failed, or a person has the call

    def _take_back(self) -> int:
        """The caller went on before a word of our answer played: the ended turn's words go
        back into the turn, so that it is answered once, as a whole, and a cough or a clatter
        after it does not drop them. The words an answer was prepared for leave the context
        with it; or, when the final is still on its way, the partial's words stand in for it
        (``CallerTurn.tentative``). Returns how many answered words came back."""
        t = self.turn
        if t.answered is None:
            if t.final_outstanding and t.tentative is None and words(t.partial):
                # Its final is still on its way: until it comes, the partial's words stand in.
                t.tentative, t.pending = t.pending, t.partial
            return 0
        text, confidence = t.answered
        t.answered = None
        if self.context and self.context[-1]["role"] == "user":
            self.context.pop()
        t.pending = (text + " " + t.pending).strip()
        t.pending_confidence = _least(confidence, t.pending_confidence)
        return len(words(text))

    def record_all(self, verdicts: tuple[Verdict, ...], now: float, out: list[Action]) -> None:
        for v in verdicts:
            self.log.record(v, now, out)

    def queue_follow_ups(self, tasks: tuple[Any, ...], out: list[Action]) -> None:
        for f in tasks:
            if f.kind not in self._follow_ups:  # one task of a kind per call
                self._follow_ups.add(f.kind)
                out.append(QueueFollowUp(kind=f.kind, queue=f.queue, reason=f.reason, evidence=f.evidence))

    def _on_stopped(self, reason: str, now: float, out: list[Action]) -> None:
        if self.state is State.ENDED:
            return
        self.cancel_generation(f"hangup:{reason}", out)
        self.turn.close_utterance(out, discard=True)
        self.go(Trigger.HANGUP)
        self.turn.resumed()
        self.turn.final_due = None
        self.pause = None
        self.log.decide("turn", "ended", reason, "turn.end_of_call", now, out, turns=len(self.context))

    # ------------------------------------------------------------ the caller's sound
    def _on_voice(self, ev: VoiceActivity, now: float, out: list[Action]) -> None:
        # The hot path: 31 windows a second per call. Our playback's level is looked up
        # only for a window that could start a sound (SoundDetector.window).
        speaking = self.state is State.SPEAKING
        playback = self.gen.playback if speaking and self.gen is not None else None
        match self.sound.window(ev, now, speaking, playback, self.state is State.PAUSED):
            case Onset(at=onset):
                self._on_speech_start(now, onset, ev, out)
            case SoundEnded(silence_start=start):
                self._on_speech_end(now, start, out)
            case None:
                pass
        if self.state is State.PAUSED and self.p.duck_after_ms > 0:
            bargein.heard(self, ev, now, out)
        # A window heard while we kept playing is evidence of this line's echo (sound.learn).
        if self.state is State.SPEAKING and self.gen is not None:
            self.sound.learn(ev, self.gen.playback.echo_reference_db(), now)

    def _on_speech_start(self, now: float, onset: float, ev: VoiceActivity, out: list[Action]) -> None:
        match self.state:
            case State.LISTENING:
                self.go(Trigger.SPEECH_START)
                self.turn.begin(now, out)
                self.log.decide("turn", "caller_started", "vad_onset", "turn.speech_start", now, out,
                                onset_ms=self.ms(onset), level_db=round(ev.level_db, 1))
            case State.CALLER_SPEAKING:
                speculation.drop(self, "caller_resumed", now, out)
                self.turn.resumed()  # the caller went on after a pause
                self.turn.open_utterance(now, out)  # the last one may have closed in the pause
            case State.THINKING:
                if self._pending_transfer is not None:
                    return  # the transfer announcement is on its way, whatever the caller says now
                # The caller resumed before we answered: their words take priority.
                speculation.drop(self, "caller_resumed", now, out)
                self.cancel_generation("caller_resumed", out)
                kept = self._take_back()
                self.go(Trigger.SPEECH_START)
                self.turn.final_due = None
                self.turn.begin(now, out, keep_text=True)
                self.log.decide("turn", "yield", "caller_resumed", "turn.caller_priority", now, out,
                                onset_ms=self.ms(onset), **({"kept_words": kept} if kept else {}))
            case State.SPEAKING:
                if self.sound.hold or self._pending_transfer is not None:
                    return  # continuing noise; or the transfer announcement, which is not up for debate
                bargein.start_pause(self, now, onset, ev, out)
            case State.PAUSED | State.TRANSFERRING | State.ENDED:
                pass
            case _:
                assert_never(self.state)

    def _on_speech_end(self, now: float, silence_start: float, out: list[Action]) -> None:
        match self.state:
            case State.CALLER_SPEAKING:
                self.turn.fell_silent(silence_start)
            case State.PAUSED if self.pause is not None:
                # The sound is over; the STT final decides between resume and abandon.
                if not self.pause.final_requested and self.turn.close_utterance(out, discard=False):
                    self.pause.sound_ended(now)
            case _:
                pass

    # ------------------------------------------------------------ timers
    def _check_timers(self, now: float, out: list[Action]) -> None:
        t, state = self.turn, self.state
        if state is State.SPEAKING:  # the common case: every VAD window while we speak
            g = self.gen
            if g is not None and g.winner is None and g.attempts:
                answering.check_budgets(self, now, out)  # a fallback continuing after audio
        elif state is State.CALLER_SPEAKING:
            if t.deadline is not None and now >= t.deadline and not self.sound.in_speech:
                self._end_turn(now, t.rule, out)
            elif (mt := t.max_deadline()) is not None and now >= mt:
                self._end_turn(now, "turn.end.max_duration", out)
            else:
                if t.close_due is not None and now >= t.close_due and not self.sound.in_speech:
                    t.close_early(out)
                if t.score_due is not None and now >= t.score_due and not self.sound.in_speech:
                    t.ask_score(now, out)
        elif state is State.PAUSED:
            if self.pause is not None:
                ducked = self.gen is not None and self.gen.playback.ducked
                bargein.settle(self, self.pause.due(now, t.partial, in_speech=self.sound.in_speech,
                                                    sound_ms=self.sound.sound_ms, ducked=ducked), t.partial, now, out)
        elif state is State.THINKING:
            if answering.check_budgets(self, now, out):
                return
            if t.final_due is not None and now >= t.final_due:
                t.final_due = None
                t.pending, t.pending_confidence = "", None
                if words(t.partial):
                    # The recogniser is stalled or far behind (an overloaded STT worker took
                    # over 3 s): answer the words its partials already gave rather than drop
                    # the caller's question. A final that comes later is stale and ignored.
                    self.log.decide("turn", "partial_used", "stt_final_timeout", "turn.stt_timeout_partial",
                                    now, out, words=len(words(t.partial)))
                    answering.answer(self, t.partial, now, out)
                    return
                self._no_words("no_transcript", "stt_final_timeout", "turn.stt_timeout", now, out)

    def _on_turn_score(self, ev: TurnScored, now: float, out: list[Action]) -> None:
        t = self.turn
        if self.state is not State.CALLER_SPEAKING or self.sound.in_speech:
            return  # the turn already ended on silence, or the caller is speaking again: stale
        match t.scored(ev.request, ev.probability):
            case True:
                self._end_turn(now, t.rule, out, model_ms=round(ev.elapsed_ms, 1))
            case False if ev.probability < self.p.turn_model_threshold:
                # The model hears an unfinished turn: wait longer for more (decision, with the score).
                self.log.decide("turn", "hold", "model_unsure", "turn.hold.model_unsure", now, out,
                                turn_score=round(ev.probability, 3), turn_threshold=self.p.turn_model_threshold,
                                wait_ms=round(((t.deadline or now) - now) * 1000), model_ms=round(ev.elapsed_ms, 1),
                                words=len(words(t.partial)))
            case _:
                pass  # stale (an older silence), or complete but the words end open: their silence stands

    def _end_turn(self, now: float, rule: str, out: list[Action], **extra: object) -> None:
        t = self.turn
        evidence = t.model_evidence()
        t.resumed()
        self.go(Trigger.END_OF_TURN)
        turn_ms = self.ms(now) - self.ms(t.started or now)
        t.spoke_ms = t.spoke_before + max(0, turn_ms - self.sound.silence_run_ms)
        self.log.decide("turn", "end_of_turn", rule.rsplit(".", 1)[-1], rule, now, out,
                        silence_ms=self.sound.silence_run_ms, words=len(words(t.partial)),
                        turn_ms=turn_ms, **evidence, **extra,
                        **({"final_at_candidate": True} if t.early_final else {}))
        if t.close_utterance(out, discard=False) or t.final_outstanding:
            # The final of the utterance just closed, or of one closed at the candidate end
            # that has not come back yet.
            t.final_due = now + self.p.final_wait_ms / 1000
        else:
            # The utterance was already closed (an interruption decided on its final).
            t.final_due = now
            self._on_final("", now, out)

    def _no_words(self, outcome: str, reason: str, rule: str, now: float, out: list[Action]) -> None:
        """A turn ended and the recogniser gave no words for it. A turn long enough to be
        speech is asked again (``no_words_reply``), and past the policy's limit of such turns
        in a row goes to a person (the handoff gate decides); anything shorter is noise."""
        speculation.drop(self, "no_words", now, out)
        spoke_ms, reply = self.turn.spoke_ms, self.p.no_words_reply
        if not reply or spoke_ms < self.p.no_words_min_ms:
            self.go(Trigger.SPEECH_NOISE)
            self.log.decide("turn", outcome, reason, rule, now, out, spoke_ms=spoke_ms)
            return
        if self.turn.counted:
            # Its first part was counted and asked again, and the caller went on before the
            # question played (a cough): the same turn, asked again, counted once.
            self.log.decide("turn", outcome, reason, rule + ".ask_again", now, out, spoke_ms=spoke_ms,
                            min_ms=self.p.no_words_min_ms, counted_already=True)
            answering.start_scripted(self, reply, "no_words", now, out)
            return
        fv = self.gates.not_understood()
        self.log.decide("turn", outcome, reason, rule + (".handoff" if fv.queue else ".ask_again"), now, out,
                        spoke_ms=spoke_ms, min_ms=self.p.no_words_min_ms)
        self.record_all(fv.verdicts, now, out)
        self.queue_follow_ups(fv.follow_ups, out)
        if fv.queue:
            answering.hand_over(self, fv.queue, "not_understood", fv.note, fv.reply, "no_words", now, out)
        else:
            self.turn.counted = True
            answering.start_scripted(self, reply, "no_words", now, out)

    # ------------------------------------------------------------ transcripts
    def _on_partial(self, text: str, now: float, out: list[Action]) -> None:
        t = self.turn
        match self.state:
            case State.CALLER_SPEAKING:
                t.heard(text, now - self.sound.silence_run_ms / 1000)
                verdict = self.gates.caller_text(t.partial, final=False, agent_speaking=False)
                self.record_all(tuple(t.changed_verdicts(verdict)), now, out)
            case State.PAUSED if self.pause is not None:
                t.partial = text = self.pause.with_earlier(text)
                verdict = self.gates.caller_text(text, final=False, agent_speaking=True)
                self.record_all(tuple(t.changed_verdicts(verdict)), now, out)
                bargein.settle(self, bargein.judge(self, text, verdict, final=False), text, now, out)
            case _:
                pass  # a partial outside a caller turn is stale

    def routed_text(self, final: str) -> str:
        """The text the gates will read if ``final`` arrives now: the turn's earlier words
        lead it. The shell warms the sentence encoder on it off the event loop; a miss
        would run the encoder on the loop, where every call's frames wait for it."""
        speculating = self.state is State.CALLER_SPEAKING and self.p.speculate
        return (self.turn.pending + " " + final).strip() if self.state is State.THINKING or speculating else final

    def _on_final(self, text: str, now: float, out: list[Action], confidence: float | None = None) -> None:
        t, pause = self.turn, self.pause
        t.final_outstanding = False
        match self.state:
            case State.THINKING if t.final_due is not None and t.tentative is not None:
                # The final the partial words stood in for (finals come in order), late: it
                # takes their place, and the final of the utterance after it is still to come.
                t.pending, t.tentative = (t.tentative + " " + text).strip(), None
                t.pending_confidence = _least(t.pending_confidence, confidence)
                t.final_outstanding = True
            case State.THINKING if t.final_due is not None:
                t.final_due = None
                full = (t.pending + " " + text).strip()
                # The turn's words are as sure as the least sure of their finals.
                sure = _least(t.pending_confidence, confidence)
                t.pending, t.pending_confidence = "", None
                if not words(full):
                    self._no_words("no_words", "empty_transcript", "turn.noise", now, out)
                    return
                answering.answer(self, full, now, out, stt_confidence=sure)
            case State.CALLER_SPEAKING:
                # The final of an utterance the caller continued: part of this turn (in place
                # of the partial words that stood in for it, see _take_back).
                if t.tentative is not None:
                    t.pending, t.tentative = t.tentative, None
                t.pending = t.partial = (t.pending + " " + text).strip()
                t.pending_confidence = _least(t.pending_confidence, confidence)
                if self.p.speculate and t.early_final and not self.sound.in_speech and words(t.pending):
                    # The caller is silent at a candidate end: their answer may start now.
                    speculation.start(self, t.pending, t.pending_confidence, now, out)
            case State.SPEAKING if pause is not None and pause.final_due is not None and now < pause.final_due:
                bargein.late_final(self, pause, text, now, out)
            case State.PAUSED if pause is not None and pause.final_requested:
                pause.final_due = None
                text = pause.with_earlier(text)
                verdict = self.gates.caller_text(text, final=False, agent_speaking=True)
                found = bargein.judge(self, text, verdict, final=True)
                if found is not None:
                    bargein.settle(self, found, text, now, out)
                elif self.sound.in_speech:
                    # The caller spoke again while this final was on its way: never resume over them.
                    t.partial = text
                    pause.spoke_again(text, now)
                    t.open_utterance(now, out)
                else:
                    bargein.resume(self, now, "backchannel" if words(text) else "no_words", "bargein.final_backchannel", out)
            case _:
                pass

    # ------------------------------------------------------------ generations
    def next_generation_number(self) -> int:
        self._gen_counter += 1
        return self._gen_counter

    def new_generation(self, route: str, profile: str, *, scripted: bool, now: float) -> Generation:
        self.gen = Generation(self.next_generation_number(), route, profile, scripted=scripted, now=now,
                              params=self.p)
        return self.gen

    def handoff(self, queue: str, note: str, now: float, out: list[Action], reason: str, *,
                noted: bool = False) -> None:
        """Transfer now; ``noted``: the CRM note was queued when the transfer was announced."""
        self._pending_transfer = None
        self.cancel_generation("handoff", out)
        self.turn.close_utterance(out, discard=True)
        self.go(Trigger.HANDOFF)
        if not noted:
            out.append(QueueCrmNote(queue=queue, reason=reason, note=note))
        out.append(TransferCall(queue=queue, reason=reason, note=note))

    def announce_transfer(self, queue: str, reason: str, note: str, out: list[Action]) -> None:
        """Tell the caller first; the transfer follows when the words have played. The note
        goes out now, with the handoff decision, not when the announcement ends."""
        self._pending_transfer = (queue, reason, note)
        out.append(QueueCrmNote(queue=queue, reason=reason, note=note))

    def cancel_generation(self, reason: str, out: list[Action]) -> None:
        g = self.gen
        if g is None:
            return
        if self.spec is not None and self.spec.generation == g.number:
            self.spec = None
        pb = g.playback
        if g.model_active or (g.attempts and not pb.done):
            # A finished answer cut short is cancelled too: a speech-to-speech model keeps
            # its own record of what it said and truncates it to what the caller heard.
            out.append(CancelModel(generation=g.number, reason=reason, heard_ms=pb.heard_ms()))
        if g.segments.outstanding:
            out.append(CancelSynthesis(generation=g.number, reason=reason))
        heard = pb.heard_text()
        if heard:
            self.context.append({"role": "assistant", "content": heard})
        if pb.pending and not pb.paused:
            out.append(ClearPlayback(reason=reason))
            pb.pause()
        if pb.flushed:
            self._retired.append(pb)
        self.gen = None

    def play_on(self, now: float, out: list[Action]) -> None:
        """While we speak: send what is ready, or, when every word has played and its mark
        come back, end the answer. Called on a mark, and when the answer completes (its last
        sentence may come, or fail, after the rest has played: no mark is left then)."""
        g = self.gen
        assert g is not None
        if g.playback.done:
            self.playback_done(now, out)
        else:
            g.pump(out)

    def playback_done(self, now: float, out: list[Action]) -> None:
        """Every mark of the answer echoed as played: it is in the context, and the turn is the caller's."""
        g = self.gen
        assert g is not None
        pb = g.playback
        self.context.append({"role": "assistant", "content": pb.full_text()})
        self.gen = None
        if self._pending_transfer is not None:
            queue, reason, note = self._pending_transfer
            self.log.decide("handoff", "transfer", reason, "handoff.transfer", now, out, queue=queue)
            self.handoff(queue, note, now, out, reason=reason, noted=True)
            return
        self.go(Trigger.PLAYBACK_DONE)
        self.sound.playback_ended(now, pb.echo_reference_db())
        self.log.decide("turn", "agent_done", "playback_complete", "turn.playback_done", now, out,
                        played_ms=pb.heard_ms())

    def _on_mark(self, name: str, now: float, out: list[Action]) -> None:
        g = self.gen
        if g is not None and g.playback.on_mark(name):
            pb = g.playback
            if self.state is State.PAUSED and pb.ducked:
                g.pump(out)  # an unconfirmed pause goes on, lowered (bargein.duck)
                return
            if self.state is State.SPEAKING:
                self.play_on(now, out)
            return
        for old in self._retired:
            if old.on_mark(name):
                if not old.flushed:
                    self._retired.remove(old)
                return
        self.log.decide("transport", "rejected", "unknown_mark", "transport.mark", now, out, mark=name[:64])


def _least(a: float | None, b: float | None) -> float | None:
    """The lower of two recogniser confidences; None (no measure) gives way to a measure."""
    return b if a is None else a if b is None else min(a, b)
