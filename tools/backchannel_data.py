"""The synthetic caller utterances the backchannel classifier learns from and is measured on
(``tools/train_backchannel.py``, ``bench/backchannel.py``): the phrases, the voices of each
split, and the simulated phone line they are put on. See the training script's docstring for
why both classes come from the same voices and which voices are held out.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bargein import BOT_TEXTS, DATA, active_gain, read_8k, voiced_onset  # noqa: E402
from turngate.audio import mulaw  # noqa: E402
from turngate.audio.backchannel import LEAD_MS  # noqa: E402

SEED = 13
JITTER_MS = 30
PRE_MS = 300                  # silence (plus line noise/echo) before each utterance
POST_MS = 400                 # kept after the onset (the largest decision point plus jitter)

# "mm-hmm" is written "um hum": flite spells "mm" as letters and espeak-ng reads "mm hmm" as
# "em em hum"; "um hum" and "hmm" are how both say the hummed sound.
BACKCHANNELS = (
    "uh-huh", "yeah", "okay", "right", "um hum", "sure", "yes", "I see",
    "yep", "yeah yeah", "hmm", "alright", "got it", "oh okay", "uh huh yeah", "right right",
    "okay yeah", "oh", "true", "exactly", "yes yes", "sure sure", "oh I see", "ok",
)
INTERRUPTIONS_A = (      # training and validation voices
    "wait", "stop", "no", "hold on", "excuse me", "sorry what was that",
    "actually I wanted to change the date", "yeah but I need", "okay so can you",
    "no that's the wrong card", "wait a second", "can I ask something", "that's not right",
    "I need to speak to someone", "no I said Tuesday", "hold on let me get a pen",
    "sorry can you repeat that", "what about next week", "okay but what time",
    "yes but the payment failed", "right so how much is it", "stop stop", "no thanks",
    "I have a question", "could you say that again", "actually", "I think you misheard",
    "let me stop you there", "I already paid that", "please cancel it", "wrong account",
    "what", "hello", "can you hear me", "sure but can I change it", "is that the earliest",
    "that's too late for me", "I don't want that", "my card number changed", "speak to an agent",
)
INTERRUPTIONS_B = (      # held-out voices only
    "hang on", "no no", "sorry", "pardon", "one moment please", "wait I didn't get that",
    "yeah no that's wrong", "okay hold on a second", "no I meant the other one",
    "sorry to interrupt but", "can you go back", "that's not what I asked", "I want a refund",
    "how much was that", "representative", "just a minute", "excuse me can I",
    "right but I need it sooner", "yes I have a question", "no stop", "what did you say",
    "could you slow down", "I'd like to change my address", "okay so what do I do now",
    "actually never mind that", "sure but not Friday", "hmm no that won't work", "oh wait",
    "listen", "hey",
)


@dataclass(frozen=True)
class Voice:
    engine: str          # flite | espeak
    name: str            # flite voice, or espeak-ng voice+variant


TRAIN_VOICES = (
    Voice("flite", "kal"),
    Voice("espeak", "en-us+m1"), Voice("espeak", "en-us+m3"), Voice("espeak", "en-us+f1"),
    Voice("espeak", "en-us+f3"), Voice("espeak", "en-gb+m5"), Voice("espeak", "en-gb+f5"),
    Voice("espeak", "en-gb-scotland+m7"), Voice("espeak", "en-029+f2"),
)
VALIDATION_VOICES = (
    Voice("flite", "kal16"),
    Voice("espeak", "en-us+m2"), Voice("espeak", "en-us+f4"), Voice("espeak", "en-gb+m4"),
    Voice("espeak", "en-gb-x-rp+f1"), Voice("espeak", "en-029+m6"),
)
HELDOUT_VOICES = (Voice("flite", "rms"), Voice("flite", "slt"), Voice("flite", "awb"))
CONDITIONS = ("clean", "noise", "echo", "noise+echo")


@dataclass
class Utterance:
    """One utterance on the line: ``audio`` (8 kHz, int16 scale, after mu-law) holds it from
    PRE_MS before to POST_MS after ``onset`` (a sample index)."""

    label: int           # 1 backchannel, 0 interruption
    text: str
    voice: str
    condition: str
    audio: np.ndarray
    onset: int
    source: str          # synthetic: flite/espeak; real: ami, voxconverse, read


def _seed(*parts: object) -> int:
    return zlib.crc32(repr((SEED,) + parts).encode())


def _read_wav(path: str) -> np.ndarray:
    import soxr

    with wave.open(path) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)
    return soxr.resample(x, rate, 8000, quality="HQ") if rate != 8000 else x


def synthesize(voice: Voice, text: str, rng: np.random.Generator) -> np.ndarray:
    """``text`` in ``voice`` with a random speed and pitch, 8 kHz float (int16 scale)."""
    fd, path = tempfile.mkstemp(suffix=".wav")
    try:
        if voice.engine == "flite":
            stretch = rng.uniform(0.8, 1.2)
            cmd = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch:.3f}"]
            if voice.name.startswith("kal"):      # diphone voices take a pitch target
                cmd += ["--setf", f"int_f0_target_mean={rng.uniform(85, 135):.0f}"]
            cmd += ["-t", text, "-o", path]
        else:
            cmd = ["espeak-ng", "-v", voice.name, "-s", str(int(rng.uniform(140, 210))),
                   "-p", str(int(rng.uniform(25, 75))), "-w", path, text]
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        return _read_wav(path)
    finally:
        Path(path).unlink(missing_ok=True)


class Line:
    """The simulated phone line: noise beds and our bot's echo, mixed in, then mu-law."""

    def __init__(self) -> None:
        from turngate.speech.flite_tts import FliteTts

        self.noise = [read_8k(DATA / "noise" / n) for n in ("doing_the_dishes.wav", "exercise_bike.wav")]
        kal = FliteTts("kal")
        self.bot = [mulaw.decode(kal.synthesize(t).audio).astype(np.float32) for t in BOT_TEXTS]
        self.bot = [b * active_gain(b, -20.0) for b in self.bot]

    def put(self, clean: np.ndarray, condition: str, rng: np.random.Generator) -> tuple[np.ndarray, int] | None:
        """The utterance at a random level with PRE_MS before its onset, through ``condition``
        and mu-law: (audio from PRE_MS before the onset to POST_MS after, onset index)."""
        if len(clean) < 400 or np.max(np.abs(clean)) < 1.0:
            return None
        on = voiced_onset(clean, 0) * 8
        x = clean * active_gain(clean[on:], rng.uniform(-35.0, -20.0))
        pre, post = PRE_MS * 8, POST_MS * 8
        seg = np.zeros(pre + post, np.float32)
        part = x[on: on + post]
        lead = x[max(0, on - pre): on]
        seg[pre - len(lead): pre] = lead
        seg[pre: pre + len(part)] = part
        return self.mix(seg, condition, rng), pre

    def mix(self, seg: np.ndarray, condition: str, rng: np.random.Generator) -> np.ndarray:
        """``seg`` with a noise bed (-45 dBFS) and/or our bot's echo (12-18 dB below the bot's
        -20 dBFS) as ``condition`` says, through mu-law. The scorer never sees what we played,
        so the echo's delay only picks where in the bot's answer the echo comes from."""
        n = len(seg)
        if "noise" in condition:
            src = self.noise[int(rng.integers(len(self.noise)))]
            a = int(rng.integers(0, len(src) - n))
            bed = src[a: a + n].astype(np.float32)
            seg = seg + bed * (10 ** (-45.0 / 20) * 32768 / np.sqrt(np.mean(bed ** 2) + 1e-9))
        if "echo" in condition:
            bot = self.bot[int(rng.integers(len(self.bot)))]
            delay = int(rng.uniform(120, 250)) * 8
            a = int(rng.integers(8000, len(bot) - n - delay))
            seg = seg + bot[a - delay: a - delay + n] * 10 ** (-rng.uniform(12.0, 18.0) / 20)
        pcm = np.clip(np.round(seg), -32768, 32767).astype(np.int16)
        return mulaw.decode(mulaw.encode(pcm)).astype(np.float32)


