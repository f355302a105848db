"""The call's side of an answer: from the gates' verdict on the caller's words to the
generation's last segment, with model fallback.

These functions act on a ``Call`` (its state, context, log and current
``Generation``); they are the call's, kept apart from the caller-side logic in
``call.py``. Fallback reads like the outbox's retry policy: ``FallbackPolicy``
(``fallback.py``) and, past its chain, the gates decide; the functions here act.

Every fallback is a ``model`` record whose evidence holds ``trigger``, ``from``,
``to`` and ``elapsed_ms``; ``turngate calls why`` answers "when did model fallback
occur, and why?" from them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from . import speculation
from .actions import Action, CancelModel, CancelSynthesis, StartModel
from .events import ModelDone, ModelFailed, ModelTextDelta, SpeechSynthesized, SynthesisFailed
from .gatekeeper import CallerTurnVerdict
from .generation import Attempt, Generation
from .states import State, Trigger

if TYPE_CHECKING:
    from .call import Call

Answer = ModelTextDelta | ModelDone | ModelFailed | SpeechSynthesized | SynthesisFailed


def answer(call: Call, text: str, now: float, out: list[Action], *, stt_confidence: float | None = None) -> None:
    """The caller's turn is final: the gates decide, and the call answers, hands off or asks.
    ``stt_confidence``: the recogniser's in these words (None: no measure), which model
    selection may read as an uncertain turn."""
    call.turn.answered = (text, stt_confidence)  # until the answer plays (Call.go)
    verdict = call.gates.caller_text(text, final=True, agent_speaking=False, stt_confidence=stt_confidence)
    call.record_all(verdict.verdicts, now, out)
    call.queue_follow_ups(verdict.follow_ups, out)
    call.context.append({"role": "user", "content": verdict.redacted})
    if speculation.adopt(call, text, verdict, now, out):
        assert call.gen is not None
        _first_audio(call, call.gen, now, out)
        return
    match verdict.action:
        case "handoff":
            reason = next((v.reason for v in verdict.verdicts if v.gate == "handoff"), "handoff")
            hand_over(call, verdict.queue, reason, verdict.note, verdict.reply, verdict.route, now, out)
        case "say":
            start_scripted(call, verdict.reply, verdict.route, now, out)
        case "respond" | "none":
            begin_model(call, verdict, tuple(call.context), now, out)
        case other:
            raise ValueError(f"unknown gate action {other!r}")


def hand_over(call: Call, queue: str, reason: str, note: str, reply: str, route: str, now: float,
              out: list[Action]) -> None:
    """To a person on ``queue``: told first with ``reply`` (the transfer follows when it has
    played), or at once without one."""
    if reply:
        call.announce_transfer(queue, reason, note, out)
        start_scripted(call, reply, route, now, out)
    else:
        call.handoff(queue, note, now, out, reason=reason)


def begin_model(call: Call, verdict: CallerTurnVerdict, context: tuple[dict[str, str], ...], now: float,
                out: list[Action]) -> Generation:
    """A model answers ``verdict``'s route with ``context`` (the conversation, the caller's
    turn last)."""
    g = call.new_generation(verdict.route, verdict.profile, scripted=False, now=now)
    g.memory = verdict.memory
    # Audio of a turn the guard redacted must not reach a speech-to-speech model.
    g.audio_ok = not any(v.gate == "guard" and v.outcome != "allow" for v in verdict.verdicts)
    _start_attempt(call, g, verdict.profile, now, out, context=context)
    return g


def start_scripted(call: Call, text: str, route: str, now: float, out: list[Action]) -> Generation:
    g = call.new_generation(route, "scripted", scripted=True, now=now)
    g.text_buf = text
    _flush(call, g, now, out, final=True)
    return g


def _start_attempt(call: Call, g: Generation, profile: str, now: float, out: list[Action], *,
                   context: tuple[dict[str, str], ...] | None = None) -> Attempt:
    a = g.start_attempt(profile, now)
    msgs = call.context if context is None else context
    out.append(StartModel(generation=g.number, attempt=a.number, context=tuple(dict(m) for m in msgs),
                          route=g.route, profile=profile, memory=g.memory, continue_from=g.said,
                          send_audio=g.audio_ok))
    return a


def on_event(call: Call, ev: Answer, now: float, out: list[Action]) -> None:
    g = call.gen
    if g is None or g.number != ev.generation:
        return  # a cancelled generation's tail
    if call.spec is not None and (isinstance(ev, (ModelFailed, SynthesisFailed))
                                  or (isinstance(ev, ModelDone) and g.winner is None)):
        # A draft that failed is dropped; the turn, once over, is answered the ordinary way
        # (with the fallback chain and the gates deciding what a failure means).
        speculation.drop(call, "provider_failed", now, out)
        return
    match ev:
        case ModelTextDelta():
            a = g.live_attempt(ev.attempt)
            if a is None or g.scripted:
                return
            losers = g.take_text(a, ev.text)
            if losers is None:
                return
            for lost in losers:
                out.append(CancelModel(generation=g.number, attempt=lost.number, reason="hedge_lost"))
            if losers:
                call.log.decide("model", "hedge_won", "first_token", "model.hedge", now, out, profile=a.profile,
                                attempt=a.number, lost=[x.profile for x in losers],
                                ttft_ms=call.ms(now) - call.ms(a.started_at))
            _flush(call, g, now, out, final=False)
        case ModelDone():
            a = g.live_attempt(ev.attempt)
            if a is None:
                return
            a.active = False
            if g.winner is not a:  # ended without a word
                _failed(call, g, a, "empty_response", "error", now, out)
                return
            if ev.usage:
                call.log.decide("model", "completed", "stream_done", "model.usage", now, out,
                                profile=a.profile, attempt=a.number, **dict(ev.usage))
            g.model_done = True
            if _flush(call, g, now, out, final=True):
                return
            if g.segments.asked == 0:
                _failed(call, g, a, "empty_response", "error", now, out)
            else:
                _maybe_complete(call, now, out)
        case ModelFailed():
            a = g.live_attempt(ev.attempt)
            if a is not None:
                a.active = False
                _failed(call, g, a, ev.reason, ev.kind, now, out)
        case SpeechSynthesized() | SynthesisFailed():
            g.segments.returned(ev.segment, ev if isinstance(ev, SpeechSynthesized) else None)
            if isinstance(ev, SynthesisFailed):
                call.log.decide("model", "tts_failed", "synthesis_error", "model.tts", now, out,
                                segment=ev.segment, detail=ev.reason[:200])
            g.add_returned()
            _maybe_complete(call, now, out)
            _first_audio(call, g, now, out)


def _first_audio(call: Call, g: Generation, now: float, out: list[Action]) -> None:
    """Audio of the answer is there: while we were thinking, it starts now; while we
    speak, it follows what is playing. (A speculative answer waits, unplayed.)"""
    if call.state is State.THINKING and g.playback.audio:
        call.go(Trigger.FIRST_AUDIO)
        call.log.decide("turn", "agent_started", "first_audio", "turn.first_audio", now, out,
                        generation=g.number, profile=g.profile)
    if call.state is State.SPEAKING:
        g.pump(out)


def _failed(call: Call, g: Generation, a: Attempt, reason: str, kind: str, now: float, out: list[Action]) -> None:
    """An attempt failed. While a hedge still runs, it may yet answer; else fall back."""
    if g.winner is None and g.model_active:
        call.log.decide("model", "attempt_failed", kind, "model.attempt_failed", now, out,
                        profile=a.profile, attempt=a.number, error=reason[:120])
        return
    audio_out = g.playback.sent > 0
    nxt = call.models.next_profile(g.root, g.tried)
    if nxt is not None:
        _fallback(call, g, a.profile, nxt, kind, now, out, error=reason[:120])
        return
    fv = call.gates.generation_failed(a.profile, reason, max(1, len(g.attempts)))
    for v in fv.verdicts:
        if v.gate == "model":
            v = replace(v, evidence={**v.evidence, "trigger": kind, "elapsed_ms": call.ms(now) - call.ms(g.started_at)})
        call.log.record(v, now, out)
    call.queue_follow_ups(fv.follow_ups, out)
    if fv.fallback_profile and fv.fallback_profile not in g.tried and not audio_out:
        _start_attempt(call, _fresh(call, g, now), fv.fallback_profile, now, out)
    elif fv.queue:
        call.handoff(fv.queue, fv.note, now, out, reason="provider_failure")
    elif fv.reply and not audio_out:
        call.gen = None
        start_scripted(call, fv.reply, g.route, now, out)
    elif not audio_out and call.state is State.THINKING:
        call.gen = None
        call.go(Trigger.GENERATION_FAILED)
    elif audio_out:
        # Nothing more to say: what was said stands, and the answer ends there.
        g.model_done, g.text_buf = True, ""
        _maybe_complete(call, now, out)


def _fallback(call: Call, g: Generation, frm: str, to: str, trigger: str, now: float, out: list[Action],
              **evidence: object) -> None:
    call.log.decide("model", "fallback", trigger, "model.fallback_chain", now, out, trigger=trigger,
                    to=to, elapsed_ms=call.ms(now) - call.ms(g.started_at), attempt=len(g.attempts) + 1,
                    continues=bool(g.said), **{"from": frm}, **evidence)
    _start_attempt(call, _fresh(call, g, now), to, now, out)


def _fresh(call: Call, g: Generation, now: float) -> Generation:
    """The generation a fallback attempt runs in: the same one (a hedge, or a continuation
    after words the caller heard), unless nothing of it can play: a fixed reply, or TTS
    segments given up on."""
    if not (g.scripted or g.segments.abandoned) or g.playback.sent:
        return g
    call.gen = g.successor(call.next_generation_number(), now, call.p)
    return call.gen


def _flush(call: Call, g: Generation, now: float, out: list[Action], *, final: bool) -> bool:
    """Sentences to TTS. True if the output guard blocked one and another profile took over."""
    while g.flush(call.gates, call.log, now, out, final=final):
        a = g.winner
        nxt = call.models.next_profile(g.root, g.tried) if a is not None else None
        if a is not None and nxt is not None:
            # The model said what this route may not (a promise, a figure it must not give):
            # its stream stops, and the next profile answers, after what was already said.
            if a.active:
                out.append(CancelModel(generation=g.number, attempt=a.number, reason="output_guard"))
                a.active = False
            _fallback(call, g, a.profile, nxt, "output_guard", now, out)
            return True
        # No profile to take over: the blocked sentence is dropped and the answer goes on.
    if final:
        _maybe_complete(call, now, out)
    return False


def _maybe_complete(call: Call, now: float, out: list[Action]) -> None:
    g = call.gen
    if g is None or not g.finished:
        return
    g.playback.complete = True
    if call.state is State.SPEAKING:
        call.play_on(now, out)  # the held-back last chunk goes, or the answer ends here
        return
    if call.state is State.THINKING and not g.playback.audio:
        # Nothing to say after all: every sentence failed in TTS or was blocked by the
        # output guard. The caller asked and would hear silence: this is a failed answer,
        # and the fallback chain and the gates decide what follows (another profile, a
        # fixed reply, a person), on a fresh generation with nothing said.
        call.log.decide("model", "empty", "no_audio", "model.empty_response", now, out)
        a = g.latest or Attempt(0, g.profile, g.started_at)
        call.gen = g.successor(call.next_generation_number(), now, call.p)
        _failed(call, call.gen, a, "no_audio", "error", now, out)


def deadlines(call: Call) -> list[float]:
    """The answer's budgets: a hedge at the latest attempt's ``first_token_ms``, the hard
    time-to-first-token budget, and (before any audio) the first-audio budget."""
    g = call.gen
    if g is None or (g.winner is not None and call.state is not State.THINKING) \
            or call.state in (State.PAUSED, State.TRANSFERRING, State.ENDED, State.CALLER_SPEAKING):
        # The common case, per VAD window while we speak: nothing due. A speculative answer
        # (the caller's turn is not over) has its budgets checked once it is adopted.
        return []
    out = []
    a = g.latest
    if a is not None and a.active and g.winner is None:
        if (hedge := _hedge_at(call, g, a)) is not None:
            out.append(hedge)
        out.append(a.started_at + call.p.model_ttft_budget_ms / 1000)
    if call.state is State.THINKING:
        out.append(g.last_start + call.p.first_audio_budget_ms / 1000)
    return out


def _hedge_at(call: Call, g: Generation, a: Attempt) -> float | None:
    ms = call.models.budget(a.profile).first_token_ms
    if ms is None or call.models.next_profile(g.root, g.tried) is None:
        return None
    return a.started_at + ms / 1000


def check_budgets(call: Call, now: float, out: list[Action]) -> bool:
    """Act on a budget that ran out. True if one did."""
    g = call.gen
    if g is None or call.state in (State.PAUSED, State.TRANSFERRING, State.ENDED):
        return False
    a = g.latest
    if a is not None and a.active and g.winner is None:
        hedge = _hedge_at(call, g, a)
        if hedge is not None and now >= hedge:
            # The stalled attempt keeps running: whichever streams first wins.
            nxt = call.models.next_profile(g.root, g.tried)
            assert nxt is not None
            _fallback(call, g, a.profile, nxt, "first_token_timeout", now, out, hedged=True,
                      budget_ms=call.models.budget(a.profile).first_token_ms)
            return True
        if now >= a.started_at + call.p.model_ttft_budget_ms / 1000:
            out.append(CancelModel(generation=g.number, reason="ttft_budget"))
            for x in g.attempts.values():
                x.active = False
            call.log.decide("model", "timeout", "ttft_budget_exceeded", "model.ttft_budget", now, out,
                            generation=g.number, profile=a.profile, budget_ms=call.p.model_ttft_budget_ms)
            _failed(call, g, a, "ttft_budget_exceeded", "timeout", now, out)
            return True
    if call.state is State.THINKING and now >= g.last_start + call.p.first_audio_budget_ms / 1000:
        if g.model_active:
            out.append(CancelModel(generation=g.number, reason="first_audio_budget"))
        if g.segments.outstanding:
            out.append(CancelSynthesis(generation=g.number, reason="first_audio_budget"))
        for x in g.attempts.values():
            x.active = False
        g.segments.give_up()
        call.log.decide("model", "timeout", "first_audio_budget_exceeded", "model.first_audio_budget", now,
                        out, generation=g.number, profile=g.profile, budget_ms=call.p.first_audio_budget_ms)
        _failed(call, g, g.latest or Attempt(0, g.profile, g.started_at), "first_audio_budget_exceeded",
                "timeout", now, out)
        return True
    return False
