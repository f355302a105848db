"""The acoustic backchannel classifier (turngate.audio.backchannel) on data it never saw.

    .venv/bin/python bench/backchannel.py            # ~2 min: synthesis of ~1,300 utterances
    .venv/bin/python bench/backchannel.py --cost     # only the CPU cost per score

For each decision point t = 100, 150, 200, 250 ms after the caller's onset it reports
``bc_recall_t{t}`` (backchannels scored at or above the threshold) and
``interrupt_as_bc_t{t}`` (interruptions scored at or above it: the bot would keep talking
over them until the words arrive), at the threshold chosen on the VALIDATION split
(``tools/train_backchannel.py``: flite kal16 and espeak-ng voices the model did not train
on, at most 5% of its interruptions called backchannel). Nothing below chooses anything on
held-out data. Sets:

- ``val_*``: the validation split itself (where the thresholds come from; not held out).
- ``heldout_*`` (headline): flite ``rms``, ``slt``, ``awb`` (never trained on, never used to
  choose) speaking every backchannel and a second list of interruptions no training voice
  spoke (``INTERRUPTIONS_B``), each on the simulated line of the training tool. Both classes
  synthetic, by the same voices: like against like.
- ``ami_*``: real against real. The AMI meeting mixes (``audio/ami_meetings``, RTTM speaker
  turns): a segment of at most 0.8 s is taken as a backchannel, one of 1.0 s or more as an
  interruption-like turn start; the onset is the RTTM label for both (most of these segments
  start while someone else talks, so no energy onset can be found); as recorded (levelled to
  -26 dBFS, mu-law) and with noise + echo (the training tool's ``Line.mix``). Unverified
  labels (no transcript), far-field, few: read it as an indication, not a measurement.
- ``bargein_heldout_*`` / ``bargein_tune_*``: the cases of ``bench/bargein.py``, its own
  halves: synthetic backchannels (rms, slt, awb) against REAL interruptions (VoxConverse,
  AMI and read-speech turn starts), clean and with noise/echo. Mixed domains (synthetic
  against real), so a good figure here may be the engine, not the class: compare it with
  ``heldout_*`` and ``ami_*``. Onset: the case's voiced onset (``voiced_ms``; for the
  backchannels, ``voiced_onset`` of the clean clip, as the training tool does). The echo
  conditions add our bot's audio 120 ms later, 18 dB down, as the bench's harness does.
  Also ``bargein_heldout_*_tunethr``: thresholds chosen on the bench's tune half instead
  (the same 5% rule), applied to its held-out half.

Per source and per t: n, recall or false-backchannel rate, and AUC, in ``per_source``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "bench"))

import bargein  # noqa: E402
import backchannel_data as bd  # noqa: E402
import train_backchannel as tb  # noqa: E402
from turngate.audio import mulaw  # noqa: E402
from turngate.audio.backchannel import FEATURES, BackchannelModel, features  # noqa: E402

DECISION_MS = (100, 150, 200, 250)
AMI_SHORT_S = 0.8     # at most: a backchannel
AMI_LONG_S = 1.0      # at least: a turn start


class Scored:
    """Scores of one set of utterances at every decision point, grouped by source."""

    def __init__(self, model: BackchannelModel, utts: list[bd.Utterance]) -> None:
        self.utts = utts
        self.p = {t: np.array([model.score(bd.clip(u, t)) for u in utts]) for t in DECISION_MS}
        self.y = np.array([u.label for u in utts])

    def rates(self, t: int, thr: float, mask: np.ndarray | None = None) -> dict:
        m = np.ones(len(self.y), bool) if mask is None else mask
        p, y = self.p[t][m], self.y[m]
        bc, it = p[y == 1], p[y == 0]
        return {
            "n_bc": int(len(bc)), "n_int": int(len(it)),
            "bc_recall": round(float(np.mean(bc >= thr)), 3) if len(bc) else None,
            "interrupt_as_bc": round(float(np.mean(it >= thr)), 3) if len(it) else None,
            "auc": round(tb.auc(bc, it), 3) if len(bc) and len(it) else None,
        }

    def headline(self, prefix: str, thresholds: dict[int, float]) -> dict:
        out = {}
        for t in DECISION_MS:
            r = self.rates(t, thresholds[t])
            out[f"{prefix}bc_recall_t{t}"] = r["bc_recall"]
            out[f"{prefix}interrupt_as_bc_t{t}"] = r["interrupt_as_bc"]
            out[f"{prefix}auc_t{t}"] = r["auc"]
        out[f"{prefix}n_bc"] = int((self.y == 1).sum())
        out[f"{prefix}n_int"] = int((self.y == 0).sum())
        return out

    def by(self, key, thresholds: dict[int, float]) -> dict:
        groups = sorted({key(u) for u in self.utts})
        return {g: {t: self.rates(t, thresholds[t], np.array([key(u) == g for u in self.utts]))
                    for t in DECISION_MS} for g in groups}


def ami_set(line: bd.Line) -> list[bd.Utterance]:
    """AMI segments, short ones as backchannels and long ones as turn starts (see the docstring)."""
    out = []
    rng = np.random.default_rng(bd.SEED)
    for rttm in ("debug.development.rttm", "debug.test.rttm"):
        segs: dict[str, list[tuple[float, float]]] = {}
        for row in (bargein.DATA / "ami_meetings" / rttm).read_text().splitlines():
            f = row.split()
            if f and f[0] == "SPEAKER":
                segs.setdefault(f[1], []).append((float(f[3]), float(f[4]), f[7]))
        for name, ss in segs.items():
            x = bargein.read_8k(bargein.DATA / "ami_meetings" / f"{name}.wav")
            for start, dur, speaker in sorted(ss):
                if AMI_SHORT_S < dur < AMI_LONG_S:
                    continue
                on = int(start * 8000)
                if on - bd.PRE_MS * 8 < 0 or on + bd.POST_MS * 8 > len(x):
                    continue
                seg = x[on - bd.PRE_MS * 8: on + bd.POST_MS * 8]
                seg = seg * bargein.active_gain(seg, bargein.CALLER_DB)
                label = int(dur <= AMI_SHORT_S)
                for cond in ("clean", "noise+echo"):
                    audio = line.mix(seg, cond, rng)
                    out.append(bd.Utterance(label, f"{name}@{start:.2f}/{dur:.2f}s", f"ami/{name}/{speaker}", cond,
                                            audio, bd.PRE_MS * 8, "ami"))
    return out


def bargein_set() -> list[tuple[str, bd.Utterance]]:
    """The barge-in bench's real interruptions and backchannels as (half, utterance)."""
    noise = [bargein.read_8k(bargein.DATA / "noise" / n) for n in ("doing_the_dishes.wav", "exercise_bike.wav")]
    from turngate.speech.flite_tts import FliteTts

    kal = FliteTts("kal")
    bots = [mulaw.decode(kal.synthesize(t).audio).astype(np.float32) for t in bargein.BOT_TEXTS]
    cases = [c for c in bargein.real_interruptions(noise, False) + bargein.non_interruptions(noise, False)
             if c.kind in ("real", "backchannel")]
    clean_on: dict[str, int] = {}
    for c in cases:
        if c.kind == "backchannel" and c.condition == "clean":
            clean_on[c.source] = bargein.voiced_onset(c.caller, bargein.LEAD_MS - 100)
    out = []
    for c in cases:
        on_ms = c.voiced_ms if c.kind == "real" else clean_on[c.source]
        x = c.caller.astype(np.float32).copy()
        if c.echo is not None:
            bot = bots[c.bot % len(bots)]
            d = c.echo.delay_ms * 8
            n = min(len(x) - d, len(bot))
            x[d: d + n] += bot[:n] * 10 ** (-c.echo.attenuation_db / 20)
        pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
        audio = mulaw.decode(mulaw.encode(pcm)).astype(np.float32)
        src = c.source.split(":")[0] if c.kind == "real" else "backchannel"
        out.append((c.half, bd.Utterance(int(c.kind == "backchannel"), c.source, c.source, c.condition, audio,
                                         on_ms * 8, src)))
    return out


