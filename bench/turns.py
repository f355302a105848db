"""How fast the bot answers once the caller stops, and how often it cuts in while they only paused.

Every case is one caller turn fed into a listening call on the audio clock
(``turngate.testing.harness.AudioHarness``: mu-law, the batched Silero VAD, the embedded
pocketsphinx STT with the policy's domain LM, the call core with the bundled policy's
turn-taking, Twilio-like playout), then silence. The agent answers with a flite sentence.

Turns:
  - ``conversation``: labelled speaker turns of the VoxConverse debate and the AMI meeting
    mixes (RTTM): a speaker's consecutive segments with gaps under 2 s and no other speaker
    starting in between form one turn; its gaps are within-speaker pauses the bot must
    not answer into. The turn's audio is cut from the mix (other speakers' overlap stays).
  - ``read``: cmu_arctic and LibriVox sentences, whole.
  - ``paused``: LibriVox sentences with a 700 ms silence inserted at the word boundary
    nearest the middle (pocketsphinx word alignments): "I'd like to move my appointment
    to ... Friday".
  - ``hesitation`` (reported apart, ``hesitation_*`` keys; not in the headline figures,
    which keep the 72 turns they were first measured on): the same 700 ms pause at more
    places inside a sentence, the issue's own definition of a premature cut-in ("the bot
    starting while the caller only paused mid-sentence"): the LibriVox sentences at the
    word boundaries nearest a third and two thirds of the way, the cmu_arctic sentences
    (word times from pocketsphinx's forced alignment to their ARCTIC prompts) at a third,
    the middle and two thirds. n = 5 x 2 + 7 x up to 3.

Reported:
  - response = end of the caller's speech (the label, or the last aligned word) -> the bot's
    first audio at the phone, in audio time, plus the wall-clock compute the answer waits
    for after the turn ends (the end-of-turn score, the STT final less the audio time it
    already had, the first sentence's flite synthesis, all measured here);
    the scripted agent adds nothing, a real model adds its time to first token
    (``--model-ttft-ms``, a constant, e.g. 500 for a cloud LLM).
  - cut-in = the bot's audio played before the caller's turn ended (a premature answer).
  - ``speculation_adopted``: answers started on the final at the candidate end and kept
    (``turn_taking.speculate``, ``core/speculation.py``); their first token and synthesis
    ran while the turn was still being decided. ``response_ms_*_unspeculated``: the same
    turns, same run and wall times, with the answer started at the turn's end instead
    (speculation never moves a turn's end, so this is the paired comparison).

The cases alternate between a tuning half and a held-out half (``heldout_*`` keys),
within each kind; a LibriVox sentence and its paused copy are in the same half (tuning
on one must not see the other).

The end-of-turn model (smart-turn, ``vad/smart_turn.py``) runs at candidate ends when its
wheel is installed; ``--no-turn-model`` runs without it (silence and words alone). Its
wall time is in the compute in series when its score ended the turn, in parallel with the
STT final when the utterance closed at the candidate end (``final_at_candidate``).

    .venv/bin/python bench/turns.py [--param NAME=VALUE] [--half tune|heldout] [--no-turn-model]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bargein import CALLER_DB, DATA, _param, active_gain, read_8k  # noqa: E402
from stt import decoder_options  # noqa: E402

from turngate.audio import mulaw  # noqa: E402
from turngate.core.actions import FinishTranscription, WriteDecision  # noqa: E402
from turngate.core.params import TurnParams  # noqa: E402
from turngate.policy import load_policy  # noqa: E402
from turngate.speech.flite_tts import FliteTts  # noqa: E402
from turngate.speech.lm import phrases_in  # noqa: E402
from turngate.speech.pocketsphinx_stt import PocketsphinxEngine  # noqa: E402
from turngate.testing.harness import AudioHarness  # noqa: E402
from turngate.vad import SileroBatch  # noqa: E402

LEAD_S = 0.5         # silence before the turn
TAIL_S = 3.0         # silence after it: the bot answers in here
MAX_GAP_S = 2.0      # a longer gap ends a speaker's turn
PAUSE_S = 0.7        # the inserted mid-sentence pause
REPLY = "Sure, I can help with that."
HALVES = ("tune", "heldout")


@dataclass
class Turn:
    kind: str
    source: str
    audio: np.ndarray        # float, int16 scale
    end_s: float             # the caller's speech ends here (in ``audio``)
    pauses: list[tuple[float, float]] = field(default_factory=list)  # within-turn pauses
    half: str = "tune"


def rttm_turns(path: Path) -> dict[str, list[tuple[float, float, list[tuple[float, float]]]]]:
    """Per recording: (start, end, within-speaker pauses) of each speaker turn."""
    rows: dict[str, list[tuple[float, float, str]]] = {}
    for line in path.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            rows.setdefault(f[1], []).append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    out: dict[str, list[tuple[float, float, list[tuple[float, float]]]]] = {}
    for rec, segs in rows.items():
        segs.sort()
        turns = []
        for spk in sorted({s[2] for s in segs}):
            mine = [s for s in segs if s[2] == spk]
            cur = [mine[0]]
            for s in mine[1:]:
                gap = (cur[-1][1], s[0])
                other = any(o[2] != spk and gap[0] <= o[0] < gap[1] for o in segs)
                if s[0] - cur[-1][1] < MAX_GAP_S and not other:
                    cur.append(s)
                else:
                    turns.append(cur)
                    cur = [s]
            turns.append(cur)
        out[rec] = [(t[0][0], max(s[1] for s in t),
                     [(a[1], b[0]) for a, b in zip(t, t[1:]) if b[0] > a[1]]) for t in turns]
    return out


def conversation_turns() -> list[Turn]:
    turns = []
    sources = [(DATA / "voxconverse_8k" / "aepyx.rttm", lambda r: DATA / "voxconverse_8k" / "aepyx_8k.wav")]
    sources += [(DATA / "ami_meetings" / r, lambda r: DATA / "ami_meetings" / f"{r}.wav")
                for r in ("debug.development.rttm", "debug.test.rttm")]
    for rttm, wav in sources:
        for rec, ts in rttm_turns(rttm).items():
            x = read_8k(wav(rec))
            for start, end, pauses in ts:
                if end - start < 0.4:
                    continue  # a cough or a one-syllable overlap, not a turn
                seg = x[int(start * 8000):int(end * 8000)]
                turns.append(Turn("conversation", f"{rec}@{start:.2f}", seg * active_gain(seg, CALLER_DB),
                                  end - start, [(a - start, b - start) for a, b in pauses],
                                  HALVES[len(turns) % 2]))
    return turns


def _aligned(p: Path) -> list[tuple[str, float, float]]:
    words = json.loads(p.with_suffix(".json").read_text())
    words = words.get("w", words) if isinstance(words, dict) else words
    return [(w["t"], float(w["b"]), float(w["b"]) + float(w["d"])) for w in words
            if w.get("t") not in ("<s>", "</s>", "<sil>", "(NULL)")]


def _arctic_prompts() -> dict[str, str]:
    import csv

    return {r["file"]: r["transcript"] for r in csv.DictReader((DATA / "cmu_arctic" / "transcripts.csv").open())}


def _arctic_words(p: Path, text: str) -> list[tuple[str, float, float]]:
    """(word, start s, end s) of a cmu_arctic clip, forced-aligned to its ARCTIC prompt
    ``text`` ([] when there is none or a word is not in the dictionary)."""
    import pocketsphinx
    import soundfile as sf

    if not text:
        return []
    x, sr = sf.read(p, dtype="int16")
    d = pocketsphinx.Decoder(loglevel="FATAL", samprate=sr)
    try:
        d.set_align_text(text)
    except (RuntimeError, ValueError):
        return []
    d.start_utt()
    d.process_raw(x.tobytes(), full_utt=True)
    d.end_utt()
    return [(seg.word.split("(")[0], seg.start_frame / 100, (seg.end_frame + 1) / 100) for seg in d.seg()
            if not seg.word.startswith(("<", "["))]


def _pause_at(seg: np.ndarray, cut_s: float) -> np.ndarray:
    cut = int(cut_s * 8000)
    return np.concatenate([seg[:cut], np.zeros(int(PAUSE_S * 8000), np.float32), seg[cut:]])


def _boundaries(words: list[tuple[str, float, float]], fractions: tuple[float, ...]) -> list[tuple[str, float]]:
    """(word, start) of the inner words whose starts are nearest each fraction of the sentence."""
    a, b = words[0][1], words[-1][2]
    inner = words[1:]
    picked: dict[float, str] = {}
    for f in fractions:
        w = min(inner, key=lambda w: abs(w[1] - (a + f * (b - a))))
        picked.setdefault(w[1], w[0])
    return [(w, t) for t, w in sorted(picked.items())]


def hesitation_turns(read: list[Turn]) -> list[Turn]:
    """A 700 ms pause at more places inside the read sentences (see the module docstring);
    each copy is in its sentence's half."""
    half = {t.source: t.half for t in read if t.kind == "read"}
    prompts = _arctic_prompts()
    turns = []
    for p in sorted(DATA.glob("cmu_arctic/*.wav")):
        words = _arctic_words(p, prompts.get(p.name, ""))
        if len(words) < 3:
            continue
        x = read_8k(p)
        on, off = _voiced_span(x)  # as read_turns cuts it
        seg = x[on:off]
        gain = active_gain(seg, CALLER_DB)
        for word, start in _boundaries(words, (1 / 3, 1 / 2, 2 / 3)):
            cut_s = start - on / 8000
            if 0.2 < cut_s < len(seg) / 8000 - 0.2:
                paused = _pause_at(seg, cut_s)
                turns.append(Turn("hesitation", f"arctic/{p.stem}+pause@{word}", paused * gain, len(paused) / 8000,
                                  [(cut_s, cut_s + PAUSE_S)], half[f"arctic/{p.stem}"]))
    for p in sorted(DATA.glob("librivox_pocketsphinx/librivox/*.wav")):
        words = _aligned(p)
        a, b = words[0][1], words[-1][2]
        seg = read_8k(p)[int(a * 8000):int(b * 8000)]
        gain = active_gain(seg, CALLER_DB)
        for word, start in _boundaries(words, (1 / 3, 2 / 3)):
            paused = _pause_at(seg, start - a)
            turns.append(Turn("hesitation", f"librivox/{p.stem[-4:]}+pause@{word.split('(')[0]}", paused * gain, len(paused) / 8000,
                              [(start - a, start - a + PAUSE_S)], half[f"librivox/{p.stem[-4:]}"]))
    return turns


