"""A barge-in: the pause between "the caller made a sound over our playback" (we sent
``clear`` at once: stop fast) and its confirmation.

A ``BargeIn`` exists only while the call is paused (and, for a pause that played on
before its final came, until that late final). It holds the pause's evidence and
judges it: ``Abandon`` (a real interruption: the caller has the turn), ``Resume``
(a backchannel, our own echo or noise: play on from the cut), or nothing yet.

Evidence, and what it is worth:
- Words our own recent audio contains are dropped first: on a line without echo
  cancellation the recogniser hears us ("waiting" comes back as "wait").
- Duration: backchannels are short. A sound shorter than ``backchannel_max_ms``
  abandons only on an interrupt phrase ("stop", "wait", "no") that the recogniser
  heard in a partial *and* in the final; a weak recogniser turns "uh-huh" into
  anything once, rarely into the same interrupt word twice. An earlier sound's
  final (``text``) leads every later partial, so it cannot be its own second hearing.
- A longer sound abandons on an interrupt phrase, on two content words (a new
  request), or on a route change with margin (intent drift).
- No words by ``confirm_timeout_ms``: noise or echo; resume.

With ``duck_after_ms`` set, a pause still unconfirmed after that long goes on *ducked*:
the answer continues from the cut, ``duck_db`` lower, until the evidence decides. A
backchannel is then heard as a short gap and a lowered voice, not as the whole pause
(no classifier could tell it from an interruption sooner: see docs/benchmarks.md); a
real interruption hears the clear at once, then the lowered answer under its own words
until they confirm it and a second clear stops it. Resuming from a ducked pause restores
the level without rewinding (the caller heard what played). A sound still going at
``backchannel_max_ms`` is longer than a backchannel: the ducked answer is cleared again
(``Hush``), so a real interrupter hears it under their words for at most that long.
A voice ``duck_rise_db`` louder than the sound we ducked for is cleared at once too:
a quiet sound (a breath, a room) paused us and the caller's voice came after the duck;
the pause starts over from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .actions import Action, ClearPlayback, StartEchoCanceller
from .events import VoiceActivity
from .gatekeeper import CallerTurnVerdict
from .params import TurnParams
from ..audio.mulaw import gain_table
from .playback import BYTES_PER_MS
from .states import State, Trigger
from .utterance import classify_interjection, without_echo, words

if TYPE_CHECKING:
    from .call import Call


@dataclass(frozen=True, slots=True)
class Abandon:
    why: str
    rule: str
    trigger: Trigger
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resume:
    why: str
    rule: str
    hold: bool = False  # the sound goes on: do not pause again for it


@dataclass(frozen=True, slots=True)
class Duck:
    """The pause is still unconfirmed: go on, lowered, while the evidence comes in."""


@dataclass(frozen=True, slots=True)
class Hush:
    """A ducked pause whose sound outlasted a backchannel: silent again until the words decide."""


class BargeIn:
    def __init__(self, params: TurnParams, *, at: float, onset: float, evidence: dict[str, Any]) -> None:
        self.p = params
        self.at = at
        self.onset = onset
        self.evidence = evidence          # what the caller had heard when we paused
        self.confirm_deadline: float | None = at + params.confirm_timeout_ms / 1000
        self.duck_due: float | None = at + params.duck_after_ms / 1000 if params.duck_after_ms > 0 else None
        self.final_requested = False      # the sound ended; its STT final decides
        self.final_due: float | None = None
        self.text = ""                    # finals of this pause's earlier sounds ("stop," before "wait")
        self.loudest_db = -90.0           # the sound we ducked for, at its loudest
        self._interrupt_seen: set[str] = set()  # interrupt words seen in this pause's partials

    def next_deadline(self) -> float | None:
        ds = [d for d in (self.confirm_deadline, self.final_due, self.duck_due) if d is not None]
        return min(ds) if ds else None

    def with_earlier(self, text: str) -> str:
        """This pause's words: its earlier sounds' finals, then ``text``."""
        return (self.text + " " + text).strip()

    def sound_ended(self, now: float) -> None:
        self.final_requested = True
        self.final_due = now + self.p.pause_final_wait_ms / 1000

    def spoke_again(self, text: str, now: float) -> None:
        """The caller spoke again while this final was on its way (under load it can lag
        the next word): the words so far lead the next utterance, whose evidence decides."""
        self.text = text
        self.final_requested = False
        self.confirm_deadline = now + self.p.confirm_timeout_ms / 1000

    def new_words(self, partial: str) -> bool:
        """Did the current utterance's partials add words to the finals of this pause's
        earlier sounds (``text``, which leads every partial)?"""
        return len(words(partial)) > len(words(self.text))

    def interruption(self, text: str, verdict: CallerTurnVerdict, *, final: bool, echo_words: set[str],
                     sound_ms: int) -> Abandon | None:
        """Whether the words heard over our playback are a real interruption."""
        p = self.p
        clean = without_echo(text, echo_words)
        kind, rule, ws = classify_interjection(clean, p)
        long_enough = sound_ms >= p.backchannel_max_ms
        if kind == "interrupt":
            if not final and not long_enough:
                earlier = classify_interjection(without_echo(self.text, echo_words), p)[2]
                self._interrupt_seen.update(w for w in ws if w not in earlier)
                return None
            if long_enough or self._interrupt_seen.intersection(ws):
                return Abandon(kind, rule, Trigger.ABANDON, dict(words=ws[:6], sound_ms=sound_ms))
            return None
        if verdict.drift and long_enough:
            return Abandon("intent_drift", "route.drift_preempt", Trigger.PREEMPT, dict(route=verdict.route))
        if kind == "new_request" and long_enough:
            return Abandon(kind, rule, Trigger.ABANDON, dict(words=ws[:6], sound_ms=sound_ms))
        if final and kind == "unknown" and sound_ms >= p.abandon_speech_ms and self.new_words(text):
            # Sustained speech whose words came only with its final (the partials lagged the
            # sound): the same evidence as the timer's rule in ``due``, one event later.
            return Abandon("sustained_speech", "bargein.sustained_speech", Trigger.ABANDON,
                           dict(words=ws[:6], sound_ms=sound_ms))
        return None

    def louder(self, level_db: float, *, ducked: bool) -> bool:
        """One window of the caller's sound. Before the duck it sets the level we ducked
        for; while ducked, is this window a louder voice than that?"""
        if not ducked:
            self.loudest_db = max(self.loudest_db, level_db)
            return False
        return level_db >= self.loudest_db + self.p.duck_rise_db

    def due(self, now: float, partial: str, *, in_speech: bool, sound_ms: int,
            ducked: bool = False) -> Abandon | Resume | Duck | Hush | None:
        """The pause's timers: the confirm window, sustained speech, the final's wait, the duck."""
        kind, _, ws = classify_interjection(partial, self.p)
        if self.confirm_deadline is not None and now >= self.confirm_deadline:
            if kind == "backchannel" and in_speech and sound_ms < self.p.backchannel_max_ms:
                # "Um", "yeah" from a sound still going: "yeah, but ..." and "um, I want ..."
                # start so. A backchannel ends by backchannel_max_ms; judge it then (or its final).
                self.confirm_deadline = now + (self.p.backchannel_max_ms - sound_ms) / 1000
            else:
                self.confirm_deadline = None
                if not self.final_requested and (kind == "backchannel" or not self.new_words(partial)):
                    # No words after the confirm window: noise or our echo. Resume, and do not
                    # pause again for the same continuing sound. (An earlier sound's final that
                    # leads this utterance is not words of this one: noise that never ends
                    # after a misheard "stop" must not hold us paused.)
                    return Resume("noise" if in_speech else "no_words", "bargein.confirm_timeout", hold=in_speech)
        if in_speech and sound_ms >= self.p.abandon_speech_ms and kind == "unknown" and self.new_words(partial):
            return Abandon("sustained_speech", "bargein.sustained_speech", Trigger.ABANDON, dict(words=ws[:6]))
        if self.final_due is not None and now >= self.final_due:
            if in_speech:
                # The caller talks again while the recogniser lags: never resume over them.
                self.final_due = now + self.p.pause_final_wait_ms / 1000
                return None
            self.final_due = None
            return Resume("no_final", "bargein.final_timeout")
        if self.duck_due is not None and now >= self.duck_due:
            self.duck_due = None
            return Duck()
        if ducked and in_speech and sound_ms >= self.p.backchannel_max_ms:
            return Hush()
        return None


# ---------------------------------------------------------------- the call acts on a pause
def judge(call: Call, text: str, verdict: Any, *, final: bool) -> Abandon | None:
    assert call.pause is not None
    echo = call.gen.playback.recent_words() if call.gen is not None else set()
    return call.pause.interruption(text, verdict, final=final, echo_words=echo, sound_ms=call.sound.sound_ms)


def settle(call: Call, found: Abandon | Resume | Duck | Hush | None, text: str, now: float, out: list[Action],
            **extra: Any) -> None:
    match found:
        case Abandon():
            abandon(call, now, found, out, text, **extra)
        case Resume():
            resume(call, now, found.why, found.rule, out)
            call.sound.hold = found.hold
        case Duck():
            duck(call, now, out)
        case Hush():
            hush(call, now, out)
        case None:
            pass


def duck(call: Call, now: float, out: list[Action]) -> None:
    g, pause = call.gen, call.pause
    if g is None or pause is None or not g.playback.paused:
        return
    pb = g.playback
    pb.duck(gain_table(call.p.duck_db), call.p.duck_lead_ms * BYTES_PER_MS)
    call.log.decide("turn", "duck", "unconfirmed", "bargein.duck", now, out, gap_ms=call.ms(now) - call.ms(pause.at),
                    duck_db=call.p.duck_db, from_ms=pb.played // BYTES_PER_MS, sound_ms=call.sound.sound_ms)
    g.pump(out)


def heard(call: Call, ev: VoiceActivity, now: float, out: list[Action]) -> None:
    """A window of the caller's sound while paused: a louder voice over the ducked answer
    clears it at once and starts the pause's duck over."""
    pause, g = call.pause, call.gen
    if pause is None or g is None or ev.probability < call.p.speech_threshold:
        return  # one window, as a barge-in over our playback (barge_in_start_ms)
    level = ev.level_db if ev.residual_db is None else min(ev.level_db, ev.residual_db)
    if pause.louder(level, ducked=g.playback.ducked):
        hush(call, now, out, why="louder_sound", level_db=round(level, 1), ducked_for_db=round(pause.loudest_db, 1))
        pause.loudest_db = level
        pause.duck_due = now + call.p.duck_after_ms / 1000