def cost_us(model: BackchannelModel, utts: list[bd.Utterance], repeats: int = 5) -> dict:
    """CPU microseconds per ``score`` call at t = 250 ms (a 350 ms clip), median of repeats."""
    clips = [bd.clip(u, 250) for u in utts[:200]]
    runs = []
    for _ in range(repeats):
        t0 = time.process_time()
        for c in clips:
            model.score(c)
        runs.append((time.process_time() - t0) / len(clips) * 1e6)
    return {"score_cpu_us_median": round(float(np.median(runs)), 1), "score_cpu_us_max": round(float(max(runs)), 1),
            "score_calls": len(clips) * repeats}


def _cost_clips() -> list[bd.Utterance]:
    """Deterministic clips for the cost run alone: noise-like sound 300 ms after 300 ms of floor."""
    rng = np.random.default_rng(bd.SEED)
    out = []
    for k in range(200):
        a = np.concatenate([rng.normal(0, 30, bd.PRE_MS * 8),
                            rng.normal(0, 1500, bd.POST_MS * 8)
                            * np.sin(np.arange(bd.POST_MS * 8) * (0.05 + k * 1e-4))])
        out.append(bd.Utterance(k % 2, "cost", "cost", "clean", a.astype(np.float32), bd.PRE_MS * 8, "cost"))
    return out


