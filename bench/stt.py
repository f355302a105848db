"""Embedded STT on the phone path: word error rate, partial latency, CPU.

Every clip goes through what a call does to audio: resample to 8 kHz, G.711
mu-law encode and decode, then 20 ms frames into ``SttStream.feed`` (one
stream per clip, as one stream per call), then ``end_utterance``.

Sets:
  real     transcribed human speech in ../shared/data/audio (cmu_arctic,
           librivox_pocketsphinx incl. cards/forever/goforward, timit_sample, jfk);
           open-vocabulary read speech, so the domain LM is not expected to help.
  indomain contact-centre sentences spoken by flite voices slt, awb and rms
           (synthetic speech: no free recordings of such calls exist); the
           sentences are held out from the phrases the domain LM is built from.

Configurations (side by side in one run, so the noisy shared CPU hits all alike):
  general-16k   bundled 130k-word LM, 8 kHz upsampled to 16 kHz, cepstral mean
                seeded with PHONE_SPEECH_CMN (real phone-band speech; engine default)
  domain-16k    domain trigram LM from the policy's phrases (the gateway default)
  *-8k          narrowband front end instead (samprate 8000, nfft 256, upperf 3500)
  *-flitecmn    then a flite warm-up utterance adapts the mean (warmup=True)
  *-defcmn      pocketsphinx's default cmninit (40,3,-1)
  *-rescore     every final re-decodes its utterance (fwdflat + bestpath, pocketsphinx's
                defaults); *-streaming: no re-decode, the streaming hypothesis is the final;
                the others: final="auto", the gateway default (re-decode up to 4 s of
                audio, the streaming hypothesis beyond; the passes then run after the final)
  short         one- and two-word answers and backchannels by the same flite voices
                (domain configs only)

final_ms: wall-clock time of end_utterance (what the caller waits for after the turn).

first_partial_ms: audio time from speech onset to the first non-empty partial.
Onset = first aligned word (librivox .json), flite's first word time (indomain),
else the first 10 ms frame within 30 dB of the clip's loudest (energy onset).
cpu_per_audio_s: process CPU seconds spent in feed/end_utterance per second of audio.

The last line is the headline JSON: general-16k on the real set (real human
speech is what WER should be quoted on).

    .venv/bin/python bench/stt.py [--quick] [--verbose]
    .venv/bin/python bench/stt.py --finals      # streaming vs rescored finals only
    .venv/bin/python bench/stt.py --derive-cmn   # re-derive PHONE_SPEECH_CMN
"""

from __future__ import annotations

import argparse
import csv
import json
import functools
import resource
import threading
import statistics
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from turngate.audio import mulaw  # noqa: E402
from turngate.speech.flite_tts import FliteTts  # noqa: E402
from turngate.speech.lm import normalize, phrases_in  # noqa: E402
from turngate.speech.pocketsphinx_stt import PocketsphinxEngine  # noqa: E402
from turngate.speech.process_stt import ProcessSttEngine  # noqa: E402

AUDIO = ROOT.parent / "shared" / "data" / "audio"

# Used when policies/default.yaml is absent: what route examples look like.
FALLBACK_PHRASES = (
    "I want to change my appointment", "I need to reschedule my appointment",
    "can I move my booking to another day", "I'd like to book an appointment",
    "I want to pay my bill", "I'd like to make a payment", "can I pay by card",
    "I want a refund", "I was charged twice and I want my money back", "where is my refund",
    "I want to make a complaint", "I'm not happy with the service", "this is the third time I've called",
    "I want to cancel my account", "please cancel my subscription", "I'm thinking of leaving",
    "what are your opening hours", "where is your nearest branch", "how do I reset my password",
    "I want to talk to a person", "let me speak to a manager", "can I talk to someone",
)

