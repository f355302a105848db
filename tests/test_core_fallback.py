"""Model fallback timelines: the policy decides (hedge at first_token_ms, a chain per
profile), the generation acts; every fallback is a model record with trigger, from, to
and elapsed_ms. Fake clock, no sleeps."""

from __future__ import annotations

from turngate.core import Call, State
from turngate.core.actions import CancelModel, StartModel, Synthesize, TransferCall
from turngate.core.events import (
    CallStarted, FinalTranscript, ModelDone, ModelFailed, ModelTextDelta, PartialTranscript, SpeechSynthesized,
)
from turngate.core.fallback import FallbackPolicy, ModelBudget
from turngate.testing import OpenGatekeeper, Timeline, silence, speech

MS = 8
MODELS = FallbackPolicy(budgets={"low_latency": ModelBudget(first_token_ms=600),
                                 "low_latency_backup": ModelBudget(first_token_ms=900)},
                        chains={"low_latency": ("low_latency_backup", "scripted")})


def kinds(actions, cls):
    return [a for a in actions if isinstance(a, cls)]


class PlayOnGatekeeper(OpenGatekeeper):
    """Gates that, past the chain, neither hand off nor apologise."""

    def generation_failed(self, profile, reason, attempts):
        from turngate.core.gatekeeper import FailureVerdict
        return FailureVerdict(verdicts=())


def asked(models: FallbackPolicy = MODELS, gates: OpenGatekeeper | None = None) -> Timeline:
    """A caller asked a question; the first attempt has started."""
    t = Timeline(Call("CA1", gates=gates or OpenGatekeeper(), models=models))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    t.windows(speech(), 10)
    t.at(PartialTranscript(text="what are your opening hours"))
    t.windows(silence(), 4)
    t.fire_timer()
    t.at(FinalTranscript(text="what are your opening hours"))
    first = kinds(t.actions, StartModel)[-1]
    assert (first.attempt, first.profile) == (1, "low_latency")
    return t


def speak(t: Timeline, gen: int, attempt: int, text: str = "We are open from nine to five. ") -> None:
    t.at(ModelTextDelta(generation=gen, attempt=attempt, text=text))
    s = kinds(t.actions, Synthesize)[-1]
    t.at(SpeechSynthesized(generation=gen, segment=s.segment, text=s.text, audio=b"\x7f" * (2000 * MS)))


def test_a_stalled_first_token_is_hedged_at_first_token_ms_and_the_first_to_stream_wins():
    t = asked()
    started = t.clock.now
    assert abs(t.call.next_deadline() - (started + 0.6)) < 1e-9
    acts = t.fire_timer()
    hedge = kinds(acts, StartModel)[0]
    assert (hedge.attempt, hedge.profile) == (2, "low_latency_backup")
    assert not kinds(acts, CancelModel), "the stalled attempt keeps running: it may still answer first"
    d = t.decisions("model")[-1]
    assert (d.outcome, d.reason) == ("fallback", "first_token_timeout")
    assert d.evidence["trigger"] == "first_token_timeout" and d.evidence["hedged"] is True
    assert (d.evidence["from"], d.evidence["to"], d.evidence["elapsed_ms"]) == ("low_latency", "low_latency_backup", 600)

    acts = t.at(ModelTextDelta(generation=hedge.generation, attempt=2, text="We are open "), 0.05)
    assert CancelModel(generation=hedge.generation, attempt=1, reason="hedge_lost") in acts
    won = t.decisions("model")[-1]
    assert (won.outcome, won.evidence["profile"], won.evidence["ttft_ms"]) == ("hedge_won", "low_latency_backup", 50)
    # The loser's late words are not spoken.
    t.at(ModelTextDelta(generation=hedge.generation, attempt=1, text="Sorry for the wait. "))
    t.at(ModelTextDelta(generation=hedge.generation, attempt=2, text="from nine to five. "))
    assert [s.text for s in kinds(t.actions, Synthesize)] == ["We are open from nine to five."]


def test_the_primary_still_wins_if_it_streams_before_the_hedge():
    t = asked()
    t.fire_timer()
    gen = kinds(t.actions, StartModel)[-1].generation
    acts = t.at(ModelTextDelta(generation=gen, attempt=1, text="Nine to five. "), 0.01)
    assert CancelModel(generation=gen, attempt=2, reason="hedge_lost") in acts