def synthetic_set(voices: tuple[Voice, ...], interruptions: tuple[str, ...], line: Line,
                  split: str, *, repeats_bc: int = 3, repeats_int: int = 2) -> list[Utterance]:
    """Every phrase in every voice (backchannels ``repeats_bc`` times, with different speed,
    pitch, level and line), each in one of the four line conditions in turn."""
    out: list[Utterance] = []
    k = 0
    for v in voices:
        for label, phrases, reps in ((1, BACKCHANNELS, repeats_bc), (0, interruptions, repeats_int)):
            for text in phrases:
                for r in range(reps):
                    rng = np.random.default_rng(_seed(split, v.engine, v.name, text, r))
                    clean = synthesize(v, text, rng)
                    cond = CONDITIONS[k % len(CONDITIONS)]
                    k += 1
                    put = line.put(clean, cond, rng)
                    if put is None:
                        continue
                    audio, on = put
                    out.append(Utterance(label, text, f"{v.engine}:{v.name}", cond, audio, on, v.engine))
    return out


def clip(u: Utterance, t_ms: int, jitter_ms: int = 0) -> np.ndarray:
    """What the scorer sees at decision point ``t_ms``: LEAD_MS before the (jittered) onset to t."""
    on = u.onset + jitter_ms * 8
    return u.audio[max(0, on - LEAD_MS * 8): on + t_ms * 8]


def jitter_ms(split: str, i: int, t_ms: int) -> int:
    """The onset shift of utterance ``i`` at ``t_ms`` in training, within +-JITTER_MS (seeded)."""
    return int(np.random.default_rng(_seed(split, "jitter", i, t_ms)).integers(-JITTER_MS, JITTER_MS + 1))