# Held out: none of these sentences is in the phrases above or in lm.BASE_PHRASES.
INDOMAIN_TEST = (
    "Hi, I need to change my appointment to next Thursday.",
    "Can I move my appointment to the afternoon?",
    "I would like to pay my bill by card.",
    "I was charged twice this month and I want a refund.",
    "I want to cancel my subscription.",
    "I want to speak to a manager please.",
    "What time do you open on Saturday?",
    "No, that's wrong, it's Tuesday not Monday.",
    "Yes, ten in the morning is fine.",
    "I'm not happy with how my complaint was handled.",
    "Wait, can you repeat that?",
    "My account number is four five six seven.",
)

# Short answers and backchannels: the recogniser's weak spot, and what the final's
# second passes help most (not in the phrases the domain LM is built from as sentences).
SHORT_TEST = (
    "Uh-huh.", "Yeah.", "Okay.", "Stop.", "Wait.", "Hold on.", "No.", "Yes please.",
    "That's right.", "Thank you.", "Tuesday.", "Not really.",
)


@dataclass(slots=True)
class Clip:
    name: str
    set: str
    pcm8k: np.ndarray  # after the mu-law round trip
    ref: list[str]
    onset_ms: int


def phone_path(pcm: np.ndarray, rate: int) -> np.ndarray:
    x = pcm.astype(np.float32)
    if rate != 8000:
        x = soxr.resample(x, rate, 8000, quality="HQ")
    x = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    return mulaw.decode(mulaw.encode(x))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels())[:, 0]
        return data, w.getframerate()


