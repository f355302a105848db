"""Turn-taking parameters: one frozen object, loaded from the policy's
``turn_taking`` section (every field optional there) and passed into each Call."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnParams:
    # VAD hysteresis (Silero probability per 32 ms window)
    speech_threshold: float = 0.5
    silence_threshold: float = 0.35
    # A caller turn starts after this much speech; during our playback it is the barge-in onset.
    speech_start_ms: int = 64
    # Over our own playback a pause is cheap (it is confirmed or undone within a few
    # hundred ms), so it starts on the first window that clears the echo floor.
    barge_in_start_ms: int = 32
    noise_backoff_s: float = 6.0        # how long a noise pause makes the next one harder
    # End of turn: silence after speech, adjusted by what the transcript says.
    end_silence_ms: int = 600          # default silence that closes a turn
    end_silence_complete_ms: int = 350  # the transcript reads as a complete question or answer
    end_silence_open_ms: int = 1400     # trailing "and", "um", an unfinished number
    max_turn_ms: int = 20000
    # End-of-turn model (smart-turn, vad/smart_turn.py), asked only at a candidate end: this
    # much silence after the caller's sound (0: never ask; the silences above decide alone).
    # A probability at or over the threshold ends the turn at once, unless the words end
    # open ("and", a number being read); under it the turn waits end_silence_unsure_ms of
    # silence (or more speech). No score (no model, or a slow one): the silences above.
    turn_model_after_ms: int = 0       # off unless the policy turns it on (the bundled one does)
    turn_model_threshold: float = 0.5
    end_silence_unsure_ms: int = 1000
    # At a candidate end the STT utterance is closed too, so its final (and the recogniser's
    # second pass) is computed while the model scores; if the caller goes on, a new
    # utterance opens and the early final is the start of the turn's words.
    final_at_candidate: bool = True
    # Close it sooner: this much silence into a pause (0: at the candidate end). The final's
    # second pass then runs before the model is asked, not beside it.
    final_after_ms: int = 0
    # With that final in hand and the caller silent, the answer starts (model and first
    # synthesis, nothing played) and is kept if the turn ends on the same words and the
    # gates decide the same (core/speculation.py); a caller who goes on drops it.
    speculate: bool = False
    vad_hangover_ms: int = 128         # silence before "speech ended" (bridges short gaps between words)
    preroll_ms: int = 300              # audio from before the VAD onset fed to a new STT utterance
    final_wait_ms: int = 3000          # an STT final that never comes must not hang the call
    # A turn of at least no_words_min_ms of the caller's sound whose transcript came back
    # empty (or never came) is asked again with no_words_reply, so a caller the recogniser
    # missed (noise, a stalled provider) is not left in silence; the Handoff gate hands the
    # call to a person after the policy's handoff.not_understood_limit such turns in a row.
    # An empty reply (off): every such turn is noise, and nothing is said.
    no_words_reply: str = ""
    no_words_min_ms: int = 600
    echo_tail_ms: int = 400            # after our playback ends its echo may still arrive
    caller_lead_in_ms: int = 250       # quiet start of a caller's sound, before the VAD onset
    # Barge-in: pause at once, then confirm.
    barge_in_min_level_over_echo_db: float = 3.0  # caller must be this much above the expected echo (tuned on bench/bargein.py)
    # Expected attenuation of our own audio in the caller channel, until the call has shown
    # its own (core/echo.py learns it while we play; Call._erl_db says when it is used),
    # held to [min, max]: no line is trusted to be cleaner than the max.
    echo_return_loss_db: float = 18.0
    echo_learn: bool = True
    echo_return_loss_min_db: float = 6.0
    echo_return_loss_max_db: float = 45.0
    # A line whose own sound keeps pausing us (this many pauses in a row that played on,
    # each within noise_backoff_s of the last) gets an echo canceller for the rest of the
    # call (speech/echo_canceller.py: it costs ~20x the rest of the hot path, so clean
    # lines never run it); 0 turns it off.
    echo_canceller_after: int = 3
    backchannel_max_ms: int = 700       # a sound shorter than this with no new words may resume
    confirm_timeout_ms: int = 500       # no words after this much pause: resume (noise)
    pause_final_wait_ms: int = 600      # a pause waits this long for its final, then plays on ("no_final")
    pause_hangover_ms: int = 64         # silence that ends the caller's sound while we are paused
    abandon_speech_ms: int = 1200       # sustained speech with words abandons even without a keyword
    resume_overlap_ms: int = 200        # replay this much before the cut point on resume
    # A pause unconfirmed after duck_after_ms goes on from the cut duck_db lower, duck_lead_ms
    # ahead, until resumed (level back) or abandoned (clear). 0: silent until then.
    duck_after_ms: int = 0
    duck_db: float = 15.0
    duck_lead_ms: int = 200
    # While ducked, a voice this much louder than the sound we ducked for is a new sound over
    # the lowered answer (a breath paused us, the caller's voice follows): clear it at once,
    # as any sound over our playback, and duck again only if that one stays unconfirmed.
    duck_rise_db: float = 6.0
    # Provider budgets: a model with no first token by then is failed over (policy decides to
    # what); a generation with no audio by then is failed too, so a stalled TTS never leaves
    # the caller in silence.
    model_ttft_budget_ms: int = 2500
    first_audio_budget_ms: int = 6000
    # Playback: chunk size and how far ahead of the caller's ear we may send.
    chunk_ms: int = 100
    playback_lead_ms: int = 600
    # Words that are backchannels (never interrupt) and that always interrupt.
    backchannels: tuple[str, ...] = (
        "uh huh", "uh-huh", "mm hmm", "mm-hmm", "mhm", "yeah", "yes", "yep", "right",
        "okay", "ok", "sure", "i see", "got it", "alright", "all right", "uh", "um", "hmm",
    )
    interrupt_words: tuple[str, ...] = (
        "stop", "wait", "hold on", "hang on", "no", "nope", "cancel", "excuse me",
        "sorry", "actually", "that's wrong", "that is wrong", "not that",
    )
    open_endings: tuple[str, ...] = field(default=(
        "and", "or", "but", "so", "um", "uh", "er", "because", "the", "a", "to", "my", "is",
    ))