def start_pause(call: Call, now: float, onset: float, ev: VoiceActivity, out: list[Action]) -> None:
    assert call.gen is not None
    pb = call.gen.playback
    floor = call.sound.echo_floor_db(pb.echo_reference_db(), now)
    pb.pause()
    call.go(Trigger.BARGE_IN)
    out.append(ClearPlayback(reason="barge_in"))
    call.pause = BargeIn(call.p, at=now, onset=onset,
                         evidence=dict(onset_ms=call.ms(onset), heard_ms=pb.heard_ms(), heard_text=pb.heard_text()))
    call.turn.partial = ""
    call.turn.open_utterance(now, out)
    call.log.decide("turn", "pause", "caller_sound_over_playback", "bargein.stop_fast", now, out,
                    level_db=round(ev.level_db, 1), echo_floor_db=round(floor, 1),
                    **({} if ev.residual_db is None else dict(residual_db=round(ev.residual_db, 1))),
                    erl_db=round(call.sound.erl_db(now), 1), start_ms=call.sound.barge_in_start_ms(now),
                    reaction_ms=call.ms(now) - call.ms(onset), **call.pause.evidence)


def hush(call: Call, now: float, out: list[Action], why: str = "longer_than_backchannel", **evidence: Any) -> None:
    g = call.gen
    if g is None or not g.playback.ducked:
        return
    pb = g.playback
    pb.unduck()
    pb.pause()
    out.append(ClearPlayback(reason=why))
    call.log.decide("turn", "hush", why, "bargein.hush", now, out,
                    sound_ms=call.sound.sound_ms, heard_ms=pb.heard_ms(), **evidence)