def test_an_error_before_the_first_token_moves_down_the_chain_at_once():
    t = asked()
    gen = kinds(t.actions, StartModel)[-1].generation
    acts = t.at(ModelFailed(generation=gen, attempt=1, reason="HTTP 429", kind="rate_limited"), 0.1)
    nxt = kinds(acts, StartModel)[0]
    assert (nxt.attempt, nxt.profile) == (2, "low_latency_backup")
    d = t.decisions("model")[-1]
    assert (d.reason, d.evidence["trigger"], d.evidence["from"], d.evidence["to"]) == (
        "rate_limited", "rate_limited", "low_latency", "low_latency_backup")
    assert d.evidence["elapsed_ms"] == 100


def test_an_open_circuit_fails_over_like_any_error_and_the_chain_ends_in_the_scripted_agent():
    t = asked()
    gen = kinds(t.actions, StartModel)[-1].generation
    t.at(ModelFailed(generation=gen, attempt=1, reason="breaker open", kind="circuit_open"))
    t.at(ModelFailed(generation=gen, attempt=2, reason="breaker open", kind="circuit_open"))
    last = kinds(t.actions, StartModel)[-1]
    assert (last.attempt, last.profile) == (3, "scripted")
    assert [d.evidence["trigger"] for d in t.decisions("model")] == ["circuit_open", "circuit_open"]


def test_a_chain_run_out_goes_to_the_gates_which_hand_off():
    t = asked(FallbackPolicy(chains={"low_latency": ("low_latency_backup",)}))
    gen = kinds(t.actions, StartModel)[-1].generation
    t.at(ModelFailed(generation=gen, attempt=1, reason="HTTP 503", kind="server_error"))
    t.at(ModelFailed(generation=gen, attempt=2, reason="HTTP 503", kind="server_error"))
    assert t.call.state is State.TRANSFERRING
    assert kinds(t.actions, TransferCall)[-1].reason == "provider_failure"


def test_the_caller_speaking_again_cancels_the_primary_and_the_hedge_alike():
    t = asked()
    t.fire_timer()
    gen = kinds(t.actions, StartModel)[-1].generation
    acts = t.windows(speech(), 3)
    assert t.call.state is State.CALLER_SPEAKING
    assert [a for a in acts if isinstance(a, CancelModel)] == [
        CancelModel(generation=gen, reason="caller_resumed", attempt=None, heard_ms=0)]


def test_an_interruption_cancels_every_attempt_still_streaming():
    t = asked()
    gen = kinds(t.actions, StartModel)[-1].generation
    speak(t, gen, 1)
    t.windows(speech(level_db=-10), 3)  # a sound over our answer: paused
    t.at(PartialTranscript(text="actually I want"))
    t.windows(speech(level_db=-10), 30)  # it goes on, with words: a new request
    t.at(PartialTranscript(text="actually I want to change my booking"))
    cancels = kinds(t.actions, CancelModel)
    assert t.call.state is State.CALLER_SPEAKING
    assert cancels and cancels[-1].attempt is None and cancels[-1].generation == gen


def test_a_failure_mid_answer_continues_from_what_was_said_without_repeating_it():
    t = asked()
    gen = kinds(t.actions, StartModel)[-1].generation
    speak(t, gen, 1)
    assert t.call.state is State.SPEAKING
    acts = t.at(ModelFailed(generation=gen, attempt=1, reason="stream ended without [DONE]", kind="disconnect"))
    cont = kinds(acts, StartModel)[0]
    assert (cont.attempt, cont.profile) == (2, "low_latency_backup")
    assert cont.continue_from == "We are open from nine to five."
    assert t.decisions("model")[-1].evidence["continues"] is True
    t.at(ModelTextDelta(generation=gen, attempt=2, text="On Saturdays until noon. "))
    t.at(ModelDone(generation=gen, attempt=2))
    assert [s.text for s in kinds(t.actions, Synthesize)] == ["We are open from nine to five.",
                                                               "On Saturdays until noon."]


def test_a_continuation_that_never_streams_ends_the_answer_with_what_was_said():
    t = asked(FallbackPolicy(chains={"low_latency": ("low_latency_backup",)}), PlayOnGatekeeper())
    gen = kinds(t.actions, StartModel)[-1].generation
    speak(t, gen, 1)
    t.at(ModelFailed(generation=gen, attempt=1, reason="reset", kind="disconnect"))
    acts = t.fire_timer()  # the continuation's first-token budget
    assert CancelModel(generation=gen, reason="ttft_budget") in acts
    assert t.call.gen is not None and t.call.gen.playback.complete, "the answer ends after what was said"


