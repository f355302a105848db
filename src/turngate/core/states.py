"""The turn state machine: every legal transition of a call, in one table.

Theory of operation
-------------------
A call is always in exactly one turn state. ``Call.handle`` never assigns a state
directly; it asks ``transition(state, trigger)``, which looks the pair up in
``TRANSITIONS``. A pair that is not in the table raises ``IllegalTransition``: an
event that makes no sense in the current state is a bug or a peer error to be
logged, never a silent no-op. The web console and ``turngate states`` draw the
machine from this table, so the drawing cannot drift from the code.

``paused`` is the state between "the caller made a sound over our playback"
(we sent ``clear`` at once) and the confirmation: a real interruption abandons
the response, a backchannel, our own echo or noise resumes it from the cut.
"""

from __future__ import annotations

from enum import StrEnum

from ..errors import IllegalTransition


class State(StrEnum):
    LISTENING = "listening"
    CALLER_SPEAKING = "caller_speaking"
    THINKING = "thinking"
    SPEAKING = "speaking"
    PAUSED = "paused"
    TRANSFERRING = "transferring"
    ENDED = "ended"


class Trigger(StrEnum):
    SPEECH_START = "speech_start"        # VAD: the caller started speaking
    SPEECH_NOISE = "speech_noise"        # the caller's sound had no words: not a turn
    END_OF_TURN = "end_of_turn"          # the caller's turn is over: respond
    RESPOND = "respond"                  # we take the turn unprompted (greeting, re-prompt)
    FIRST_AUDIO = "first_audio"          # the first audio of a generation went out
    PLAYBACK_DONE = "playback_done"      # every mark of the generation echoed as played
    GENERATION_FAILED = "generation_failed"  # model and fallbacks failed before any audio
    BARGE_IN = "barge_in"                # caller sound over playback: paused, confirming
    RESUME = "resume"                    # backchannel, echo or noise: playback resumes
    ABANDON = "abandon"                  # a real interruption: the caller has the turn
    PREEMPT = "preempt"                  # intent drift over our answer: the caller has the turn
    HANDOFF = "handoff"                  # a human takes the call
    HANGUP = "hangup"                    # the stream stopped


S, T = State, Trigger

TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (S.LISTENING, T.SPEECH_START): S.CALLER_SPEAKING,
    (S.LISTENING, T.RESPOND): S.THINKING,
    (S.CALLER_SPEAKING, T.END_OF_TURN): S.THINKING,
    (S.THINKING, T.FIRST_AUDIO): S.SPEAKING,
    (S.THINKING, T.SPEECH_START): S.CALLER_SPEAKING,
    (S.THINKING, T.GENERATION_FAILED): S.LISTENING,
    (S.THINKING, T.SPEECH_NOISE): S.LISTENING,
    (S.SPEAKING, T.PLAYBACK_DONE): S.LISTENING,
    (S.SPEAKING, T.BARGE_IN): S.PAUSED,
    (S.PAUSED, T.RESUME): S.SPEAKING,
    (S.PAUSED, T.ABANDON): S.CALLER_SPEAKING,
    (S.PAUSED, T.PREEMPT): S.CALLER_SPEAKING,
}

# A handoff is decided on a caller's final (thinking) or on a provider failure
# while we speak; hang-up is legal from every live state.
for _s in (S.THINKING, S.SPEAKING):
    TRANSITIONS[(_s, T.HANDOFF)] = S.TRANSFERRING
for _s in (S.LISTENING, S.CALLER_SPEAKING, S.THINKING, S.SPEAKING, S.PAUSED, S.TRANSFERRING):
    TRANSITIONS[(_s, T.HANGUP)] = S.ENDED
del _s


def transition(state: State, trigger: Trigger) -> State:
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalTransition(str(state), str(trigger)) from None


def to_dot() -> str:
    """The table as Graphviz ``dot``, for the console and the docs."""
    lines = ["digraph turn {", "  rankdir=LR;"]
    for (src, trig), dst in TRANSITIONS.items():
        lines.append(f'  {src} -> {dst} [label="{trig}"];')
    lines.append("}")
    return "\n".join(lines)


def to_text() -> str:
    width = max(len(s) for s in State)
    return "\n".join(
        f"{src:<{width}}  --{trig}-->  {dst}" for (src, trig), dst in TRANSITIONS.items()
    )
