"""Barge-in on real speech: how fast we stop, and whether we stop for the right reasons.

Every case is one call on the audio clock (``turngate.testing.harness.AudioHarness``: real mu-law,
the batched Silero VAD behind its WebRTC pre-gate, the embedded pocketsphinx STT, the call
core, Twilio-like playout with marks and ``clear``, and an echo path). The bot is speaking
one of three long flite answers (voice ``kal``, about -20 dBFS) from t = 0; the caller's channel carries:

real interruptions, caller speech onset at t = 1.0 s into the bot's answer (up to 2.5 s of it):
  - ``voxconverse``: the 8 kHz debate ``aepyx``, every labelled turn start (RTTM) that follows
    >= 0.3 s without speech, from 0.3 s before the label; onset = the label
  - ``ami``: the AMI meeting mixes (16 kHz, resampled), turn starts after >= 0.3 s of no one
    speaking (RTTM); onset = the label
  - ``read``: ``cmu_arctic`` and ``librivox_pocketsphinx`` clips; onset = first 10 ms frame
    within 30 dB of the clip's loudest (the clips carry their own lead-in silence)
  each in four conditions: ``clean``; ``noise`` (dishes or exercise-bike noise from
  ``audio/noise`` at -45 dBFS under the whole call); ``echo`` (our playback leaking back
  18 dB down with 120 ms delay: a line with no echo canceller but a fair hybrid);
  ``noise+echo``.
not interruptions:
  - ``backchannel``: "uh-huh", "yeah", "okay", "right", "mm-hmm", "sure", "yes", "I see"
    ("mm-hmm" written "um hum": flite spells "mm-hmm" out as letters)
    spoken by three flite voices other than the bot's (``rms``, ``slt``, ``awb``), clean and
    with noise+echo. Synthetic: there is no free set of isolated real backchannels.
  - ``echo``: only our own echo on the line, 18 dB and 12 dB down, 120 ms and 250 ms delay;
    and ``echo_hybrid``: 12 dB down, 150 ms, through 8 ms of a hybrid's dispersion
    (``echo_stops_per_min_hybrid``; no other key counts these cases).
  - ``noise``: 2.5 s of dishes or exercise bike at -45 and -35 dBFS starting at t = 1.0 s.
  - ``backchannel_pair``: two different backchannels of one voice, the second 600 or 1200 ms
    after the first ends ("uh-huh ... okay"), clean and with noise+echo: what a caller who
    nods along twice does to a rule that joins sounds into one interjection
    (``interjection_gap_ms``). Reported on their own (``backchannel_pairs_abandoned`` of
    ``backchannel_pairs``, ``backchannel_pair_gap_ms_p90``); no other key counts them.
Caller speech is scaled to -26 dBFS active level (ITU-T nominal) and everything goes
through mu-law.

Reported (audio time): reaction = caller speech onset -> ``clear`` sent; abandon rate on real
interruptions; false-abandon rate on backchannels, echo and noise; resume gap = ``clear`` ->
playback resumes on those, and whether any audio was lost (the resume point must not be
after what the caller heard at the pause).

Also: ``reaction_ms_*_voiced``, the reaction from the *voiced* onset (the first 30 ms of the
caller's voice within 20 dB of its loudest, as a listener on the line hears it; the labelled
turn starts of AMI and VoxConverse precede it by 250-500 ms); ``audible_gap_ms_p90``, the
silences in our audio as the caller heard them on backchannels, noise and echo (from the
simulated phone's played spans, not from decisions; a pause never resumed counts to the end
of the clip); ``talkover_ms_p90_real``, our audio a real interrupter still hears after our
first stop until the abandon, on the interruptions abandoned (a resume before the words came,
or a ducked answer under them until confirmed: ``duck_after_ms``),
and ``ducked_ms_p90``, how long a non-interruption heard us lowered;
``echo_stops_per_min`` on the 12 dB echo-only cases; ``false_pauses``, every
pause on a sound that was not an interruption (backchannels, echo, noise); and every key again as
``heldout_*`` on the held-out half of the cases: sources alternate between a tuning half
(even) and a held-out half (odd), each source with all its conditions in one half. Tune
parameters on the tuning half (``--half tune``) and report the held-out figures beside.

    .venv/bin/python bench/bargein.py [--quick] [--param NAME=VALUE] [--trace SOURCE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "audio"
sys.path.insert(0, str(ROOT / "src"))

from turngate.audio import mulaw  # noqa: E402
from turngate.core.params import TurnParams  # noqa: E402
from turngate.testing.harness import AudioHarness, EchoSpec  # noqa: E402
from turngate.speech.flite_tts import FliteTts  # noqa: E402
from turngate.speech.lm import phrases_in  # noqa: E402
from turngate.speech.pocketsphinx_stt import PocketsphinxEngine  # noqa: E402
from turngate.vad import SileroBatch  # noqa: E402

LEAD_MS = 1000          # the bot has been speaking this long when the caller starts
SEGMENT_MS = 2500       # at most this much of each interruption
TAIL_MS = 2500          # time left after the segment for the confirm/resume/abandon to happen
CALLER_DB = -26.0
NOISE_DB = -45.0
ECHO = EchoSpec(delay_ms=120, attenuation_db=18.0)

BOT_TEXTS = (
    "Thanks for waiting. I can see your appointment at the Main Street branch is booked for "
    "Friday the fourteenth at nine thirty in the morning with Doctor Patel. If that time no "
    "longer works for you, I can offer Monday at eleven, Tuesday at two in the afternoon, or "
    "Thursday at four. Please remember to bring your insurance card and arrive ten minutes early.",
    "Your last payment of forty two dollars was received on the third of this month, and your "
    "next statement will be issued on the first. There is no balance due at the moment, and "
    "automatic payments are still active on the card ending in four four one one.",
    "Our branches are open from eight in the morning until six in the evening on weekdays, and "
    "from nine until one on Saturdays. The nearest branch to the postcode you gave is on High "
    "Street, next to the library, and it has free parking behind the building.",
)
# flite spells "mm-hmm" as letters ("M M H M M"); "um hum" is how it says the sound.
BACKCHANNELS = ("uh-huh", "yeah", "okay", "right", "um hum", "sure", "yes", "I see")
CALLER_VOICES = ("rms", "slt", "awb")
HALVES = ("tune", "heldout")


# -- audio ------------------------------------------------------------------------------


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    x = x.astype(np.float32)
    return soxr.resample(x, rate, 8000, quality="HQ") if rate != 8000 else x


def read_8k(path: Path) -> np.ndarray:
    """Any of the data set's wavs as 8 kHz float samples on the int16 scale."""
    if path.parent.name == "ami_meetings":
        from scipy.io import wavfile

        rate, x = wavfile.read(path)   # float32 in [-1, 1]
        return _resample(np.asarray(x, np.float32) * 32768.0, rate)
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return _resample(x, rate)