def test_usage_of_a_finished_stream_is_kept_as_a_model_record():
    t = asked()
    gen = kinds(t.actions, StartModel)[-1].generation
    t.at(ModelTextDelta(generation=gen, attempt=1, text="Nine to five. "))
    t.at(ModelDone(generation=gen, attempt=1, usage=(("ttft_ms", 180), ("completion_tokens", 4))))
    d = t.decisions("model")[-1]
    assert (d.outcome, d.evidence["ttft_ms"], d.evidence["completion_tokens"]) == ("completed", 180, 4)


def test_a_turn_the_guard_redacted_asks_for_no_caller_audio_to_reach_the_model():
    from turngate.core.decisions import Verdict
    from turngate.core.gatekeeper import CallerTurnVerdict

    class Redacting(OpenGatekeeper):
        def caller_text(self, text, *, final, agent_speaking, stt_confidence=None):
            v = super().caller_text(text, final=final, agent_speaking=agent_speaking)
            if not final:
                return v
            guard = Verdict(gate="guard", outcome="redact", reason="card_number", rule="guard.pii.card")
            return CallerTurnVerdict(verdicts=v.verdicts + (guard,), redacted="my card is [CARD]",
                                     action=v.action, route=v.route, profile=v.profile)

    t = Timeline(Call("CA1", gates=Redacting(), models=MODELS))
    t.at(CallStarted(call_id="CA1", stream_sid="MZ1"))
    t.at(FinalTranscript(text="my card is four one one one"), 0.1)  # not awaited: ignored
    acts = t.call.take_turn("my card is four one one one", t.clock.now)
    start = kinds(acts, StartModel)[0]
    assert start.send_audio is False and start.context[-1]["content"] == "my card is [CARD]"
    assert asked().call.gen is not None and kinds(asked().actions, StartModel)[0].send_audio is True


class PromiseGuard(OpenGatekeeper):
    """An output guard that blocks any promise of a refund."""

    def agent_text(self, text):
        from turngate.core.decisions import Verdict
        from turngate.core.gatekeeper import AgentTextVerdict
        if "refund" in text.lower():
            return AgentTextVerdict(verdicts=(Verdict(gate="guard", outcome="block", reason="unauthorised_promise",
                                                      rule="guard.output.promise"),), text="", blocked=True)
        return AgentTextVerdict(verdicts=(), text=text)


def test_an_answer_the_output_guard_blocks_is_taken_over_by_the_next_profile():
    t = asked(gates=PromiseGuard())
    gen = kinds(t.actions, StartModel)[-1].generation
    acts = t.at(ModelTextDelta(generation=gen, attempt=1, text="Sure. I will refund you in full today. Anything else?"))
    assert [s.text for s in kinds(acts, Synthesize)] == ["Sure."], "what came before the blocked sentence is said"
    assert CancelModel(generation=gen, attempt=1, reason="output_guard") in acts
    nxt = kinds(acts, StartModel)[0]
    assert (nxt.attempt, nxt.profile, nxt.continue_from) == (2, "low_latency_backup", "Sure.")
    d = t.decisions("model")[-1]
    assert (d.outcome, d.reason, d.evidence["from"], d.evidence["to"]) == (
        "fallback", "output_guard", "low_latency", "low_latency_backup")
    t.at(ModelTextDelta(generation=gen, attempt=2, text="A colleague will call you back. You will hear by Friday."))
    t.at(ModelDone(generation=gen, attempt=2))
    assert [s.text for s in kinds(t.actions, Synthesize)] == [
        "Sure.", "A colleague will call you back.", "You will hear by Friday."]


def test_with_no_profile_to_take_over_the_blocked_sentence_is_dropped_and_the_answer_goes_on():
    t = asked(FallbackPolicy(), gates=PromiseGuard())
    gen = kinds(t.actions, StartModel)[-1].generation
    t.at(ModelTextDelta(generation=gen, attempt=1, text="Sure. I will refund you today. Anything else?"))
    t.at(ModelDone(generation=gen, attempt=1))
    assert [s.text for s in kinds(t.actions, Synthesize)] == ["Sure.", "Anything else?"]
    assert not [a for a in t.actions if isinstance(a, CancelModel)]