def resume(call: Call, now: float, why: str, rule: str, out: list[Action]) -> None:
    g, pause = call.gen, call.pause
    if g is None or pause is None:
        return
    call.turn.close_utterance(out, discard=True)
    pb = g.playback
    ducked = pb.ducked
    if ducked:
        pb.unduck()  # the caller has been hearing it: no rewind, the level comes back
    else:
        pb.resume(call.p.resume_overlap_ms * BYTES_PER_MS)
    call.go(Trigger.RESUME)
    if why in ("noise", "no_words", "no_final"):
        call.sound.false_pause(now)
    # A pause that played on before its final came: the final may still say "stop".
    pause.confirm_deadline = None
    pause.final_due = now + call.p.final_wait_ms / 1000 if why == "no_final" else None
    call.log.decide("turn", "resume", why, rule, now, out, gap_ms=call.ms(now) - call.ms(pause.at),
                    sound_ms=call.sound.sound_ms, words=len(words(call.turn.partial)),
                    resume_from_ms=pb.played // BYTES_PER_MS, echo_windows=call.sound.echo_windows,
                    **({"ducked": True} if ducked else {}))
    call.turn.partial = ""
    g.pump(out)
    if pb.done:
        call.playback_done(now, out)  # it played to its end while ducked
    if call.sound.canceller_due(now):
        erl = round(call.sound.erl_db(now), 1)
        out.append(StartEchoCanceller(erl_db=erl))
        call.log.decide("turn", "echo_canceller", "repeated_false_pauses", "bargein.echo_canceller", now, out,
                        erl_db=erl, within_s=call.p.noise_backoff_s)


