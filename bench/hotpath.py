"""Hot-path cost: CPU seconds per audio second per call, one process.

What one process does for every caller frame, as the gateway's shell does it:

  per 20 ms Twilio ``media`` message, per call:
      turngate.twilio.codec.parse (JSON + base64); the payload joins the tick's inbox
  per 20 ms tick, for the whole process:
      SileroBatch.push_mulaw(inbox) (one mu-law decode and one scatter into every call's
      32 ms window; WebRTC VAD pre-gate per frame)
      SileroBatch.run (one batched Silero inference over every window that is due and not
      skipped)  ->  Call.handle(VoiceActivity(...), now) per window
      ->  Call.next_deadline(), and TimerFired for calls whose deadline passed

The "per frame" column decodes and pushes each message on its own instead
(mulaw.decode + SileroBatch.push), for comparison.

Caller audio is real speech: the 8 kHz-resampled clips of ../shared/data/audio
(cmu_arctic, librivox_pocketsphinx, timit_sample) separated by "listening" gaps in which
the caller's line carries real background noise (audio/noise: dishes, exercise bike) at
-50 dBFS; about 40% of the caller channel is speech (the caller talks, then listens to the
bot). Echo of the bot's audio is not mixed in: it would make the pre-gate pass those
windows like speech (the "no pre-gate" column is that worst case). Each call loops one of
eight such channels from its own offset. Messages are the exact JSON text Twilio sends
(compact, numbers as strings), mu-law encoded with turngate.audio.mulaw, built before the
clock starts.

The calls run the bundled policy's turn-taking, so the core asks for end-of-turn scores
(``ScoreTurn``) at candidate turn ends as a live call does; the model itself is not in the
hot path (the shell runs it off the event loop, once per candidate end). The run counts
the requests, and prints the model's amortised cost: requests x one score's CPU time
(measured here) per audio second per call.

Time is the audio clock (the core never reads a clock); CPU is ``time.process_time`` over
the whole run divided by calls x audio seconds; the headline is the median of interleaved
uninstrumented repeats. The per-stage breakdown comes from one more run that reads the CPU
clock around each stage of each tick (its total is shown too). The machine is shared, so
compare columns of one run rather than runs.

    .venv/bin/python bench/hotpath.py [--seconds-1 60 --seconds-64 20 --seconds-256 10]
                                      [--repeats 3] [--no-quality]
"""

from __future__ import annotations

import argparse
import base64
import gc
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
from turngate.core.actions import ScoreTurn  # noqa: E402
from turngate.core.call import Call  # noqa: E402
from turngate.policy import load_policy  # noqa: E402
from turngate.server.echo import LineEcho  # noqa: E402
from turngate.core.events import CallStarted, TimerFired, VoiceActivity  # noqa: E402
from turngate.testing import OpenGatekeeper  # noqa: E402
from turngate.twilio.codec import Media, parse  # noqa: E402
from turngate.vad import PreGate, SileroBatch, SileroModel  # noqa: E402

FRAME = 160          # samples per Twilio frame (20 ms)
TICK = 0.020         # the shell runs the VAD batch once per 20 ms
CHANNELS = 8         # distinct caller channels; calls loop them from different offsets
CHANNEL_S = 60


# -- audio ------------------------------------------------------------------------------