def _voiced_span(x: np.ndarray) -> tuple[int, int]:
    """First and last sample of the 10 ms frames within 35 dB of the clip's loudest."""
    fr = x[: len(x) // 80 * 80].reshape(-1, 80).astype(np.float64)
    lv = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-9)
    voiced = np.nonzero(lv > lv.max() - 35)[0]
    return int(voiced[0]) * 80, (int(voiced[-1]) + 1) * 80


def read_turns() -> list[Turn]:
    turns = []
    for p in sorted(DATA.glob("cmu_arctic/*.wav")):
        x = read_8k(p)
        on, off = _voiced_span(x)
        seg = x[on:off]
        turns.append(Turn("read", f"arctic/{p.stem}", seg * active_gain(seg, CALLER_DB), len(seg) / 8000,
                          half=HALVES[len(turns) % 2]))
    k = 0
    for p in sorted(DATA.glob("librivox_pocketsphinx/librivox/*.wav")):
        x = read_8k(p)
        words = _aligned(p)
        a, b = words[0][1], words[-1][2]
        seg = x[int(a * 8000):int(b * 8000)]
        gain = active_gain(seg, CALLER_DB)
        half = HALVES[k % 2]  # the sentence and its paused copy: one half
        k += 1
        turns.append(Turn("read", f"librivox/{p.stem[-4:]}", seg * gain, len(seg) / 8000, half=half))
        # The same sentence with a pause in the middle: the caller looks for a word.
        mid = min(words[1:-1], key=lambda w: abs(w[1] - (a + b) / 2))
        cut = int((mid[1] - a) * 8000)
        paused = np.concatenate([seg[:cut], np.zeros(int(PAUSE_S * 8000), np.float32), seg[cut:]])
        turns.append(Turn("paused", f"librivox/{p.stem[-4:]}+pause@{mid[0]}", paused * gain,
                          len(paused) / 8000, [(cut / 8000, cut / 8000 + PAUSE_S)], half))
    return turns


