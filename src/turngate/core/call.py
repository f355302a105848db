"""The call core: ``Call.handle(event, now) -> list[Action]`` and ``Call.next_deadline()``.

Theory of operation
-------------------
One ``Call`` per phone call, no I/O. ``now`` is seconds on any monotonic clock
(the shell's loop clock, a test's fake clock, or the audio clock of a
benchmark); decisions carry milliseconds relative to the call's start.

Caller audio reaches the core as ``VoiceActivity`` windows (32 ms). The core runs
the speech/silence hysteresis itself, so every turn-taking rule is a pure
function of a timeline and can be tested by stepping a clock:

* Onset: ``speech_start_ms`` of speech. While we are speaking, a window only
  counts as speech if it is louder than the echo our own playback could cause:
  our loudest recent audio less this line's echo return loss (learned from the
  caller channel while we play, ``core/echo.py``; assumed ``echo_return_loss_db``
  until then), plus a margin.
* In ``listening`` an onset opens a caller turn and an STT utterance.
* In ``speaking`` an onset is a *possible* barge-in: we send ``clear`` at once
  (stop fast) and move to ``paused``, keeping the unplayed audio. Then we confirm:
  an interrupt phrase or a new request in the STT words abandons the response
  and truncates the assistant's context turn to what the caller heard; a
  backchannel, our own echo or noise (no words by ``confirm_timeout_ms``) resumes
  playback from the cut, less a short overlap.
* End of turn: a silence whose length depends on the words so far (a trailing
  "and" or an unfinished number keeps the turn open longer; a complete question
  closes it sooner). Then the STT final is awaited, the gates decide, and a
  generation starts.

Every turn-level choice is a ``WriteDecision`` with the rule that made it. State
changes go through ``states.transition``; a pair not in the table raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_never

from .actions import (
    Action, CancelModel, CancelSynthesis, ClearPlayback, FinishTranscription, QueueFollowUp, SendAudio,
    SendMark, StartModel, StartTranscription, Synthesize, TransferCall, WriteDecision,
)
from .decisions import Decision, Verdict
from .echo import EchoEstimate
from .events import (
    CallStarted, DtmfReceived, Event, FinalTranscript, MarkPlayed, ModelDone, ModelFailed,
    ModelTextDelta, PartialTranscript, PeerMessageRejected, SpeechSynthesized, StreamStopped,
    SynthesisFailed, TimerFired, VoiceActivity,
)
from .gatekeeper import CallerTurnVerdict, Gatekeeper
from .params import TurnParams
from .playback import BYTES_PER_MS, Playback
from .states import State, Trigger, transition
from .utterance import classify_interjection, end_of_turn_rule, without_echo, words
from .sentences import pop_sentences

PREROLL_MS = 300
FINAL_WAIT_MS = 3000  # an STT final that never comes must not hang the call
PAUSE_FINAL_WAIT_MS = 600  # a pause waits this long for its final, then plays on ("no_final")
VAD_HANGOVER_MS = 128  # silence needed before "speech ended" (bridges short gaps between words)
ECHO_TAIL_MS = 400     # after our playback ends its echo may still arrive
CALLER_LEAD_IN_S = 0.25  # quiet start of a caller's sound, before the VAD onset


@dataclass(slots=True)
class _Generation:
    number: int
    route: str
    profile: str
    attempts: int = 1
    model_done: bool = False
    model_active: bool = True
    text_buf: str = ""
    next_segment: int = 0       # next segment index to ask TTS for
    synth_outstanding: int = 0  # segments asked for and not yet returned
    next_to_add: int = 0        # next segment index to append to playback
    ready: dict[int, SpeechSynthesized | None] | None = None
    scripted: bool = False      # a fixed reply, not a model
    started_at: float = 0.0
    first_text: bool = False


class Call:
    """The sans-I/O state machine of one call."""

    def __init__(self, call_id: str, *, gates: Gatekeeper, params: TurnParams | None = None,
                 started_at: float = 0.0) -> None:
        self.call_id = call_id
        self.gates = gates
        self.p = params or TurnParams()
        self.state = State.LISTENING
        self.context: list[dict[str, str]] = []
        self.decisions: list[Decision] = []  # kept for the call's summary and tests
        self._t0 = started_at
        self._seq = 0
        # VAD hysteresis
        self._in_speech = False
        self._speech_run_ms = 0
        self._silence_run_ms = 0
        self._sound_ms = 0          # speech in the current caller sound
        self._echo_windows = 0
        # caller turn
        self._transcribing = False
        self._partial = ""
        self._pending_user = ""     # finals of a turn the caller resumed before we answered
        self._turn_started: float | None = None
        self._turn_deadline: float | None = None
        self._turn_rule = ""
        self._awaiting_final_until: float | None = None
        self._logged_partial: dict[str, tuple[str, str]] = {}
        # generation and playback
        self._gen_counter = 0
        self._gen: _Generation | None = None
        self._playback: Playback | None = None
        self._retired: list[Playback] = []
        # barge-in
        self._pause_at: float | None = None
        self._confirm_deadline: float | None = None
        self._pause_final_requested = False
        self._pause_evidence: dict[str, Any] = {}
        self._noise_hold = False    # resumed over continuing noise: no new onset until silence
        self._interrupt_seen: set[str] = set()  # interrupt words seen in this pause's partials
        self._pause_text = ""       # finals of this pause's earlier sounds ("stop," before "wait")
        self._late_final_until = float("-inf")  # a resumed pause's final still counts until then
        self._false_pauses = 0                  # recent pauses that were noise (see _barge_in_start_ms)
        self._last_false_pause = float("-inf")
        self._pending_transfer: tuple[str, str, str] | None = None
        self._follow_ups: set[str] = set()
        self._echo_tail_until = float("-inf")
        self._echo_tail_level = -90.0
        self._echo = EchoEstimate()     # this line's echo return loss, learned while we play
        self._pause_onset = 0.0

    # ------------------------------------------------------------------ API
    def handle(self, event: Event, now: float) -> list[Action]:
        out: list[Action] = []
        match event:
            case VoiceActivity():
                self._on_voice(event, now, out)
                self._learn_echo(event, now)
            case PartialTranscript():
                self._on_partial(event.text, now, out)
            case FinalTranscript():
                self._on_final(event.text, now, out)
            case MarkPlayed():
                self._on_mark(event.name, now, out)
            case ModelTextDelta():
                self._on_model_text(event.generation, event.text, now, out)
            case ModelDone():
                self._on_model_done(event.generation, now, out)
            case ModelFailed():
                self._on_model_failed(event.generation, event.reason, now, out)
            case SpeechSynthesized():
                self._on_synthesized(event, now, out)
            case SynthesisFailed():
                self._on_synthesis_failed(event, now, out)
            case TimerFired():
                pass
            case DtmfReceived():
                kv = self.gates.dtmf(event.digit, self.ms(now))
                for v in kv.verdicts:
                    self._record(v, now, out)
                if kv.reply and self.state is State.LISTENING:
                    self._go(Trigger.RESPOND)
                    self._start_scripted(kv.reply, "keypad", now, out)
            case CallStarted():
                self._on_started(event, now, out)
            case StreamStopped():
                self._on_stopped(event.reason, now, out)
            case PeerMessageRejected():
                self._decide("transport", "rejected", event.kind, "transport.reject", now, out,
                             detail=event.detail[:200], excerpt=event.excerpt[:80])
            case _:
                assert_never(event)
        self._check_timers(now, out)
        return out

    def next_deadline(self) -> float | None:
        ds = [d for d in (self._turn_deadline, self._confirm_deadline, self._awaiting_final_until,
                          self._max_turn_deadline(), *self._provider_deadlines()) if d is not None]
        return min(ds) if ds else None

    def _provider_deadlines(self) -> tuple[float | None, float | None]:
        g = self._gen
        if g is None or self.state is not State.THINKING:
            return None, None
        ttft = g.started_at + self.p.model_ttft_budget_ms / 1000 if g.model_active and not g.first_text else None
        return ttft, g.started_at + self.p.first_audio_budget_ms / 1000

    def ms(self, now: float) -> int:
        return int(round((now - self._t0) * 1000))

    # ------------------------------------------------------------ helpers
    def _go(self, trigger: Trigger) -> None:
        self.state = transition(self.state, trigger)

    def _decide(self, gate: str, outcome: str, reason: str, rule: str, now: float,
                out: list[Action], **evidence: Any) -> None:
        self._record(Verdict(gate=gate, outcome=outcome, reason=reason, rule=rule, evidence=evidence), now, out)

    def _record(self, v: Verdict, now: float, out: list[Action]) -> None:
        self._seq += 1
        d = Decision(call_id=self.call_id, seq=self._seq, at_ms=self.ms(now), gate=v.gate,
                     outcome=v.outcome, reason=v.reason, rule=v.rule,
                     policy_version=self.gates.policy_version, evidence=dict(v.evidence))
        self.decisions.append(d)
        out.append(WriteDecision(decision=d))

    def _max_turn_deadline(self) -> float | None:
        if self.state is State.CALLER_SPEAKING and self._turn_started is not None:
            return self._turn_started + self.p.max_turn_ms / 1000
        return None

    # ------------------------------------------------------------ lifecycle
    def _on_started(self, ev: CallStarted, now: float, out: list[Action]) -> None:
        self._t0 = now
        self._decide("turn", "call_started", "stream_start", "turn.start", now, out,
                     stream_sid=ev.stream_sid)
        greeting = self.gates.greeting()
        if greeting:
            self._go(Trigger.RESPOND)
            self._start_scripted(greeting, "greeting", now, out)

    def _on_stopped(self, reason: str, now: float, out: list[Action]) -> None:
        if self.state is State.ENDED:
            return
        self._cancel_generation(f"hangup:{reason}", out)
        self._close_utterance(out, discard=True)
        self._go(Trigger.HANGUP)
        self._turn_deadline = self._confirm_deadline = self._awaiting_final_until = None
        self._decide("turn", "ended", reason, "turn.end_of_call", now, out, turns=len(self.context))

    # ------------------------------------------------------------ VAD
    def _on_voice(self, ev: VoiceActivity, now: float, out: list[Action]) -> None:
        p = self.p
        is_speech = ev.probability >= (p.silence_threshold if self._in_speech else p.speech_threshold)
        if is_speech and not self._in_speech:
            # A possible onset: is it louder than our own echo could be?
            ref = None
            if self.state is State.SPEAKING and self._playback is not None:
                ref = self._playback.echo_reference_db()
            elif now < self._echo_tail_until:
                ref = self._echo_tail_level  # our last words may still echo back
            if ref is not None and ev.level_db < self._echo_floor_db(ref, now):
                is_speech = False
                self._echo_windows += 1

        if is_speech:
            self._silence_run_ms = 0
            self._speech_run_ms += ev.window_ms
            if self._in_speech:
                self._sound_ms += ev.window_ms
            elif self._speech_run_ms >= (self._barge_in_start_ms(now) if self.state is State.SPEAKING
                                         else p.speech_start_ms):
                self._in_speech = True
                # While paused, a new sound continues the same interjection: "Stop, wait."
                # is one, and its length is what tells it from a backchannel.
                self._sound_ms = self._speech_run_ms + (self._sound_ms if self.state is State.PAUSED else 0)
                onset = now - self._speech_run_ms / 1000
                self._on_speech_start(now, onset, ev, out)
        else:
            self._silence_run_ms += ev.window_ms
            if not self._in_speech:
                self._speech_run_ms = 0
            elif self._silence_run_ms >= (p.pause_hangover_ms if self.state is State.PAUSED else VAD_HANGOVER_MS):
                self._in_speech = False
                self._speech_run_ms = 0
                self._on_speech_end(now, out)

    def _learn_echo(self, ev: VoiceActivity, now: float) -> None:
        """A window heard while we kept playing is evidence of this line's echo. A window
        that paused us is not: we judged it the caller (so a backchannel's onset does not
        cost a clean line its low floor), while our echo misheard as words still counts,
        from the windows around it that did not pause us."""
        if self.p.echo_learn and self.state is State.SPEAKING and self._playback is not None:
            self._echo.observe(ev.level_db, self._playback.echo_reference_db(), now)

    def _echo_floor_db(self, reference_db: float, now: float) -> float:
        """The level a caller must beat over our playback: our loudest recent audio, less
        this line's echo return loss, plus a margin."""
        return reference_db - self._erl_db(now) + self.p.barge_in_min_level_over_echo_db

    def _erl_db(self, now: float) -> float:
        """The echo return loss to assume: ``echo_return_loss_db`` until this call has
        shown its own (core/echo.py). A line cleaner than assumed uses what it shows.
        A line that looks *worse* uses it only after a pause found no words in the last
        ``noise_backoff_s``: then the line has shown that its own sound (echo, or a noisy
        room) stops us. Without that proof a worse figure is as likely the caller's room
        just before they talk (an AMI turn start had -24 dBFS of non-speech there), and
        raising the floor on it hid real interruptions (bench/bargein.py)."""
        p = self.p
        learned = self._echo.erl_db(now) if p.echo_learn else None
        if learned is None:
            return p.echo_return_loss_db
        if learned < p.echo_return_loss_db and not self._recent_false_pauses(now):
            return p.echo_return_loss_db
        return min(p.echo_return_loss_max_db, max(p.echo_return_loss_min_db, learned))

    def _barge_in_start_ms(self, now: float) -> int:
        """Speech needed before pausing our playback. Each pause that turned out to be
        noise doubles it (up to 8x) for the next few seconds: a kitchen or a street
        must not make the agent stutter, while a caller who really talks over it still
        stops it, a little later."""
        return self.p.barge_in_start_ms << min(3, self._recent_false_pauses(now))

    def _recent_false_pauses(self, now: float) -> int:
        """Pauses that found no words, counted while each came within ``noise_backoff_s``
        of the one before, and still within it now."""
        return self._false_pauses if now - self._last_false_pause <= self.p.noise_backoff_s else 0

    def _on_speech_start(self, now: float, onset: float, ev: VoiceActivity, out: list[Action]) -> None:
        match self.state:
            case State.LISTENING:
                self._go(Trigger.SPEECH_START)
                self._open_turn(now, out)
                self._decide("turn", "caller_started", "vad_onset", "turn.speech_start", now, out,
                             onset_ms=self.ms(onset), level_db=round(ev.level_db, 1))
            case State.CALLER_SPEAKING:
                self._turn_deadline = None  # the caller went on after a pause
            case State.THINKING:
                # The caller resumed before we answered: their words take priority.
                self._cancel_generation("caller_resumed", out)
                self._go(Trigger.SPEECH_START)
                self._awaiting_final_until = None
                self._open_turn(now, out, keep_text=True)
                self._decide("turn", "yield", "caller_resumed", "turn.caller_priority", now, out,
                             onset_ms=self.ms(onset))
            case State.SPEAKING:
                if self._noise_hold or self._pending_transfer is not None:
                    return  # continuing noise; or the transfer announcement, which is not up for debate
                self._pause(now, onset, ev, out)
            case State.PAUSED | State.TRANSFERRING | State.ENDED:
                pass
            case _:
                assert_never(self.state)

    def _on_speech_end(self, now: float, out: list[Action]) -> None:
        self._noise_hold = False
        silence_start = now - self._silence_run_ms / 1000
        match self.state:
            case State.CALLER_SPEAKING:
                silence, rule = end_of_turn_rule(self._partial, self.p)
                self._turn_deadline = silence_start + silence / 1000
                self._turn_rule = rule
            case State.PAUSED:
                # The sound is over; the STT final decides between resume and abandon.
                if not self._pause_final_requested and self._close_utterance(out, discard=False):
                    self._pause_final_requested = True
                    self._awaiting_final_until = now + PAUSE_FINAL_WAIT_MS / 1000
            case _:
                pass

    def _open_turn(self, now: float, out: list[Action], keep_text: bool = False) -> None:
        self._turn_started = now
        self._turn_deadline = None
        self._logged_partial = {}
        if not keep_text:
            self._pending_user = ""
        self._partial = self._pending_user
        self._open_utterance(out)

    def _open_utterance(self, out: list[Action]) -> None:
        """Open an STT utterance unless one is open."""
        if not self._transcribing:
            out.append(StartTranscription(preroll_ms=PREROLL_MS))
            self._transcribing = True

    def _close_utterance(self, out: list[Action], *, discard: bool) -> bool:
        """Close the open STT utterance, if any (``discard``: no final wanted). True if one was open."""
        if not self._transcribing:
            return False
        out.append(FinishTranscription(discard=discard))
        self._transcribing = False
        return True

    # ------------------------------------------------------------ timers
    def _check_timers(self, now: float, out: list[Action]) -> None:
        if self.state is State.CALLER_SPEAKING:
            if self._turn_deadline is not None and now >= self._turn_deadline and not self._in_speech:
                self._end_turn(now, self._turn_rule, out)
            elif (mt := self._max_turn_deadline()) is not None and now >= mt:
                self._end_turn(now, "turn.end.max_duration", out)
        elif self.state is State.PAUSED:
            kind, rule, ws = classify_interjection(self._partial, self.p)
            if self._confirm_deadline is not None and now >= self._confirm_deadline:
                self._confirm_deadline = None
                if not self._pause_final_requested and (kind == "backchannel" or not self._new_words()):
                    # No words after the confirm window: noise or our echo. Resume, and do not
                    # pause again for the same continuing sound. (An earlier sound's final that
                    # leads this utterance is not words of this one: noise that never ends
                    # after a misheard "stop" must not hold us paused.)
                    self._resume(now, "noise" if self._in_speech else "no_words",
                                 "bargein.confirm_timeout", out)
                    self._noise_hold = self._in_speech
                    return
            sustained = self._in_speech and self._sound_ms >= self.p.abandon_speech_ms
            if sustained and kind == "unknown" and self._new_words():
                self._abandon(now, "sustained_speech", "bargein.sustained_speech", out, self._partial,
                              Trigger.ABANDON, words=ws[:6])
                return
            if self._awaiting_final_until is not None and now >= self._awaiting_final_until:
                if self._in_speech:
                    # The caller talks again while the recogniser lags: never resume over them.
                    self._awaiting_final_until = now + PAUSE_FINAL_WAIT_MS / 1000
                    return
                self._awaiting_final_until = None
                self._resume(now, "no_final", "bargein.final_timeout", out)
        elif self.state is State.THINKING:
            ttft, first_audio = self._provider_deadlines()
            g = self._gen
            if g is not None and ttft is not None and now >= ttft:
                out.append(CancelModel(generation=g.number, reason="ttft_budget"))
                self._decide("model", "timeout", "ttft_budget_exceeded", "model.ttft_budget", now, out,
                             generation=g.number, profile=g.profile, budget_ms=self.p.model_ttft_budget_ms)
                self._on_model_failed(g.number, "ttft_budget_exceeded", now, out)
                return
            if g is not None and first_audio is not None and now >= first_audio:
                if g.model_active:
                    out.append(CancelModel(generation=g.number, reason="first_audio_budget"))
                if g.synth_outstanding:
                    out.append(CancelSynthesis(generation=g.number, reason="first_audio_budget"))
                g.model_active, g.synth_outstanding = False, 0
                self._decide("model", "timeout", "first_audio_budget_exceeded", "model.first_audio_budget", now,
                             out, generation=g.number, profile=g.profile, budget_ms=self.p.first_audio_budget_ms)
                self._on_model_failed(g.number, "first_audio_budget_exceeded", now, out)
                return
            if self._awaiting_final_until is not None and now >= self._awaiting_final_until:
                self._awaiting_final_until = None
                self._pending_user = ""
                if words(self._partial):
                    # The recogniser is stalled or far behind (an overloaded STT worker took
                    # over 3 s): answer the words its partials already gave rather than drop
                    # the caller's question. A final that comes later is stale and ignored.
                    self._decide("turn", "partial_used", "stt_final_timeout", "turn.stt_timeout_partial", now,
                                 out, words=len(words(self._partial)))
                    self._answer(self._partial, now, out)
                    return
                self._go(Trigger.SPEECH_NOISE)
                self._decide("turn", "no_transcript", "stt_final_timeout", "turn.stt_timeout", now, out)

    def _end_turn(self, now: float, rule: str, out: list[Action]) -> None:
        self._turn_deadline = None
        self._go(Trigger.END_OF_TURN)
        self._decide("turn", "end_of_turn", rule.rsplit(".", 1)[-1], rule, now, out,
                     silence_ms=self._silence_run_ms, words=len(words(self._partial)),
                     turn_ms=self.ms(now) - self.ms(self._turn_started or now))
        if self._close_utterance(out, discard=False):
            self._awaiting_final_until = now + FINAL_WAIT_MS / 1000
        else:
            # The utterance was already closed (an interruption decided on its final).
            self._awaiting_final_until = now
            self._on_final("", now, out)

    # ------------------------------------------------------------ transcripts
    def _on_partial(self, text: str, now: float, out: list[Action]) -> None:
        full = (self._pending_user + " " + text).strip()
        match self.state:
            case State.CALLER_SPEAKING:
                self._partial = full
                if self._turn_deadline is not None:
                    silence, rule = end_of_turn_rule(full, self.p)
                    start = now - self._silence_run_ms / 1000
                    self._turn_deadline, self._turn_rule = start + silence / 1000, rule
                verdict = self.gates.caller_text(full, final=False, agent_speaking=False)
                self._log_partial_verdicts(verdict, now, out)
            case State.PAUSED:
                text = (self._pause_text + " " + text).strip()
                self._partial = text
                verdict = self.gates.caller_text(text, final=False, agent_speaking=True)
                self._log_partial_verdicts(verdict, now, out)
                self._confirm(text, verdict, now, out, final=False)
            case _:
                pass  # a partial outside a caller turn is stale

    def _log_partial_verdicts(self, verdict: CallerTurnVerdict, now: float, out: list[Action]) -> None:
        # Partials arrive every 100-200 ms; log a gate's verdict only when it changes.
        for v in verdict.verdicts:
            key = (v.outcome, v.rule)
            if self._logged_partial.get(v.gate) != key and v.outcome not in ("allow", "hold"):
                self._logged_partial[v.gate] = key
                self._record(v, now, out)

    def _on_final(self, text: str, now: float, out: list[Action]) -> None:
        match self.state:
            case State.THINKING if self._awaiting_final_until is not None:
                self._awaiting_final_until = None
                full = (self._pending_user + " " + text).strip()
                self._pending_user = ""
                if not words(full):
                    self._go(Trigger.SPEECH_NOISE)
                    self._decide("turn", "no_words", "empty_transcript", "turn.noise", now, out)
                    return
                self._answer(full, now, out)
            case State.CALLER_SPEAKING:
                # The final of an utterance the caller continued: part of this turn.
                self._pending_user = (self._pending_user + " " + text).strip()
                self._partial = self._pending_user
            case State.SPEAKING if now < self._late_final_until:
                self._on_late_final(text, now, out)
            case State.PAUSED if self._pause_final_requested:
                self._awaiting_final_until = None
                text = (self._pause_text + " " + text).strip()
                verdict = self.gates.caller_text(text, final=False, agent_speaking=True)
                if self._confirm(text, verdict, now, out, final=True):
                    return
                if self._in_speech:
                    # The caller spoke again while this final was on its way (under load it
                    # can lag the next word): never resume over them. The words so far open
                    # the next utterance, and that one's evidence decides.
                    self._pause_text = self._partial = text
                    self._pause_final_requested = False
                    self._confirm_deadline = now + self.p.confirm_timeout_ms / 1000
                    self._open_utterance(out)
                    return
                self._resume(now, "backchannel" if words(text) else "no_words",
                             "bargein.final_backchannel", out)
            case _:
                pass

    def _new_words(self) -> bool:
        """While paused: did the current utterance's partials add words to the finals of
        this pause's earlier sounds (``_pause_text``, which leads every partial)?"""
        return len(words(self._partial)) > len(words(self._pause_text))

    def _confirm(self, text: str, verdict: CallerTurnVerdict, now: float, out: list[Action], *, final: bool) -> bool:
        """During a pause: abandon the response if the evidence calls for it. True if abandoned."""
        found = self._interruption(text, verdict, final=final)
        if found is None:
            return False
        why, rule, trigger, evidence = found
        self._abandon(now, why, rule, out, text, trigger, **evidence)
        return True

    def _interruption(self, text: str, verdict: CallerTurnVerdict, *,
                      final: bool) -> tuple[str, str, Trigger, dict[str, Any]] | None:
        """Whether the words heard over our playback are a real interruption: (reason, rule,
        trigger, evidence), or None.

        Evidence, and what it is worth:
        - Words our own recent audio contains are dropped first: on a line without echo
          cancellation the recogniser hears us ("waiting" comes back as "wait").
        - Duration: backchannels are short. A sound shorter than ``backchannel_max_ms``
          abandons only on an interrupt phrase ("stop", "wait", "no") that the recogniser
          heard in a partial *and* in the final; a weak recogniser turns "uh-huh" into
          anything once, rarely into the same interrupt word twice. An earlier sound's
          final (``_pause_text``) leads every later partial, so it cannot be its own second hearing.
        - A longer sound abandons on an interrupt phrase, on two content words (a new
          request), or on a route change with margin (intent drift).
        """
        echo = self._playback.recent_words() if self._playback is not None else set()
        clean = without_echo(text, echo)
        kind, rule, ws = classify_interjection(clean, self.p)
        long_enough = self._sound_ms >= self.p.backchannel_max_ms
        if kind == "interrupt":
            if not final and not long_enough:
                earlier = classify_interjection(without_echo(self._pause_text, echo), self.p)[2]
                self._interrupt_seen.update(w for w in ws if w not in earlier)
                return None
            if long_enough or self._interrupt_seen.intersection(ws):
                return kind, rule, Trigger.ABANDON, dict(words=ws[:6], sound_ms=self._sound_ms)
            return None
        if verdict.drift and long_enough:
            return "intent_drift", "route.drift_preempt", Trigger.PREEMPT, dict(route=verdict.route)
        if kind == "new_request" and long_enough:
            return kind, rule, Trigger.ABANDON, dict(words=ws[:6], sound_ms=self._sound_ms)
        return None

    def _on_late_final(self, text: str, now: float, out: list[Action]) -> None:
        """The final of a pause we stopped waiting for (``PAUSE_FINAL_WAIT_MS``) arrived
        after we played on. A real interruption in it is honoured now, with a fresh clear;
        anything else says playing on was right."""
        self._late_final_until = float("-inf")
        verdict = self.gates.caller_text(text, final=False, agent_speaking=True)
        found = self._interruption(text, verdict, final=True)
        pb = self._playback
        if found is None or pb is None:
            return
        pb.pause()
        self._go(Trigger.BARGE_IN)
        out.append(ClearPlayback(reason="late_final"))
        self._decide("turn", "pause", "late_final", "bargein.late_final", now, out,
                     heard_ms=pb.heard_ms(), heard_text=pb.heard_text())
        self._pause_at = now
        self._pause_final_requested = True  # the utterance is closed and this is its final
        why, rule, trigger, evidence = found
        self._abandon(now, why, rule, out, text, trigger, late=True, **evidence)

    # ------------------------------------------------------------ barge-in
    def _pause(self, now: float, onset: float, ev: VoiceActivity, out: list[Action]) -> None:
        assert self._playback is not None
        pb = self._playback
        floor = self._echo_floor_db(pb.echo_reference_db(), now)
        pb.pause()
        self._go(Trigger.BARGE_IN)
        out.append(ClearPlayback(reason="barge_in"))
        self._pause_at = now
        self._pause_onset = onset
        self._confirm_deadline = now + self.p.confirm_timeout_ms / 1000
        self._pause_final_requested = False
        self._interrupt_seen = set()
        self._pause_text = ""
        self._late_final_until = float("-inf")
        self._partial = ""
        self._open_utterance(out)
        self._pause_evidence = dict(onset_ms=self.ms(onset), heard_ms=pb.heard_ms(),
                                    heard_text=pb.heard_text())
        self._decide("turn", "pause", "caller_sound_over_playback", "bargein.stop_fast", now, out,
                     level_db=round(ev.level_db, 1), echo_floor_db=round(floor, 1),
                     erl_db=round(self._erl_db(now), 1),
                     start_ms=self._barge_in_start_ms(now),
                     reaction_ms=self.ms(now) - self.ms(onset), **self._pause_evidence)

    def _resume(self, now: float, why: str, rule: str, out: list[Action]) -> None:
        pb = self._playback
        if pb is None:
            return
        self._close_utterance(out, discard=True)
        self._confirm_deadline = None
        self._awaiting_final_until = None
        pb.resume(self.p.resume_overlap_ms * BYTES_PER_MS)
        self._go(Trigger.RESUME)
        if why in ("noise", "no_words", "no_final"):
            self._false_pauses = self._recent_false_pauses(now) + 1
            self._last_false_pause = now
        if why == "no_final":
            self._late_final_until = now + FINAL_WAIT_MS / 1000  # its final may still say "stop"
        gap = self.ms(now) - self.ms(self._pause_at or now)
        self._decide("turn", "resume", why, rule, now, out, gap_ms=gap, sound_ms=self._sound_ms,
                     words=len(words(self._partial)), resume_from_ms=pb.played // BYTES_PER_MS,
                     echo_windows=self._echo_windows)
        self._partial = ""
        self._pump(now, out)

    def _forget_caller_sound(self) -> None:
        """The sound that paused us had words: the caller's, not evidence of our echo."""
        self._echo.forget_since(self._pause_onset - CALLER_LEAD_IN_S)

    def _abandon(self, now: float, why: str, rule: str, out: list[Action], text: str,
                 trigger: Trigger, **evidence: Any) -> None:
        pb = self._playback
        heard = pb.heard_text() if pb else ""
        heard_ms = pb.heard_ms() if pb else 0
        self._confirm_deadline = None
        if self.state is State.PAUSED:
            self._forget_caller_sound()
        self._cancel_generation(why, out)
        self._go(trigger)
        self._decide("turn", "abandon", why, rule, now, out, heard_text=heard, heard_ms=heard_ms,
                     gap_ms=self.ms(now) - self.ms(self._pause_at or now), **evidence)
        # The caller now has the turn; the words so far are its start.
        self._turn_started = self._pause_at or now
        self._partial = text
        self._logged_partial = {}
        if self._pause_final_requested:
            # The utterance is already closed and its final is this text.
            self._pause_final_requested = False
            self._pending_user = text
            if not self._in_speech:
                self._turn_deadline = now
                self._turn_rule = "turn.end.after_interruption"
                return
            # The caller is still talking ("Actually, | I want a refund"): the rest of
            # their words join this turn in a new utterance.
        self._open_utterance(out)

    # ------------------------------------------------------------ generations
    def _answer(self, text: str, now: float, out: list[Action]) -> None:
        verdict = self.gates.caller_text(text, final=True, agent_speaking=False)
        for v in verdict.verdicts:
            self._record(v, now, out)
        self._queue_follow_ups(verdict.follow_ups, out)
        self.context.append({"role": "user", "content": verdict.redacted})
        match verdict.action:
            case "handoff":
                reason = next((v.reason for v in verdict.verdicts if v.gate == "handoff"), "handoff")
                if verdict.reply:
                    # Tell the caller first; the transfer follows when the words have played.
                    self._pending_transfer = (verdict.queue, reason, verdict.note)
                    self._start_scripted(verdict.reply, verdict.route, now, out)
                else:
                    self._handoff(verdict.queue, verdict.note, now, out, reason=reason)
            case "say":
                self._start_scripted(verdict.reply, verdict.route, now, out)
            case "respond" | "none":
                self._start_model(verdict.route, verdict.profile, verdict.memory, now, out)
            case other:
                raise ValueError(f"unknown gate action {other!r}")

    def _queue_follow_ups(self, tasks: tuple[Any, ...], out: list[Action]) -> None:
        for f in tasks:
            if f.kind not in self._follow_ups:  # one task of a kind per call
                self._follow_ups.add(f.kind)
                out.append(QueueFollowUp(kind=f.kind, queue=f.queue, reason=f.reason, evidence=f.evidence))

    def _handoff(self, queue: str, note: str, now: float, out: list[Action], reason: str) -> None:
        self._pending_transfer = None
        self._cancel_generation("handoff", out)
        self._close_utterance(out, discard=True)
        self._go(Trigger.HANDOFF)
        out.append(TransferCall(queue=queue, reason=reason, note=note))

    def _new_generation(self, route: str, profile: str, scripted: bool, now: float) -> _Generation:
        self._gen_counter += 1
        g = _Generation(number=self._gen_counter, route=route, profile=profile, ready={}, scripted=scripted,
                        started_at=now)
        self._gen = g
        self._playback = Playback(generation=g.number, chunk_bytes=self.p.chunk_ms * BYTES_PER_MS,
                                  lead_bytes=self.p.playback_lead_ms * BYTES_PER_MS)
        return g

    def _start_model(self, route: str, profile: str, memory: tuple[tuple[str, str], ...], now: float,
                     out: list[Action]) -> None:
        g = self._new_generation(route, profile, scripted=False, now=now)
        out.append(StartModel(generation=g.number, context=tuple(dict(m) for m in self.context),
                              route=route, profile=profile, memory=memory))

    def _start_scripted(self, text: str, route: str, now: float, out: list[Action]) -> None:
        g = self._new_generation(route, "scripted", scripted=True, now=now)
        g.model_active = False
        g.text_buf = text
        g.model_done = True
        self._flush_text(g, now, out, final=True)

    def _cancel_generation(self, reason: str, out: list[Action]) -> None:
        g = self._gen
        if g is None:
            return
        if g.model_active:
            out.append(CancelModel(generation=g.number, reason=reason))
        if g.synth_outstanding:
            out.append(CancelSynthesis(generation=g.number, reason=reason))
        pb = self._playback
        if pb is not None:
            heard = pb.heard_text()
            if heard:
                self.context.append({"role": "assistant", "content": heard})
            if pb.pending and not pb.paused:
                out.append(ClearPlayback(reason=reason))
                pb.pause()
            if pb.flushed:
                self._retired.append(pb)
        self._gen = None
        self._playback = None

    def _on_model_text(self, gen: int, text: str, now: float, out: list[Action]) -> None:
        g = self._gen
        if g is None or g.number != gen or g.scripted:
            return  # a stale generation's tail: it was cancelled
        g.text_buf += text
        g.first_text = True
        self._flush_text(g, now, out, final=False)

    def _on_model_done(self, gen: int, now: float, out: list[Action]) -> None:
        g = self._gen
        if g is None or g.number != gen:
            return
        g.model_done = True
        g.model_active = False
        self._flush_text(g, now, out, final=True)
        if g.next_segment == 0:
            self._on_model_failed(gen, "empty_response", now, out)
        else:
            self._maybe_complete(now, out)

    def _on_model_failed(self, gen: int, reason: str, now: float, out: list[Action]) -> None:
        g = self._gen
        if g is None or g.number != gen:
            return
        g.model_active = False
        fv = self.gates.generation_failed(g.profile, reason, g.attempts)
        for v in fv.verdicts:
            self._record(v, now, out)
        self._queue_follow_ups(fv.follow_ups, out)
        audio_out = self._playback is not None and self._playback.sent > 0
        if fv.fallback_profile and not audio_out:
            attempts = g.attempts + 1
            self._gen = None
            self._playback = None
            self._start_model(g.route, fv.fallback_profile, (), now, out)
            assert self._gen is not None
            self._gen.attempts = attempts
        elif fv.queue:
            self._handoff(fv.queue, fv.note, now, out, reason="provider_failure")
        elif fv.reply and not audio_out:
            self._gen = None
            self._start_scripted(fv.reply, g.route, now, out)
        elif not audio_out and self.state is State.THINKING:
            self._gen = None
            self._playback = None
            self._go(Trigger.GENERATION_FAILED)

    def _flush_text(self, g: _Generation, now: float, out: list[Action], *, final: bool) -> None:
        sentences, g.text_buf = pop_sentences(g.text_buf, final=final)
        for sentence in sentences:
            if not g.scripted:
                av = self.gates.agent_text(sentence)
                for v in av.verdicts:
                    self._record(v, now, out)
                if av.blocked or not av.text.strip():
                    continue
                sentence = av.text
            out.append(Synthesize(generation=g.number, segment=g.next_segment, text=sentence))
            g.next_segment += 1
            g.synth_outstanding += 1
        if final and self._playback is not None:
            self._maybe_complete(now, out)

    def _on_synthesized(self, ev: SpeechSynthesized, now: float, out: list[Action]) -> None:
        self._segment_returned(ev.generation, ev.segment, ev, "", now, out)

    def _on_synthesis_failed(self, ev: SynthesisFailed, now: float, out: list[Action]) -> None:
        self._segment_returned(ev.generation, ev.segment, None, ev.reason, now, out)

    def _segment_returned(self, gen: int, segment: int, audio: SpeechSynthesized | None, failure: str,
                          now: float, out: list[Action]) -> None:
        """One TTS segment came back; a failed one (``audio is None``) is skipped. Segments
        of a cancelled generation are ignored."""
        g = self._gen
        if g is None or g.number != gen or g.ready is None:
            return
        g.synth_outstanding -= 1
        g.ready[segment] = audio
        if audio is None:
            self._decide("model", "tts_failed", "synthesis_error", "model.tts", now, out,
                         segment=segment, detail=failure[:200])
        self._drain_ready(g, now, out)

    def _drain_ready(self, g: _Generation, now: float, out: list[Action]) -> None:
        pb = self._playback
        assert pb is not None and g.ready is not None
        while g.next_to_add in g.ready:
            seg = g.ready.pop(g.next_to_add)
            g.next_to_add += 1
            if seg is not None and seg.audio:
                pb.add_segment(seg.segment, seg.text, seg.audio, seg.words, seg.level_db, seg.chunk_levels_db)
        self._maybe_complete(now, out)
        if self.state is State.THINKING and pb.audio:
            self._go(Trigger.FIRST_AUDIO)
            self._decide("turn", "agent_started", "first_audio", "turn.first_audio", now, out,
                         generation=g.number, profile=g.profile)
        if self.state is State.SPEAKING:
            self._pump(now, out)

    def _maybe_complete(self, now: float, out: list[Action]) -> None:
        g, pb = self._gen, self._playback
        if g is None or pb is None:
            return
        if g.model_done and not g.text_buf and g.synth_outstanding == 0 and g.next_to_add == g.next_segment:
            pb.complete = True
            if self.state is State.THINKING and not pb.audio:
                # Nothing to say after all (every segment blocked or failed).
                self._gen, self._playback = None, None
                self._go(Trigger.GENERATION_FAILED)
                self._decide("model", "empty", "no_audio", "model.empty_response", now, out)

    def _pump(self, now: float, out: list[Action]) -> None:
        pb = self._playback
        if pb is None:
            return
        for chunk in pb.pump():
            out.append(SendAudio(payload=chunk.payload))
            out.append(SendMark(name=chunk.mark))

    def _on_mark(self, name: str, now: float, out: list[Action]) -> None:
        pb = self._playback
        if pb is not None and pb.on_mark(name):
            if self.state is State.SPEAKING:
                if pb.done:
                    self.context.append({"role": "assistant", "content": pb.full_text()})
                    if self._pending_transfer is not None:
                        queue, reason, note = self._pending_transfer
                        self._gen, self._playback = None, None
                        self._decide("handoff", "transfer", reason, "handoff.transfer", now, out, queue=queue)
                        self._handoff(queue, note, now, out, reason=reason)
                        return
                    self._go(Trigger.PLAYBACK_DONE)
                    self._echo_tail_until = now + ECHO_TAIL_MS / 1000
                    self._echo_tail_level = pb.echo_reference_db()
                    self._decide("turn", "agent_done", "playback_complete", "turn.playback_done", now, out,
                                 played_ms=pb.heard_ms())
                    self._gen, self._playback = None, None
                else:
                    self._pump(now, out)
            return
        for old in self._retired:
            if old.on_mark(name):
                if not old.flushed:
                    self._retired.remove(old)
                return
        self._decide("transport", "rejected", "unknown_mark", "transport.mark", now, out, mark=name[:64])