def _wav8k(path: Path) -> np.ndarray:
    import soxr

    with wave.open(str(path)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    if rate != 8000:
        x = soxr.resample(x.astype(np.float32), rate, 8000).clip(-32768, 32767).astype(np.int16)
    return x


def speech_clips() -> list[np.ndarray]:
    files = sorted(DATA.glob("cmu_arctic/*.wav")) + sorted(
        p for p in DATA.glob("librivox_pocketsphinx/**/*.wav")) + [
        DATA / "timit_sample" / "LDC93S1_pcms16le_1_8000.wav"]
    clips = []
    for f in files:
        x = _wav8k(f).astype(np.float32)
        x *= 10 ** (-20 / 20) * 32768 / np.sqrt(np.mean(x ** 2))   # speech at -20 dBFS RMS
        clips.append(x)
    return clips


def noise_bed() -> np.ndarray:
    return np.concatenate([_wav8k(DATA / "noise" / n).astype(np.float32)
                           for n in ("doing_the_dishes.wav", "exercise_bike.wav")])


def caller_channel(seed: int, clips: list[np.ndarray], noise: np.ndarray,
                   seconds: int = CHANNEL_S, speech_share: float = 0.4) -> tuple[np.ndarray, float]:
    """Caller speech separated by listening gaps over a noise bed; returns (pcm, speech share)."""
    rng = np.random.default_rng(seed)
    n = seconds * 8000
    out = np.zeros(n, dtype=np.float32)
    pos, talked = int(rng.uniform(0.5, 2.0) * 8000), 0
    while pos < n:
        clip = clips[rng.integers(len(clips))]
        end = min(n, pos + len(clip))
        out[pos:end] += clip[: end - pos]
        talked += end - pos
        # The bot's answer: a gap whose mean length gives the wanted speech share.
        gap = len(clip) * (1 - speech_share) / speech_share * rng.uniform(0.5, 1.5)
        pos = end + int(gap)
    start = int(rng.integers(len(noise) - n))
    bed = noise[start:start + n].copy()
    bed *= 10 ** (-50 / 20) * 32768 / np.sqrt(np.mean(bed ** 2))
    out += bed
    return out.clip(-32768, 32767).astype(np.int16), talked / n


def twilio_media_messages(pcm: np.ndarray, stream_sid: str) -> list[str]:
    """The text frames Twilio would send for this audio (numbers as strings, as Twilio does)."""
    payload = mulaw.encode(pcm)
    msgs = []
    for i in range(len(pcm) // FRAME):
        chunk = base64.b64encode(payload[i * FRAME:(i + 1) * FRAME]).decode("ascii")
        msgs.append(json.dumps({
            "event": "media", "sequenceNumber": str(i + 3),
            "media": {"track": "inbound", "chunk": str(i + 1), "timestamp": str(i * 20),
                      "payload": chunk},
            "streamSid": stream_sid,
        }, separators=(",", ":")))
    return msgs


# -- what the pre-gate costs in detection ------------------------------------------------


def _probabilities(pcm: np.ndarray, model: SileroModel, pregate: PreGate) -> tuple[np.ndarray, float]:
    vad = SileroBatch(pregate=pregate, model=model)
    vad.register(0)
    probs = []
    for i in range(0, len(pcm) - FRAME + 1, FRAME):
        vad.push(0, pcm[i:i + FRAME])
        probs += [p for _, p, _ in vad.run()]
    st = vad.stats
    return np.array(probs), st.windows_skipped / max(1, st.windows_run + st.windows_skipped)


def _detection_ms(probs: np.ndarray, onset: int, threshold: float = 0.5, limit_ms: int = 1000):
    """Audio time from the onset (sample) to the end of the first window at/over threshold."""
    first = onset // 256
    hits = np.nonzero(probs[first:first + limit_ms // 32] >= threshold)[0]
    return None if not len(hits) else (first + hits[0] + 1) * 32 - onset / 8


def _pct(xs, q):
    return float(np.percentile(xs, q)) if xs else float("nan")


def pregate_quality(model: SileroModel, clips: list[np.ndarray], noise: np.ndarray) -> None:
    """Detection with and without the pre-gate on real speech, side by side."""
    print("pre-gate effect on detection (Silero p >= 0.5; onset to end of the first such window):")
    rng = np.random.default_rng(11)
    for noise_db in (-50, -40):
        parts, onsets, spans, pos = [], [], [], 0
        for clip in clips:
            gap = int(rng.uniform(1.5, 4.0) * 8000)
            parts.append(np.zeros(gap, np.float32))
            pos += gap
            # Onset: first 10 ms frame within 30 dB of the clip's loudest frame.
            fr = clip[: len(clip) // 80 * 80].reshape(-1, 80)
            lv = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-9)
            voiced = np.nonzero(lv > lv.max() - 30)[0]
            onsets.append(pos + voiced[0] * 80)
            spans.append((pos + voiced[0] * 80, pos + (voiced[-1] + 1) * 80))
            parts.append(clip)
            pos += len(clip)
        x = np.concatenate(parts)
        bed = np.resize(noise, len(x))
        x = x + bed * (10 ** (noise_db / 20) * 32768 / np.sqrt(np.mean(bed ** 2)))
        pcm = mulaw.decode(mulaw.encode(x.clip(-32768, 32767).astype(np.int16)))
        ref, _ = _probabilities(pcm, model, PreGate(enabled=False))
        gated, skipped = _probabilities(pcm, model, PreGate())
        gap_mask = np.ones(len(ref), bool)
        for a, b in spans:   # 200 ms before an utterance to 500 ms after it is not a gap
            gap_mask[max(0, a // 256 - 6): b // 256 + 16] = False
        for name, probs in (("no pre-gate", ref), ("pre-gate", gated)):
            lat = [d for d in (_detection_ms(probs, o) for o in onsets) if d is not None]
            extra = f", Silero skipped on {skipped:.0%} of windows" if probs is gated else ""
            print(f"  clips over noise at {noise_db} dBFS, {name:>11}: onset->detect median "
                  f"{_pct(lat, 50):.0f} ms, p90 {_pct(lat, 90):.0f} ms, missed {len(onsets) - len(lat)}"
                  f"/{len(onsets)}; windows >= 0.5 in gaps {np.mean(probs[gap_mask] >= 0.5):.2%}{extra}")
        print(f"  {'':>36} windows where the two disagree at 0.5: "
              f"{np.mean((ref >= 0.5) != (gated >= 0.5)):.2%}")

    # Labelled turn starts of a real 8 kHz debate (VoxConverse aepyx), after >= 0.3 s of no speech.
    wav = DATA / "voxconverse_8k" / "aepyx_8k.wav"
    segs = sorted((float(f[3]), float(f[3]) + float(f[4])) for f in (
        line.split() for line in (DATA / "voxconverse_8k" / "aepyx.rttm").read_text().splitlines()) if f)
    starts, end = [], segs[0][1]
    for a, b in segs[1:]:
        if a - end >= 0.3:
            starts.append(int(a * 8000))
        end = max(end, b)
    pcm = mulaw.decode(mulaw.encode(_wav8k(wav)))
    for name, pg in (("no pre-gate", PreGate(enabled=False)), ("pre-gate", PreGate())):
        probs, skipped = _probabilities(pcm, model, pg)
        lat = [d for d in (_detection_ms(probs, o) for o in starts) if d is not None]
        print(f"  VoxConverse aepyx turn starts (n={len(starts)}), {name:>11}: label->detect median "
              f"{_pct(lat, 50):.0f} ms, p90 {_pct(lat, 90):.0f} ms, missed {len(starts) - len(lat)}; "
              f"skipped {skipped:.0%} of windows")


# -- the run ----------------------------------------------------------------------------


PARAMS = load_policy(None).turn_taking


@dataclass(slots=True)
class _Live:
    call_id: str
    call: Call
    msgs: list[str]
    offset: int
    deadline: float | None = None
    echo: LineEcho = field(default_factory=lambda: LineEcho(PARAMS.speech_threshold))  # the echo check's bookkeeping


def _setup(n_calls: int, channels: list[list[str]], model: SileroModel, pregate: PreGate):
    vad = SileroBatch(pregate=pregate, model=model, capacity=n_calls)
    live = []
    for i in range(n_calls):
        cid = f"CA{i:032x}"
        call = Call(cid, gates=OpenGatekeeper(), params=PARAMS)
        call.handle(CallStarted(call_id=cid, stream_sid=f"MZ{i:032x}"), 0.0)
        vad.register(cid)
        live.append(_Live(cid, call, channels[i % len(channels)], (i * 977) % (CHANNEL_S * 50)))
    # Calls start at different times, so their 32 ms windows complete on different 20 ms
    # ticks (5 windows per 8 frames): give call i a head start of i % 8 frames.
    for i, c in enumerate(live):
        for k in range(i % 8):
            vad.push(c.call_id, mulaw.decode(parse(c.msgs[(c.offset - 8 + k) % (CHANNEL_S * 50)]).payload))
    vad.run()
    by_id = {c.call_id: c for c in live}
    return vad, live, by_id


def run_plain(n_calls: int, seconds: float, channels, model, pregate: PreGate,
              ingress: str = "tick") -> dict:
    """The shell's hot path, fused as the shell runs it; the CPU clock is read twice.

    ``ingress="tick"``: each media message's payload is appended to one process-wide list
    and the tick hands the list to ``SileroBatch.push_mulaw`` (one decode and one scatter
    for all calls). ``ingress="frame"``: each message is decoded and pushed on its own.
    """
    vad, live, by_id = _setup(n_calls, channels, model, pregate)
    n_ticks = int(seconds / TICK)
    loop = CHANNEL_S * 50
    push, push_mulaw, run, decode = vad.push, vad.push_mulaw, vad.run, mulaw.decode
    per_frame = ingress == "frame"
    scores = 0
    gc.collect()
    t0 = time.process_time()
    for tick in range(n_ticks):
        now = (tick + 1) * TICK
        inbox: list[tuple[str, bytes]] = []
        for c in live:
            msg = parse(c.msgs[(c.offset + tick) % loop])
            if isinstance(msg, Media):
                payload = c.echo.heard(msg.payload)
                if per_frame:
                    push(c.call_id, decode(payload))
                else:
                    inbox.append((c.call_id, payload))
        push_mulaw(inbox)
        for call_id, prob, level in run():
            c = by_id[call_id]
            c.call.handle(VoiceActivity(probability=prob, level_db=level,
                                        residual_db=c.echo.residual_db(prob, level)), now)
            c.deadline = c.call.next_deadline()
        for c in live:
            if c.deadline is not None and c.deadline <= now:
                # A candidate end asks for a score here (its own timer): counted, not run.
                scores += sum(isinstance(a, ScoreTurn) for a in c.call.handle(TimerFired(), now))
                c.deadline = c.call.next_deadline()
    cpu = time.process_time() - t0
    return {"cpu": cpu, "per_audio_s": cpu / (n_calls * n_ticks * TICK), "stats": vad.stats,
            "turn_decisions": sum(len(c.call.decisions) for c in live),
            "scores_per_audio_s": scores / (n_calls * n_ticks * TICK)}


STAGES = ("json+base64", "mulaw+push+webrtc", "silero batch", "core")


def run_staged(n_calls: int, seconds: float, channels, model, pregate: PreGate) -> dict:
    """Same work (tick ingress), one stage at a time per tick, CPU clock read between stages."""
    vad, live, by_id = _setup(n_calls, channels, model, pregate)
    n_ticks = int(seconds / TICK)
    loop = CHANNEL_S * 50
    push_mulaw, run, clock = vad.push_mulaw, vad.run, time.process_time
    stages = dict.fromkeys(STAGES, 0.0)
    gc.collect()
    t_start = clock()
    for tick in range(n_ticks):
        now = (tick + 1) * TICK
        t0 = clock()
        msgs = [(c.call_id, parse(c.msgs[(c.offset + tick) % loop])) for c in live]
        t1 = clock()
        push_mulaw([(cid, m.payload) for cid, m in msgs if isinstance(m, Media)])
        t2 = clock()
        results = run()
        t3 = clock()
        for call_id, prob, level in results:
            c = by_id[call_id]
            c.call.handle(VoiceActivity(probability=prob, level_db=level), now)
            c.deadline = c.call.next_deadline()
        for c in live:
            if c.deadline is not None and c.deadline <= now:
                c.call.handle(TimerFired(), now)
                c.deadline = c.call.next_deadline()
        t4 = clock()
        for name, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            stages[name] += dt
    cpu = clock() - t_start
    denom = n_calls * n_ticks * TICK
    return {"cpu": cpu, "per_audio_s": cpu / denom,
            "stages": {k: v / denom for k, v in stages.items()}, "stats": vad.stats}


def end_of_turn_score_cpu(clips) -> float:
    """CPU seconds of one end-of-turn score (features + ONNX), median of 10; 0 without the model."""
    from turngate.vad import smart_turn

    m = smart_turn.load()
    if m is None:
        print("end-of-turn model: not installed")
        return 0.0
    pcm = np.concatenate(clips)[: 8 * 8000]
    m.score(pcm)
    cpu = []
    for _ in range(10):
        t = time.process_time()
        m.score(pcm)
        cpu.append(time.process_time() - t)
    print(f"end-of-turn model: one score {np.median(cpu) * 1000:.0f} ms CPU (median of 10)")
    return float(np.median(cpu))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds-1", type=float, default=60.0)
    ap.add_argument("--seconds-64", type=float, default=20.0)
    ap.add_argument("--seconds-256", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-quality", action="store_true", help="skip the detection comparison")
    args = ap.parse_args()
    seconds = {1: args.seconds_1, 64: args.seconds_64, 256: args.seconds_256}

    clips, noise = speech_clips(), noise_bed()
    channels, shares = [], []
    for k in range(CHANNELS):
        pcm, share = caller_channel(k, clips, noise)
        channels.append(twilio_media_messages(pcm, f"MZ{k:032x}"))
        shares.append(share)
    print(f"caller channels: {CHANNELS} x {CHANNEL_S} s, speech share {np.mean(shares):.0%} "
          f"(clips at -20 dBFS, noise bed at -50 dBFS), Twilio media JSON "
          f"{np.mean([len(m) for m in channels[0]]):.0f} chars/frame")

    model = SileroModel()
    if not args.no_quality:
        pregate_quality(model, clips, noise)
    gated, ungated = PreGate(), PreGate(enabled=False)
    run_plain(4, 2.0, channels, model, gated)   # warm-up: onnxruntime's first runs are slow
    score_cpu = end_of_turn_score_cpu(clips)

    headline: dict[str, float] = {}
    print("CPU-s per audio-s per call. pre-gate = Silero behind the WebRTC pre-gate; ingress per "
          "tick (push_mulaw) unless marked 'per frame'. Stages in us per audio-s per call "
          "(pre-gate / no gate), from the instrumented runs.")
    print(f"{'calls':>5} {'audio s':>7} | {'pre-gate':>9} {'no gate':>9} {'per frame':>9} | "
          f"{'silero ran':>10} | stages")
    for n in (1, 64, 256):
        s = seconds[n]
        # Interleaved repeats, median reported: the machine is shared and a single run can be
        # off by 10% either way.
        reps: dict[str, list[dict]] = {"gated": [], "ungated": [], "frame": []}
        for _ in range(args.repeats):
            reps["gated"].append(run_plain(n, s, channels, model, gated))
            reps["ungated"].append(run_plain(n, s, channels, model, ungated))
            reps["frame"].append(run_plain(n, s, channels, model, gated, ingress="frame"))
        med = {k: float(np.median([r["per_audio_s"] for r in v])) for k, v in reps.items()}
        spread = {k: (min(r["per_audio_s"] for r in v), max(r["per_audio_s"] for r in v))
                  for k, v in reps.items()}
        staged = run_staged(n, s, channels, model, gated)
        staged_ng = run_staged(n, s, channels, model, ungated)
        st = reps["gated"][0]["stats"]
        ran = st.windows_run / max(1, st.windows_run + st.windows_skipped)
        stage_txt = ", ".join(
            f"{k} {staged['stages'][k] * 1e6:.0f}/{staged_ng['stages'][k] * 1e6:.0f}" for k in STAGES)
        print(f"{n:>5} {s:>7.0f} | {med['gated']:>9.6f} {med['ungated']:>9.6f} "
              f"{med['frame']:>9.6f} | {ran:>10.0%} | {stage_txt}; instrumented totals "
              f"{staged['per_audio_s']:.6f}/{staged_ng['per_audio_s']:.6f}")
        print(f"{'':>15}   range of {args.repeats} runs: " + ", ".join(
            f"{k} {lo:.6f}-{hi:.6f}" for k, (lo, hi) in spread.items()))
        rate = float(np.median([r["scores_per_audio_s"] for r in reps["gated"]]))
        print(f"{'':>15}   end-of-turn score requests: {rate:.3f} per audio s per call; "
              f"model (not in the figures above) ~{rate * score_cpu:.5f} CPU-s per audio s per call")
        headline[str(n)] = round(med["gated"], 6)
        sys.stdout.flush()
    print(json.dumps({"bench": "hotpath", "cpu_per_audio_s": headline}))


if __name__ == "__main__":
    main()