@dataclass
class Result:
    turn: Turn
    response_ms: float | None   # None: the bot never answered
    cut_in: bool
    compute_ms: float
    rule: str = ""              # the first end-of-turn decision's rule
    score_ms: list[float] = field(default_factory=list)
    scores: list[tuple[int, float]] = field(default_factory=list)  # (ms into the turn, probability)
    speculated: bool = False    # the answer played was started before the turn ended
    response_unspeculated_ms: float | None = None  # the same turn had the answer started at its end
    drafts_dropped: int = 0     # answers started and cancelled (the caller went on, ...)
    # What the compute in series was made of (wall ms): the score that ended the turn, the STT
    # final, the audio time that final had already had, the first flite sentence.
    parts: dict[str, float] = field(default_factory=dict)
    heard: list[str] = field(default_factory=list)  # the caller's words as the call took them, per turn


class _TimedStt:
    """The STT engine, with the wall-clock time of each final (the answer waits for it)."""

    def __init__(self, engine: PocketsphinxEngine) -> None:
        self.engine = engine
        self.final_ms: list[float] = []

    def new_stream(self):  # type: ignore[no-untyped-def]
        stream = self.engine.new_stream()
        outer = self

        class Timed:
            def __getattr__(self, name):  # type: ignore[no-untyped-def]
                return getattr(stream, name)

            def end_utterance(self):  # type: ignore[no-untyped-def]
                t = time.perf_counter()
                r = stream.end_utterance()
                outer.final_ms.append((time.perf_counter() - t) * 1000)
                return r

        return Timed()