def energy_onset_ms(pcm8k: np.ndarray) -> int:
    frames = pcm8k[: len(pcm8k) // 80 * 80].reshape(-1, 80).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1)) + 1e-9
    db = 20 * np.log10(rms / rms.max())
    return int(np.argmax(db > -30.0)) * 10


def real_clips() -> list[Clip]:
    clips: list[Clip] = []

    def add(name: str, pcm: np.ndarray, rate: int, text: str, onset: int | None = None) -> None:
        x = phone_path(pcm, rate)
        clips.append(Clip(name, "real", x, normalize(text), energy_onset_ms(x) if onset is None else onset))

    arctic = AUDIO / "cmu_arctic"
    with open(arctic / "transcripts.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["transcript"].strip():
                add(f"arctic/{row['file']}", *read_wav(arctic / row["file"]), row["transcript"])
    lib = AUDIO / "librivox_pocketsphinx"
    for txt in sorted((lib / "librivox").glob("*.txt")):
        words = json.loads(txt.with_suffix(".json").read_text())["w"]
        onset = next(round(w["b"] * 1000) for w in words if not w["t"].startswith("<"))
        add(f"librivox/{txt.stem[-4:]}", *read_wav(txt.with_suffix(".wav")), txt.read_text(), onset)
    for line in (lib / "cards" / "cards.transcription").read_text().splitlines():
        text, _, fid = line.rpartition("(")
        fid = fid.strip(") ")
        text = text.replace("<s>", "").replace("</s>", "")
        add(f"cards/{fid}", *read_wav(lib / "cards" / f"{fid}.wav"), text)
    add("forever/input_2", *read_wav(lib / "forever" / "input_2_16k.wav"), "feels like these days go on forever")
    add("goforward", *read_wav(lib / "goforward.wav"), "go forward ten meters")
    timit = AUDIO / "timit_sample"
    ref = (timit / "LDC93S1.txt").read_text().split(maxsplit=2)[2]
    add("timit/LDC93S1", *read_wav(timit / "LDC93S1_pcms16le_1_16000.wav"), ref)
    try:
        import soundfile

        data, rate = soundfile.read(str(AUDIO / "jfk" / "jfk.flac"), dtype="int16")
        with open(AUDIO / "jfk" / "transcripts.csv", newline="") as f:
            text = next(r["transcript"] for r in csv.DictReader(f) if r["file"] == "jfk.flac")
        add("jfk", data[:, 0] if data.ndim > 1 else data, rate, text)
    except ImportError:
        print("# soundfile missing: jfk.flac skipped", file=sys.stderr)
    return clips


def indomain_clips(voices: tuple[str, ...], texts: tuple[str, ...] = INDOMAIN_TEST,
                   set_name: str = "indomain") -> list[Clip]:
    clips = []
    pad = np.zeros(2400, dtype=np.int16)  # 300 ms of line silence each side, as a VAD pre-roll gives
    for voice in voices:
        tts = FliteTts(voice)
        for i, text in enumerate(texts):
            syn = tts.synthesize(text)
            pcm = np.concatenate([pad, mulaw.decode(syn.audio), pad])
            onset = 300 + (syn.words[0].start_ms if syn.words else 0)
            clips.append(Clip(f"{voice}/{i:02d}", set_name, pcm, normalize(text), onset))
    return clips


def edits(ref: list[str], hyp: list[str]) -> int:
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[-1]


def run(engine: PocketsphinxEngine, clips: list[Clip]) -> dict:
    errs = nref = 0
    firsts: list[int] = []
    cpu = audio_s = 0.0
    finals: list[float] = []
    missing_partial = 0
    rows = []
    for clip in clips:
        stream = engine.new_stream()
        first = None
        t0 = time.process_time()
        stream.start_utterance()
        for i in range(0, len(clip.pcm8k), 160):
            for r in stream.feed(clip.pcm8k[i:i + 160]):
                if first is None and r.text:
                    first = r.audio_ms
        t1 = time.perf_counter()
        final = stream.end_utterance()
        finals.append((time.perf_counter() - t1) * 1000)
        stream.settle()  # deferred passes of a long utterance (auto): CPU, not waited for
        cpu += time.process_time() - t0
        stream.close()
        audio_s += len(clip.pcm8k) / 8000
        hyp = final.text.split()
        e = edits(clip.ref, hyp)
        errs += e
        nref += len(clip.ref)
        if first is None:
            missing_partial += 1
        else:
            firsts.append(first - clip.onset_ms)
        rows.append((clip.name, e, len(clip.ref), final.text, final.confidence))
    return {
        "wer": errs / max(nref, 1),
        "words": nref,
        "clips": len(clips),
        "first_partial_ms_p50": statistics.median(firsts) if firsts else None,
        "first_partial_ms_p90": float(np.percentile(firsts, 90)) if firsts else None,
        "no_partial": missing_partial,
        "cpu_per_audio_s": cpu / audio_s,
        "final_ms_p50": statistics.median(finals),
        "final_ms_p90": float(np.percentile(finals, 90)),
        "rows": rows,
    }


def domain_phrases() -> tuple[list[str], str]:
    policy = ROOT / "policies" / "default.yaml"
    if policy.exists():
        import yaml

        found = phrases_in(yaml.safe_load(policy.read_text()))
        if found:
            return found, str(policy.relative_to(ROOT))
    return list(FALLBACK_PHRASES), "bench FALLBACK_PHRASES"


AGENT_LINES = (
    "Thanks for calling. How can I help you today?",
    "I can help you change your appointment. Which day works best for you?",
    "Your appointment is now on Thursday the fourteenth at ten thirty in the morning.",
    "Before I can take a payment, I need to verify your identity. What is your date of birth?",
    "I'm sorry to hear that. I'm transferring you to a colleague who can help with your complaint.",
)


def tts_cost() -> list[str]:
    """flite synthesis cost per voice: wall and CPU (flite child processes) per audio second."""
    lines = []
    for voice in ("kal", "slt", "awb", "rms", "kal16"):
        tts = FliteTts(voice)
        audio_ms = 0
        walls = []
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p0 = time.process_time()
        for text in AGENT_LINES:
            t = time.perf_counter()
            audio_ms += tts.synthesize(text).duration_ms
            walls.append(time.perf_counter() - t)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime) + (time.process_time() - p0)
        lines.append(f"# tts {voice:5} wall/audio_s={sum(walls) / (audio_ms / 1000):.3f} "
                     f"cpu/audio_s={cpu / (audio_ms / 1000):.3f} "
                     f"sentence p50 wall={statistics.median(walls) * 1000:.0f} ms "
                     f"(sentences of {audio_ms / len(AGENT_LINES) / 1000:.1f} s audio on average)")
    return lines


def main_thread_stalls(engine, pcm: np.ndarray, calls: int) -> tuple[float, float]:
    """Decode ``calls`` streams in worker threads as fast as they go; meanwhile the main
    thread (the asyncio loop's stand-in) sleeps 1 ms at a time. Returns its p99 and max
    oversleep in ms: how long STT kept it from running."""
    def call() -> None:
        stream = engine.new_stream()
        stream.start_utterance()
        for i in range(0, len(pcm), 160):
            stream.feed(pcm[i:i + 160])
        stream.end_utterance()
        stream.close()

    threads = [threading.Thread(target=call) for _ in range(calls)]
    for t in threads:
        t.start()
    late = []
    while any(t.is_alive() for t in threads):
        t0 = time.perf_counter()
        time.sleep(0.001)
        late.append((time.perf_counter() - t0) * 1000 - 1.0)
    for t in threads:
        t.join()
    return float(np.percentile(late, 99)), max(late)


def derive_cmn(input_rate: int = 16000) -> str:
    """The cepstral mean after 60 s of VoxConverse aepyx through the phone path."""
    pcm, rate = read_wav(AUDIO / "voxconverse_8k" / "aepyx_8k.wav")
    engine = PocketsphinxEngine(language_model="domain", cmninit=None, input_rate=input_rate)
    stream = engine.new_stream()
    stream.start_utterance()
    stream.feed(phone_path(pcm, rate)[: 60 * 8000])
    stream.end_utterance()
    return stream._decoder.get_cmn(False)


def decoder_options(pairs: list[str]) -> dict[str, object]:
    """``NAME=VALUE`` pairs as pocketsphinx options: true/false as booleans, numbers as numbers."""
    out: dict[str, object] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        low = value.strip().lower()
        if low in ("true", "false"):
            out[name.strip()] = low == "true"
        else:
            try:
                out[name.strip()] = float(value) if any(c in value for c in ".e") else int(value)
            except ValueError:
                out[name.strip()] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one flite voice, skip the 8k and default-CMN variants")
    ap.add_argument("--verbose", action="store_true", help="print every clip's hypothesis")
    ap.add_argument("--finals", action="store_true",
                    help="only the streaming and rescored finals of both LMs (all voices)")
    ap.add_argument("--derive-cmn", action="store_true", help="print the phone-speech cepstral mean and exit")
    ap.add_argument("--decoder", action="append", default=[], metavar="NAME=VALUE",
                    help="a pocketsphinx option for every engine, e.g. --decoder bestpath=false")
    args = ap.parse_args()
    decoder = decoder_options(args.decoder)
    if args.derive_cmn:
        print(derive_cmn())
        return

    phrases, source = domain_phrases()
    real = real_clips()
    voices = ("slt",) if args.quick else ("slt", "awb", "rms")
    indomain = indomain_clips(voices)
    short = indomain_clips(voices, SHORT_TEST, "short")
    print(f"# real: {len(real)} clips, {sum(len(c.pcm8k) for c in real) / 8000:.1f} s; "
          f"indomain: {len(indomain)} clips; domain LM phrases: {len(phrases)} from {source}")

    configs: list[tuple[str, dict, list[tuple[str, list[Clip]]]]] = [
        ("general-16k", {"language_model": "general"}, [("real", real), ("indomain", indomain)]),
        ("domain-16k", {"language_model": "domain"}, [("real", real), ("indomain", indomain), ("short", short)]),
        ("general-16k-rescore", {"language_model": "general", "final": "rescore"},
         [("real", real), ("indomain", indomain)]),
        ("domain-16k-rescore", {"language_model": "domain", "final": "rescore"},
         [("real", real), ("indomain", indomain), ("short", short)]),
        ("general-16k-streaming", {"language_model": "general", "final": "streaming"},
         [("real", real), ("indomain", indomain)]),
        ("domain-16k-streaming", {"language_model": "domain", "final": "streaming"},
         [("real", real), ("indomain", indomain), ("short", short)]),
    ]
    if not args.quick and not args.finals:
        # The 8 kHz front end computes different cepstra: seed it with its own phone-speech mean.
        for suffix, extra in (("8k", {"input_rate": 8000, "cmninit": derive_cmn(8000)}),
                              ("flitecmn", {"warmup": True}),
                              ("defcmn", {"cmninit": None})):
            configs += [
                (f"general-16k-{suffix}" if suffix != "8k" else "general-8k",
                 {"language_model": "general", **extra}, [("real", real)]),
                (f"domain-16k-{suffix}" if suffix != "8k" else "domain-8k",
                 {"language_model": "domain", **extra}, [("indomain", indomain)]),
            ]
    results: dict[tuple[str, str], dict] = {}
    header = (f"{'config':20} {'set':9} {'WER':>6} {'words':>5} {'1st partial p50/p90 ms':>22} {'none':>4} "
              f"{'cpu/s':>6} {'final ms p50/p90':>16} {'build s':>7}")
    print(header)
    for name, kwargs, sets in configs:
        t0 = time.perf_counter()
        engine = PocketsphinxEngine(phrases, **kwargs, decoder_options=decoder or None)
        build = time.perf_counter() - t0
        for set_name, clips in sets:
            r = run(engine, clips)
            results[(name, set_name)] = r
            p50, p90 = r["first_partial_ms_p50"], r["first_partial_ms_p90"]
            print(f"{name:20} {set_name:9} {r['wer']:6.3f} {r['words']:5d} "
                  f"{p50 if p50 is not None else '-':>10}/{p90 if p90 is not None else '-':<11} "
                  f"{r['no_partial']:4d} {r['cpu_per_audio_s']:6.3f} "
                  f"{r['final_ms_p50']:>8.0f}/{r['final_ms_p90']:<7.0f} {build:7.2f}", flush=True)
            if args.verbose:
                for row in r["rows"]:
                    print(f"    {row[0]:24} {row[1]:2d}/{row[2]:2d} conf={row[4]:.2f} {row[3]!r}")
        engine.close()
    if args.finals:
        print(json.dumps({"bench": "stt", "mode": "finals", **{
            f"wer_{name.replace('-16k', '').replace('-', '_')}_{set_name}": round(r["wer"], 4)
            for (name, set_name), r in results.items()}}))
        return

    for line in tts_cost():
        print(line, flush=True)
    # The GIL: pocketsphinx decodes without releasing it.
    phrases_engine = functools.partial(PocketsphinxEngine, phrases)
    pcm = np.concatenate([c.pcm8k for c in real[:4]])
    local = phrases_engine()
    p99, worst = main_thread_stalls(local, pcm, 4)
    print(f"# gil  in-process, 4 calls in threads: main thread late p99 {p99:.1f} ms, max {worst:.1f} ms")
    local.close()
    remote = ProcessSttEngine(phrases_engine, workers=2)
    p99, worst = main_thread_stalls(remote, pcm, 4)
    print(f"# gil  ProcessSttEngine(workers=2), 4 calls: main thread late p99 {p99:.1f} ms, max {worst:.1f} ms")
    remote.close()
    head = results[("general-16k", "real")]
    print(json.dumps({
        "bench": "stt",
        "wer": round(head["wer"], 4),
        "first_partial_ms_p50": head["first_partial_ms_p50"],
        "cpu_per_audio_s": round(head["cpu_per_audio_s"], 4),
    }))


if __name__ == "__main__":
    main()