def active_gain(x: np.ndarray, target_db: float) -> float:
    """Gain that puts the active part (10 ms frames within 30 dB of the loudest) at target."""
    fr = x[: len(x) // 80 * 80].reshape(-1, 80).astype(np.float64)
    lv = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-9)
    active = fr[lv > lv.max() - 30]
    rms = np.sqrt(np.mean(active ** 2)) if len(active) else 1.0
    return 10 ** (target_db / 20) * 32768 / rms


def energy_onset(x: np.ndarray) -> int:
    fr = x[: len(x) // 80 * 80].reshape(-1, 80).astype(np.float64)
    lv = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-9)
    return int(np.argmax(lv > lv.max() - 30)) * 80


def voiced_onset(x: np.ndarray, from_ms: int) -> int:
    """The first 30 ms (10 ms hop) of ``x`` from ``from_ms`` within 20 dB of its loudest 30 ms:
    where a listener hears the caller's voice start, in ms."""
    hop, win = 80, 240
    n = (len(x) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    lv = 10 * np.log10(np.mean(x[idx].astype(np.float64) ** 2, axis=1) + 1e-9)
    start = max(0, from_ms // 10)
    hit = np.nonzero(lv[start:] > lv.max() - 20)[0]
    return (start + int(hit[0])) * 10 if len(hit) else from_ms


def rttm_turn_starts(path: Path, min_gap: float = 0.3) -> dict[str, list[float]]:
    segs: dict[str, list[tuple[float, float]]] = {}
    for line in path.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            segs.setdefault(f[1], []).append((float(f[3]), float(f[3]) + float(f[4])))
    out: dict[str, list[float]] = {}
    for name, ss in segs.items():
        ss.sort()
        starts, end = [], ss[0][1]
        for a, b in ss[1:]:
            if a - end >= min_gap:
                starts.append(a)
            end = max(end, b)
        out[name] = starts
    return out


# -- cases ------------------------------------------------------------------------------


@dataclass
class Case:
    kind: str                  # real | backchannel | echo | noise
    source: str
    condition: str
    caller: np.ndarray         # float, int16 scale, the caller's channel before our echo
    onset_ms: int | None       # caller speech onset (real and backchannel)
    echo: EchoSpec | None = None
    bot: int = 0               # which bot answer is playing
    voiced_ms: int | None = None  # where the caller's voice is heard (see voiced_onset)
    half: str = "tune"         # tune | heldout


@dataclass
class Outcome:
    case: Case
    clears_ms: list[int]
    reaction_ms: float | None = None
    paused_early: bool = False
    abandoned: bool = False
    resumed: bool = False
    resume_gaps: list[int] = field(default_factory=list)
    lost_audio: bool = False
    stuck: bool = False        # paused and neither resumed nor abandoned by the end
    last: str = ""             # the last turn decisions, to show for a stuck case
    abandon_why: str = ""      # the abandon decision's rule and words, for the listing
    reaction_voiced_ms: float | None = None
    audible_gaps: list[int] = field(default_factory=list)  # silences in our audio as heard, ms
    pauses: int = 0
    talkover_ms: int = 0       # real interruption: our audio heard after our first stop, until the abandon
    ducked_ms: list[int] = field(default_factory=list)  # each ducked stretch: duck -> resume/abandon


def _place(segment: np.ndarray, onset: int, total: int) -> np.ndarray:
    """Put ``segment`` so its sample ``onset`` lands at LEAD_MS; pad to ``total`` samples."""
    out = np.zeros(total, np.float32)
    at = LEAD_MS * 8 - onset
    src = segment[max(0, -at):]
    at = max(0, at)
    n = min(len(src), total - at)
    out[at:at + n] = src[:n]
    return out


def _noise_bed(noise: list[np.ndarray], k: int, n: int, level_db: float) -> np.ndarray:
    src = noise[k % len(noise)]
    start = (k * 7919 * 8) % (len(src) - n)
    bed = src[start:start + n].astype(np.float32)
    return bed * (10 ** (level_db / 20) * 32768 / np.sqrt(np.mean(bed ** 2)))


def real_interruptions(noise: list[np.ndarray], quick: bool) -> list[Case]:
    seg = SEGMENT_MS * 8
    total = (LEAD_MS + SEGMENT_MS + TAIL_MS) * 8
    sources: list[tuple[str, np.ndarray, int]] = []   # (name, audio from which onset is known, onset)
    vox = read_8k(DATA / "voxconverse_8k" / "aepyx_8k.wav")
    for t in rttm_turn_starts(DATA / "voxconverse_8k" / "aepyx.rttm")["aepyx"]:
        a = int((t - 0.3) * 8000)
        if a + int(0.3 * 8000) + seg <= len(vox):
            sources.append((f"voxconverse@{t:.2f}", vox[a:a + int(0.3 * 8000) + seg], int(0.3 * 8000)))
    for rttm in ("debug.development.rttm", "debug.test.rttm"):
        for name, starts in rttm_turn_starts(DATA / "ami_meetings" / rttm).items():
            x = read_8k(DATA / "ami_meetings" / f"{name}.wav")
            for t in starts:
                a = int((t - 0.3) * 8000)
                if a + int(0.3 * 8000) + seg <= len(x):
                    sources.append((f"ami/{name}@{t:.2f}", x[a:a + int(0.3 * 8000) + seg], int(0.3 * 8000)))
    reads = sorted(DATA.glob("cmu_arctic/*.wav")) + sorted(DATA.glob("librivox_pocketsphinx/**/*.wav"))
    for p in reads:
        x = read_8k(p)
        on = energy_onset(x)
        sources.append((f"read/{p.stem}", x[: on + seg], on))
    if quick:
        sources = sources[::4]
    cases = []
    for k, (name, x, on) in enumerate(sources):
        # Level: the speech after the onset sets the gain (VoxConverse/AMI onsets follow a gap).
        x = x * active_gain(x[on:], CALLER_DB)
        speech = _place(x, on, total)
        bed = _noise_bed(noise, k, total, NOISE_DB)
        kind_name = name.split("/")[0].split("@")[0]
        voiced = voiced_onset(speech, LEAD_MS - 100)
        for cond, caller, echo in (("clean", speech, None), ("noise", speech + bed, None),
                                   ("echo", speech, ECHO), ("noise+echo", speech + bed, ECHO)):
            cases.append(Case("real", f"{kind_name}:{name}", cond, caller, LEAD_MS, echo, bot=k,
                              voiced_ms=voiced, half=HALVES[k % 2]))
    return cases


def non_interruptions(noise: list[np.ndarray], quick: bool) -> list[Case]:
    total = (LEAD_MS + SEGMENT_MS + TAIL_MS) * 8
    cases: list[Case] = []
    voices = CALLER_VOICES[:1] if quick else CALLER_VOICES
    for v in voices:
        tts = FliteTts(v)
        for k, word in enumerate(BACKCHANNELS):
            x = mulaw.decode(tts.synthesize(word).audio).astype(np.float32)
            on = energy_onset(x)
            x = x * active_gain(x, CALLER_DB)
            speech = _place(x, on, total)
            half = HALVES[(k + CALLER_VOICES.index(v)) % 2]
            cases.append(Case("backchannel", f"{v}:{word}", "clean", speech, LEAD_MS, None, bot=k, half=half))
            bed = _noise_bed(noise, k, total, NOISE_DB)
            cases.append(Case("backchannel", f"{v}:{word}", "noise+echo", speech + bed, LEAD_MS, ECHO,
                              bot=k + 1, half=half))
        for k, (first, second) in enumerate(zip(BACKCHANNELS, BACKCHANNELS[3:] + BACKCHANNELS[:3])):
            a, b = (mulaw.decode(tts.synthesize(w).audio).astype(np.float32) for w in (first, second))
            on, end = energy_onset(a), len(a) - energy_onset(a[::-1])
            for gap_ms in (600, 1200):
                x = np.concatenate([a[:end], np.zeros(gap_ms * 8, np.float32), b[energy_onset(b):]])
                x = x * active_gain(x, CALLER_DB)
                speech = _place(x, on, total)
                half = HALVES[(k + CALLER_VOICES.index(v)) % 2]
                cond = "clean" if (k + gap_ms // 600) % 2 else "noise+echo"
                bed = _noise_bed(noise, k, total, NOISE_DB) if cond != "clean" else 0
                cases.append(Case("backchannel_pair", f"{v}:{first}+{gap_ms}ms+{second}", cond, speech + bed,
                                  LEAD_MS, ECHO if cond != "clean" else None, bot=k, half=half))
    for att in (18.0, 12.0):
        for delay in (120, 250):
            for b in range(len(BOT_TEXTS)):
                cases.append(Case("echo", f"erl{att:.0f}dB/{delay}ms/bot{b}", f"echo {att:.0f} dB",
                                  np.zeros(total, np.float32), None,
                                  EchoSpec(delay_ms=delay, attenuation_db=att), bot=b,
                                  half=HALVES[(b + delay // 250) % 2]))
    # A hybrid's echo (8 ms of dispersion, band-limited) at the 12 dB and 150 ms: not
    # a pure delayed copy, so a check that only matched copies would fail here. Reported on
    # their own (echo_stops_per_min_hybrid); the other keys leave them out, to stay comparable.
    for b in range(len(BOT_TEXTS)):
        cases.append(Case("echo_hybrid", f"erl12dB/150ms/8ms/bot{b}", "echo 12 dB hybrid",
                          np.zeros(total, np.float32), None,
                          EchoSpec(delay_ms=150, attenuation_db=12.0, dispersion_ms=8), bot=b,
                          half=HALVES[b % 2]))
    for level in (-45.0, -35.0):
        for k in range(2 if quick else 4):
            burst = np.zeros(total, np.float32)
            bed = _noise_bed(noise, k, SEGMENT_MS * 8, level)
            burst[LEAD_MS * 8:LEAD_MS * 8 + len(bed)] = bed
            cases.append(Case("noise", f"{['dishes', 'bike'][k % 2]}#{k}", f"noise {level:.0f} dBFS", burst,
                              None, bot=k, half=HALVES[(k // 2) % 2]))
    return cases


# -- running ----------------------------------------------------------------------------


def run_case(case: Case, engine: PocketsphinxEngine, vad: SileroBatch, bots: list,
             params: TurnParams | None = None) -> Outcome:
    bot = bots[case.bot % len(bots)]
    h = AudioHarness(stt=engine, vad=vad, echo=case.echo, params=params)
    try:
        h.start_bot_turn(bot.audio, bot.text, bot.words)
        pcm = np.clip(np.round(case.caller), -32768, 32767).astype(np.int16)
        h.feed(mulaw.decode(mulaw.encode(pcm)))
        h.speaker.finish()
        spans = list(h.speaker.spans)
        turn = h.decisions("turn")
    finally:
        vad.unregister("harness")
        if h.stt is not None:
            h.stt.close()
    out = Outcome(case=case, clears_ms=list(h.clears_ms))
    pauses = [d for d in turn if d.outcome == "pause"]
    resumes = [d for d in turn if d.outcome == "resume"]
    abandons = [d for d in turn if d.outcome == "abandon"]
    out.abandoned = bool(abandons)
    if abandons:
        ev = abandons[0].evidence
        out.abandon_why = f"{abandons[0].rule} {' '.join(ev.get('words', []) or [])}".strip()
    out.resumed = bool(resumes)
    out.resume_gaps = [int(d.evidence.get("gap_ms", 0)) for d in resumes]
    # No audio lost: each resume restarts at or before what the caller had heard at its pause.
    for p, r in zip(pauses, resumes):
        # (A ducked pause resumes where the lowered answer had got to: the caller heard it.)
        if int(r.evidence.get("resume_from_ms", 0)) > int(p.evidence.get("heard_ms", 0)) and not r.evidence.get("ducked"):
            out.lost_audio = True
    out.stuck = bool(pauses) and len(resumes) < len(pauses) and not out.abandoned
    out.pauses = len(pauses)
    # What the caller heard of our answer: every silence between played spans, and a pause
    # never resumed until the end of the clip.
    out.audible_gaps = [b.start_ms - a.end_ms for a, b in zip(spans, spans[1:]) if b.start_ms > a.end_ms]
    if spans and out.stuck:
        out.audible_gaps.append(len(case.caller) // 8 - spans[-1].end_ms)
    out.last = ", ".join(f"{d.at_ms} {d.outcome}/{d.reason}" for d in turn[-4:])
    for k, d in enumerate(turn):
        if d.outcome == "duck":
            until = next((e.at_ms for e in turn[k + 1:] if e.outcome in ("resume", "abandon")), len(case.caller) // 8)
            out.ducked_ms.append(until - d.at_ms)
    if case.onset_ms is not None:
        after = [c for c in out.clears_ms if c >= case.onset_ms - 100]
        before = [c for c in out.clears_ms if c < case.onset_ms - 100]
        if after and after[0] <= case.onset_ms + 2000:
            out.reaction_ms = after[0] - case.onset_ms
            if abandons:
                # Our audio an interrupter still heard between our first stop and the decision
                # that gave them the turn (the ducked answer under their words, or a wrong resume).
                until = abandons[0].at_ms
                out.talkover_ms = sum(min(s.end_ms, until) - max(s.start_ms, after[0])
                                      for s in spans if s.end_ms > after[0] and s.start_ms < until)
            if case.voiced_ms is not None:
                out.reaction_voiced_ms = after[0] - case.voiced_ms
        out.paused_early = bool(before)
    return out


def _pct(xs, q):
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


def summarize(outs: list[Outcome]) -> dict:
    real = [o for o in outs if o.case.kind == "real"]
    other = [o for o in outs if o.case.kind not in ("real", "echo_hybrid", "backchannel_pair")]
    pairs = [o for o in outs if o.case.kind == "backchannel_pair"]
    pair_gaps = [g for o in pairs for g in o.audible_gaps]
    hybrid = [o for o in outs if o.case.kind == "echo_hybrid"]
    hybrid_min = sum(len(o.case.caller) for o in hybrid) / 8000 / 60
    reactions = [o.reaction_ms for o in real if o.reaction_ms is not None]
    voiced = [o.reaction_voiced_ms for o in real if o.reaction_voiced_ms is not None]
    gaps = [g for o in other for g in o.resume_gaps]
    audible = [g for o in other for g in o.audible_gaps]
    echo12 = [o for o in other if o.case.kind == "echo" and o.case.condition == "echo 12 dB"]
    echo_min = sum(len(o.case.caller) for o in echo12) / 8000 / 60
    return {
        "reaction_ms_p50": round(_pct(reactions, 50), 1),
        "reaction_ms_p90": round(_pct(reactions, 90), 1),
        "abandon_rate_real": round(sum(o.abandoned for o in real) / max(1, len(real)), 4),
        "false_abandon_rate": round(sum(o.abandoned for o in other) / max(1, len(other)), 4),
        "resume_gap_ms_p90": round(_pct(gaps, 90), 1),
        "reaction_ms_p50_voiced": round(_pct(voiced, 50), 1),
        "reaction_ms_p90_voiced": round(_pct(voiced, 90), 1),
        "missed_real": sum(o.reaction_ms is None and not o.paused_early for o in real),
        "audible_gap_ms_p90": round(_pct(audible, 90), 1) if audible else 0.0,
        "echo_stops_per_min": round(sum(o.pauses for o in echo12) / echo_min, 2) if echo_min else float("nan"),
        "echo_stops_per_min_hybrid": round(sum(o.pauses for o in hybrid) / hybrid_min, 2) if hybrid_min else float("nan"),
        # Every pause on a sound that was not an interruption: each is a silence the caller hears.
        "false_pauses": sum(o.pauses for o in other),
        # What a quicker return costs a real interruption that was recognised: our audio heard
        # after our first stop until the abandon (the ducked answer under their words, or a
        # resume before the words came). Interruptions never abandoned count in abandon_rate_real.
        "talkover_ms_p90_real": round(_pct([o.talkover_ms for o in real if o.abandoned and o.reaction_ms is not None], 90), 1),
        "talkover_real": sum(o.talkover_ms > 0 for o in real),
        "ducked_ms_p90": round(_pct([g for o in other for g in o.ducked_ms], 90), 1) if any(o.ducked_ms for o in other) else 0.0,
        "backchannel_pairs_abandoned": sum(o.abandoned for o in pairs),
        "backchannel_pairs": len(pairs),
        "backchannel_pair_gap_ms_p90": round(_pct(pair_gaps, 90), 1) if pair_gaps else 0.0,
    }


def print_table(outs: list[Outcome]) -> None:
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outs:
        src = o.case.source.split(":")[0] if o.case.kind == "real" else o.case.kind
        groups.setdefault((src, o.case.condition), []).append(o)
    print(f"{'group':<13} {'condition':<16} {'n':>3} | {'paused':>6} {'react p50':>9} {'p90':>5} "
          f"{'missed':>6} {'early':>5} | {'abandon':>7} {'resumed':>7} {'stuck':>5} "
          f"{'gap p50':>7} {'p90':>5} {'lost':>4}")
    for (src, cond), os_ in groups.items():
        rs = [o.reaction_ms for o in os_ if o.reaction_ms is not None]
        gaps = [g for o in os_ for g in o.resume_gaps]
        is_real = os_[0].case.onset_ms is not None
        missed = sum(o.reaction_ms is None and not o.paused_early for o in os_) if is_real else "-"
        print(f"{src:<13} {cond:<16} {len(os_):>3} | {sum(bool(o.clears_ms) for o in os_):>6} "
              f"{_pct(rs, 50):>9.0f} {_pct(rs, 90):>5.0f} {missed!s:>6} "
              f"{sum(o.paused_early for o in os_):>5} | {sum(o.abandoned for o in os_):>7} "
              f"{sum(o.resumed for o in os_):>7} {sum(o.stuck for o in os_):>5} "
              f"{_pct(gaps, 50):>7.0f} {_pct(gaps, 90):>5.0f} {sum(o.lost_audio for o in os_):>4}")


def trace(cases: list[Case], name: str) -> None:
    """Per 32 ms window around the onset of the clean real cases matching ``name``: the
    caller channel's level and Silero's probability with and without the WebRTC pre-gate."""
    from turngate.vad.batch import PreGate

    for c in cases:
        if c.kind != "real" or c.condition != "clean" or name not in c.source:
            continue
        x = mulaw.decode(mulaw.encode(np.clip(np.round(c.caller), -32768, 32767).astype(np.int16)))
        runs = []
        for gate in (PreGate(), PreGate(enabled=False)):
            vad = SileroBatch(pregate=gate)
            vad.register("trace")
            res = []
            for i in range(0, len(x) - 160, 160):
                vad.push("trace", x[i:i + 160])
                res += vad.run()
            runs.append(res)
        print(f"{c.source}: window end (ms after onset), level dBFS, p (pre-gate), p (no pre-gate)")
        for k, (gated, ungated) in enumerate(zip(*runs)):
            t = (k + 1) * 32 - LEAD_MS
            if -100 <= t <= 600:
                print(f"  {t:5d} {gated[2]:7.1f} {gated[1]:5.2f} {ungated[1]:5.2f}")


def _param(kv: str) -> tuple[str, object]:
    """``NAME=VALUE`` as a typed TurnParams override (``bool("false")`` would be True)."""
    name, value = kv.split("=", 1)
    kind = type(getattr(TurnParams(), name))
    if kind is bool:
        if value.lower() not in ("true", "false"):
            raise SystemExit(f"--param {name}: true or false, not {value!r}")
        return name, value.lower() == "true"
    return name, kind(value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a quarter of the real cases, one voice")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="override a TurnParams field, e.g. --param confirm_timeout_ms=400")
    ap.add_argument("--half", choices=("all", "tune", "heldout"), default="all",
                    help="run one half of the cases: tune parameters on 'tune', report 'heldout' beside")
    ap.add_argument("--trace", metavar="SOURCE", help="print the VAD trace around the onset of the real "
                    "cases whose source contains SOURCE (e.g. ami/dev01@15.13), then stop")
    args = ap.parse_args()
    overrides = dict(_param(kv) for kv in args.param)
    params = TurnParams(**overrides) if overrides else None
    t0 = time.time()

    noise = [read_8k(DATA / "noise" / n) for n in ("doing_the_dishes.wav", "exercise_bike.wav")]
    kal = FliteTts("kal")
    bots = [kal.synthesize(t) for t in BOT_TEXTS]
    bot_ms = [len(b.audio) // 8 for b in bots]
    if min(bot_ms) < LEAD_MS + SEGMENT_MS + TAIL_MS:
        raise SystemExit(f"bot answer too short: {min(bot_ms)} ms")
    policy = ROOT / "policies" / "default.yaml"
    phrases: list[str] = []
    if policy.exists():
        import yaml

        phrases = phrases_in(yaml.safe_load(policy.read_text()))
    engine = PocketsphinxEngine(phrases)
    vad = SileroBatch()

    if args.trace:
        trace(real_interruptions(noise, False), args.trace)
        return
    cases = real_interruptions(noise, args.quick) + non_interruptions(noise, args.quick)
    if args.half != "all":
        cases = [c for c in cases if c.half == args.half]
    print(f"bot answers: flite kal, {', '.join(f'{m / 1000:.1f}' for m in bot_ms)} s; {sum(c.kind == 'real' for c in cases)} real "
          f"interruption cases, {sum(c.kind != 'real' for c in cases)} backchannel/echo/noise cases; "
          f"STT: pocketsphinx with {len(phrases)} policy phrases")
    if overrides:
        print("TurnParams overrides: " + ", ".join(f"{k}={v}" for k, v in overrides.items()))
    outs = [run_case(c, engine, vad, bots, params) for c in cases]
    print_table(outs)
    real = [o for o in outs if o.case.kind == "real"]
    print(f"real interruptions: missed (no clear within 2 s of onset, none before) "
          f"{sum(o.reaction_ms is None and not o.paused_early for o in real)}, paused before the onset "
          f"{sum(o.paused_early for o in real)}; audio lost on resume in "
          f"{sum(o.lost_audio for o in outs)} cases; wall {time.time() - t0:.0f} s")
    for o in outs:
        if o.case.kind == "real" and o.reaction_ms is None and not o.paused_early:
            print(f"  missed: {o.case.source} ({o.case.condition}, {o.case.half} half)")
        if o.case.kind != "real" and o.abandoned:
            print(f"  false abandon: {o.case.kind} {o.case.source} ({o.case.condition}): {o.abandon_why}")
        if o.stuck:
            print(f"  still paused when the clip ends: {o.case.kind} {o.case.source} ({o.case.condition}): {o.last}")
    if args.half != "all":
        print(f"(the {args.half} half only)")
    line = {"bench": "bargein", "half": args.half, **summarize(outs)}
    if args.half == "all":
        line |= {f"heldout_{k}": v for k, v in summarize([o for o in outs if o.case.half == "heldout"]).items()}
        line |= {f"tune_{k}": v for k, v in summarize([o for o in outs if o.case.half == "tune"]).items()}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