def run_turn(t: Turn, stt: _TimedStt, vad: SileroBatch, tts: FliteTts, params: TurnParams,
             turn_model: object, model_ttft_ms: float = 0.0) -> Result:
    synth_ms: list[float] = []

    def speak(text: str):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        s = tts.synthesize(text)
        synth_ms.append((time.perf_counter() - t0) * 1000)
        return s.audio, s.words

    stt.final_ms.clear()
    h = AudioHarness(stt=stt, vad=vad, tts=speak, params=params, model_reply=REPLY,  # type: ignore[arg-type]
                     turn_model=turn_model)
    try:
        x = np.concatenate([np.zeros(int(LEAD_S * 8000), np.float32), t.audio,
                            np.zeros(int(TAIL_S * 8000), np.float32)])
        pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
        h.feed(mulaw.decode(mulaw.encode(pcm)))
        h.speaker.finish()
        spans = list(h.speaker.spans)
    finally:
        vad.unregister("harness")
        if h.stt is not None:
            h.stt.close()
    end_ms = (LEAD_S + t.end_s) * 1000
    cut_in = any(s.start_ms < end_ms - 20 for s in spans)
    after = [s.start_ms for s in spans if s.start_ms >= end_ms - 20]
    ends = [(ms, a.decision) for ms, a in h.actions
            if isinstance(a, WriteDecision) and a.decision.gate == "turn" and a.decision.outcome == "end_of_turn"]
    rule = ends[0][1].rule if ends else ""
    # What the answer waits for after the turn ends (audio time): the score, if it ended the
    # turn; the STT final, less the audio time it has had since its utterance closed (at a
    # candidate end it runs while the model scores); then the model's first token
    # (--model-ttft-ms; the scripted agent's is 0) and the answer's first flite sentence.
    # A speculative answer adopted at the turn's end (core/speculation.py) started when that
    # final came back, so its first token and synthesis ran during the score or the silence.
    score = h.score_ms[-1] if rule == "turn.end.model_complete" and h.score_ms else 0.0
    synth = synth_ms[-1] if synth_ms else 0.0  # the answer played is the last one synthesized
    adopted = any(d.outcome == "speculation_adopted" for d in h.decisions("turn"))
    dropped = sum(d.outcome == "speculation_dropped" for d in h.decisions("turn"))
    final, waited = 0.0, 0.0
    if ends:
        closes = [ms for ms, a in h.actions if isinstance(a, FinishTranscription)]
        k = max((i for i, ms in enumerate(closes) if ms <= ends[0][0]), default=None)
        if k is not None and k < len(stt.final_ms):
            final, waited = stt.final_ms[k], ends[0][0] - closes[k]
    # Speculation never moves the turn's end, only when the answer can start: the same
    # turn without it (same run, same wall times) is the paired comparison.
    unspeculated = max(score, final - waited, 0.0) + model_ttft_ms + synth
    compute = max(score, final + model_ttft_ms + synth - waited, 0.0) if adopted else unspeculated
    resp = after[0] - end_ms + compute if after and not cut_in else None
    resp_unspeculated = after[0] - end_ms + unspeculated if after and not cut_in else None
    return Result(t, resp, cut_in, compute, rule, list(h.score_ms),
                  [(round(ms - LEAD_S * 1000), round(p, 4)) for ms, p in h.scores], adopted, resp_unspeculated,
                  dropped, {"score_ms": round(score, 1), "final_ms": round(final, 1), "final_waited_ms": round(waited, 1),
                            "synth_ms": round(synth, 1), "adopted": adopted},
                  [m["content"] for m in h.call.context if m["role"] == "user"])


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def summarize(rs: list[Result]) -> dict:
    resp = [r.response_ms for r in rs if r.response_ms is not None]
    plain = [r.response_unspeculated_ms for r in rs if r.response_unspeculated_ms is not None]
    return {"response_ms_p50": round(_pct(resp, 50), 1), "response_ms_p90": round(_pct(resp, 90), 1),
            "cutin_rate": round(sum(r.cut_in for r in rs) / max(1, len(rs)), 4),
            "unanswered": sum(r.response_ms is None and not r.cut_in for r in rs), "turns": len(rs),
            "response_ms_p50_unspeculated": round(_pct(plain, 50), 1),
            "response_ms_p90_unspeculated": round(_pct(plain, 90), 1),
            "speculation_adopted": sum(r.speculated for r in rs if r.response_ms is not None),
            "speculation_dropped": sum(r.drafts_dropped for r in rs)}