def late_final(call: Call, pause: BargeIn, text: str, now: float, out: list[Action]) -> None:
    """The final of a pause we stopped waiting for (``pause_final_wait_ms``) arrived
    after we played on. A real interruption in it is honoured now, with a fresh clear;
    anything else says playing on was right."""
    pause.final_due = None
    verdict = call.gates.caller_text(text, final=False, agent_speaking=True)
    found = judge(call, text, verdict, final=True)
    if found is None or call.gen is None:
        return
    pb = call.gen.playback
    pb.pause()
    call.go(Trigger.BARGE_IN)
    out.append(ClearPlayback(reason="late_final"))
    call.log.decide("turn", "pause", "late_final", "bargein.late_final", now, out,
                    heard_ms=pb.heard_ms(), heard_text=pb.heard_text())
    pause.at = now
    pause.final_requested = True  # the utterance is closed and this is its final
    abandon(call, now, found, out, text, late=True)


def abandon(call: Call, now: float, found: Abandon, out: list[Action], text: str, **extra: Any) -> None:
    pause = call.pause
    assert pause is not None
    pb = call.gen.playback if call.gen is not None else None
    heard = pb.heard_text() if pb else ""
    heard_ms = pb.heard_ms() if pb else 0
    if call.state is State.PAUSED:
        # The sound that paused us had words: the caller's, not evidence of our echo.
        call.sound.forget_since(pause.onset - call.p.caller_lead_in_ms / 1000)
    call.cancel_generation(found.why, out)
    call.go(found.trigger)
    call.log.decide("turn", "abandon", found.why, found.rule, now, out, heard_text=heard, heard_ms=heard_ms,
                    gap_ms=call.ms(now) - call.ms(pause.at), **found.evidence, **extra)
    call.pause = None
    # The caller now has the turn; the words so far are its start.
    t = call.turn
    t.started = pause.at
    t.resumed()
    t.partial = text
    t.forget_logged()
    if pause.final_requested:
        # The utterance is already closed and its final is this text.
        t.pending = text
        if not call.sound.in_speech:
            t.deadline = now
            t.rule = "turn.end.after_interruption"
            return
        # The caller is still talking ("Actually, | I want a refund"): the rest of
        # their words join this turn in a new utterance.
    t.open_utterance(now, out)