def caller_relative(line: bd.Line, val_utts: list[bd.Utterance], held_utts: list[bd.Utterance],
                    ami_utts: list[bd.Utterance]) -> dict:
    """The caller-relative experiment (``tb.CallerRelative``, not shipped), trained here on the
    training voices, thresholds on the validation voices; scored on the held-out voices (their
    reference: their own REFERENCE_PHRASES) and on AMI (a speaker's reference: their other
    segments of 1 s or more in the same condition, never the scored one)."""
    train = bd.synthetic_set(bd.TRAIN_VOICES, bd.INTERRUPTIONS_A, line, "train")
    refs = {**tb.references(bd.TRAIN_VOICES, line, "train"), **tb.references(bd.VALIDATION_VOICES, line, "val"),
            **tb.references(bd.HELDOUT_VOICES, line, "heldout")}
    model = tb.CallerRelative(train, refs, val_utts, refs)
    out: dict = {"thresholds": {str(t): round(v, 4) for t, v in model.thresholds.items() if t in DECISION_MS}}
    for name, utts, ref_of in (
        ("val", val_utts, lambda u: refs[u.voice]),
        ("heldout", held_utts, lambda u: refs[u.voice]),
        ("ami", ami_utts, lambda u: [r for r in ami_utts if r.voice == u.voice and r.label == 0
                                     and r.condition == u.condition and r.text != u.text]),
    ):
        keep = [u for u in utts if ref_of(u)]
        y = np.array([u.label for u in keep])
        for t in DECISION_MS:
            p = np.array([model.score(bd.clip(u, t), ref_of(u), t) for u in keep])
            bc, it = p[y == 1], p[y == 0]
            out[f"{name}_bc_recall_t{t}"] = round(float(np.mean(bc >= model.thresholds[t])), 3)
            out[f"{name}_interrupt_as_bc_t{t}"] = round(float(np.mean(it >= model.thresholds[t])), 3)
            out[f"{name}_auc_t{t}"] = round(tb.auc(bc, it), 3)
        out[f"{name}_n_bc"], out[f"{name}_n_int"] = int((y == 1).sum()), int((y == 0).sum())
    return out