def params_line(p: TurnParams) -> str:
    names = ("end_silence_ms", "end_silence_complete_ms", "end_silence_open_ms", "turn_model_after_ms",
             "turn_model_threshold", "end_silence_unsure_ms", "speculate")
    return " ".join(f"{n}={getattr(p, n)}" for n in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="override a turn_taking field, e.g. --param end_silence_ms=500")
    ap.add_argument("--half", choices=("all", "tune", "heldout"), default="all")
    ap.add_argument("--decoder", action="append", default=[], metavar="NAME=VALUE",
                    help="a pocketsphinx option, e.g. --decoder bestpath=false (bench/stt.py takes the same)")
    ap.add_argument("--no-turn-model", action="store_true", help="without the end-of-turn model")
    ap.add_argument("--model-ttft-ms", type=float, default=0.0,
                    help="a model's time to first token, added to the answer (0: the scripted agent)")
    ap.add_argument("--dump", metavar="PATH", help="one JSON line per turn: kind, half, end, pauses, rule, scores, words heard")
    args = ap.parse_args()
    policy = load_policy(None)
    params = policy.turn_taking
    overrides = dict(_param(kv) for kv in args.param)
    if overrides:
        from dataclasses import replace
        params = replace(params, **overrides)
    import yaml

    phrases = phrases_in(yaml.safe_load((ROOT / "policies" / "default.yaml").read_text()))
    stt, vad, tts = _TimedStt(PocketsphinxEngine(phrases, decoder_options=decoder_options(args.decoder) or None)), SileroBatch(), FliteTts("kal")
    turns = conversation_turns() + read_turns()
    turns += hesitation_turns(turns)
    if args.half != "all":
        turns = [t for t in turns if t.half == args.half]
    from turngate.vad import smart_turn
    turn_model = None if args.no_turn_model else smart_turn.load()
    print(f"# end-of-turn model: {'off' if turn_model is None else turn_model.path.name}; {params_line(params)}")
    t0 = time.time()
    results = [run_turn(t, stt, vad, tts, params, turn_model, args.model_ttft_ms) for t in turns]
    print(f"{'kind':<13} {'n':>3} | {'resp p50':>8} {'p90':>6} | {'cut-in':>6} {'unanswered':>10}")
    for kind in ("conversation", "read", "paused", "hesitation"):
        rs = [r for r in results if r.turn.kind == kind]
        s = summarize(rs)
        print(f"{kind:<13} {len(rs):>3} | {s['response_ms_p50']:>8.0f} {s['response_ms_p90']:>6.0f} | "
              f"{sum(r.cut_in for r in rs):>6} {s['unanswered']:>10}")
    for r in results:
        if r.cut_in:
            print(f"  cut in: {r.turn.kind} {r.turn.source} (pauses {[round(b - a, 2) for a, b in r.turn.pauses]}) "
                  f"by {r.rule.rsplit('.', 1)[-1]}")
    if args.dump:
        with open(args.dump, "w") as f:
            for r in results:
                f.write(json.dumps({"kind": r.turn.kind, "source": r.turn.source, "half": r.turn.half,
                                    "end_ms": round(r.turn.end_s * 1000), "pauses": r.turn.pauses,
                                    "rule": r.rule, "cut_in": r.cut_in, "response_ms": r.response_ms,
                                    "compute_ms": r.compute_ms, "scores": r.scores, "heard": r.heard,
                                    **r.parts}) + "\n")
    rules: dict[str, int] = {}
    for r in results:
        rules[r.rule] = rules.get(r.rule, 0) + 1
    print("end-of-turn rules:", ", ".join(f"{k.rsplit('.', 1)[-1] or 'none'} {v}" for k, v in sorted(rules.items())))
    scores = [ms for r in results for ms in r.score_ms]
    if scores:
        print(f"end-of-turn model: {len(scores)} scores, wall p50 {_pct(scores, 50):.0f} ms, p90 {_pct(scores, 90):.0f} ms")
    compute = [r.compute_ms for r in results]
    print(f"compute in series (max(end-of-turn score if it ended the turn, STT final still due) + first flite sentence): p50 {_pct(compute, 50):.0f} ms, "
          f"p90 {_pct(compute, 90):.0f} ms; wall {time.time() - t0:.0f} s")
    answered = [r for r in results if r.response_ms is not None]
    print(f"speculative answers adopted: {sum(r.speculated for r in answered)} of {len(answered)} answered turns"
          f" (speculate={params.speculate}, model ttft {args.model_ttft_ms:.0f} ms)")
    # The headline keeps the turns it was first measured on; the hesitations are apart.
    main_rs = [r for r in results if r.turn.kind != "hesitation"]
    hes = [r for r in results if r.turn.kind == "hesitation"]
    line = {"bench": "turns", "half": args.half, **summarize(main_rs)}
    line |= {"hesitation_cutin_rate": summarize(hes)["cutin_rate"], "hesitation_turns": len(hes)}
    if args.half == "all":
        held = [r for r in main_rs if r.turn.half == "heldout"]
        line |= {f"heldout_{k}": v for k, v in summarize(held).items()}
        held_hes = [r for r in hes if r.turn.half == "heldout"]
        line |= {"heldout_hesitation_cutin_rate": summarize(held_hes)["cutin_rate"],
                 "heldout_hesitation_turns": len(held_hes)}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