def cues(sets: dict[str, Scored]) -> None:
    """A diagnostic, used to choose nothing: the AUC of each summary feature alone
    (backchannel over interruption; below 0.5: backchannels lower) on each set."""
    names = FEATURES[1:18]
    for t in (150, 250):
        table = {}
        for name, sc in sets.items():
            rows = [(features(bd.clip(u, t)), u.label) for u in sc.utts]
            F = np.array([f for f, _ in rows if f is not None])
            y = np.array([lab for f, lab in rows if f is not None])
            table[name] = [tb.auc(F[y == 1, i], F[y == 0, i]) for i in range(1, 18)]
        print(f"\nfeature alone, AUC at t = {t} ms: " + "  ".join(f"{n:>8}" for n in sets))
        for i, n in enumerate(names):
            print(f"  {n:<14}" + "".join(f"{table[s][i]:>10.2f}" for s in sets))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cost", action="store_true", help="only the CPU cost per score")
    ap.add_argument("--cues", action="store_true", help="also the AUC of each summary feature alone")
    ap.add_argument("--caller-relative", action="store_true",
                    help="also train and score the caller-relative experiment (~2 min more)")
    args = ap.parse_args()
    model = BackchannelModel.load()
    if args.cost:
        print(json.dumps({"bench": "backchannel_cost", **cost_us(model, _cost_clips())}))
        return
    t0 = time.time()
    line = bd.Line()
    val = Scored(model, bd.synthetic_set(bd.VALIDATION_VOICES, bd.INTERRUPTIONS_A, line, "val"))
    # The thresholds: recomputed on the validation split by the training tool's rule (and they
    # must be the model file's; a mismatch means the data or the tool changed since training).
    thr = {t: tb.threshold_for(val.p[t][val.y == 0], tb.MAX_FALSE_BC) for t in DECISION_MS}
    drift = {t: round(thr[t] - model.threshold(t), 4) for t in DECISION_MS if abs(thr[t] - model.threshold(t)) > 1e-6}
    held = Scored(model, bd.synthetic_set(bd.HELDOUT_VOICES, bd.INTERRUPTIONS_B, line, "heldout"))
    ami = Scored(model, ami_set(line))
    bench_cases = bargein_set()
    bh = Scored(model, [u for h, u in bench_cases if h == "heldout"])
    bt = Scored(model, [u for h, u in bench_cases if h == "tune"])
    thr_tune = {t: tb.threshold_for(bt.p[t][bt.y == 0], tb.MAX_FALSE_BC) for t in DECISION_MS}

    def length(u: bd.Utterance) -> str:
        return "bc" if u.label else "int one word" if len(u.text.split()) == 1 else "int 2+ words"

    per_source = {
        "validation by voice": val.by(lambda u: u.voice, thr),
        "validation by condition": val.by(lambda u: u.condition, thr),
        "heldout by voice": held.by(lambda u: u.voice, thr),
        "heldout by condition": held.by(lambda u: u.condition, thr),
        "heldout by length": held.by(length, thr),
        "ami by condition": ami.by(lambda u: u.condition, thr),
        "bargein heldout by source": bh.by(lambda u: u.source, thr),
        "bargein heldout by condition": bh.by(lambda u: u.condition, thr),
        "bargein tune by source": bt.by(lambda u: u.source, thr),
    }
    print(f"thresholds (validation, <= {tb.MAX_FALSE_BC:.0%} interruptions as backchannel): "
          + ", ".join(f"t{t} {thr[t]:.3f}" for t in DECISION_MS)
          + (f"; DIFFER from the model file's by {drift}" if drift else "; the model file's"))
    print("bargein tune-half thresholds (same rule): " + ", ".join(f"t{t} {thr_tune[t]:.3f}" for t in DECISION_MS))
    for name, table in per_source.items():
        print(f"\n{name}: per t: bc recall / interruptions as bc / AUC (n bc, n int)")
        for g, rows in table.items():
            cells = []
            for t in DECISION_MS:
                r = rows[t]
                cells.append(f"t{t} {r['bc_recall'] if r['bc_recall'] is not None else '-'}/"
                             f"{r['interrupt_as_bc'] if r['interrupt_as_bc'] is not None else '-'}/"
                             f"{r['auc'] if r['auc'] is not None else '-'}")
            r0 = rows[DECISION_MS[0]]
            print(f"  {g:<28} ({r0['n_bc']:>3}, {r0['n_int']:>3})  " + "  ".join(cells))
    # The curve: held-out recall at several false-backchannel rates (thresholds from validation).
    curve = {}
    for q in (0.02, 0.05, 0.10, 0.20):
        for t in DECISION_MS:
            th = tb.threshold_for(val.p[t][val.y == 0], q)
            r = held.rates(t, th)
            a = ami.rates(t, th)
            curve[f"val_false{int(q * 100)}_t{t}"] = {"heldout": [r["bc_recall"], r["interrupt_as_bc"]],
                                                     "ami": [a["bc_recall"], a["interrupt_as_bc"]]}
    print("\ncurve (threshold set on validation at each target false-backchannel rate): "
          "[bc recall, interruptions as bc] on held-out synthetic and on AMI")
    for k, v in curve.items():
        print(f"  {k}: heldout {v['heldout']}  ami {v['ami']}")
    line_out = {"bench": "backchannel", **held.headline("", thr), **held.headline("heldout_", thr),
                **val.headline("val_", thr), **ami.headline("ami_", thr),
                **bh.headline("bargein_heldout_", thr), **bt.headline("bargein_tune_", thr),
                **{f"bargein_heldout_{k}_tunethr": v for k, v in bh.headline("", thr_tune).items()
                   if k.startswith(("bc_", "interrupt_"))},
                "thresholds": {str(t): round(thr[t], 4) for t in DECISION_MS},
                **cost_us(model, held.utts), "wall_s": round(time.time() - t0)}
    if args.cues:
        cues({"val": val, "heldout": held, "ami": ami})
    print(json.dumps(line_out))
    if args.caller_relative:
        print(json.dumps({"bench": "backchannel_caller_relative",
                          **caller_relative(line, val.utts, held.utts, ami.utts)}))


if __name__ == "__main__":
    main()
