"""Embedded streaming STT: pocketsphinx 5 with a domain language model.

Weak but real, and offline. What makes it usable on a phone line:

- the caller's 8 kHz audio is upsampled to the 16 kHz the bundled acoustic
  model was trained on (a streaming soxr resampler per utterance); the band
  above 4 kHz stays empty, which the model tolerates far better than an
  8 kHz front end with a filterbank it was never trained on
  (``input_rate=8000``: WER 1.01 vs 0.47 on real clips, see bench/stt.py);
- the cepstral mean starts from the mean of real phone-band speech
  (``PHONE_SPEECH_CMN``) instead of pocketsphinx's generic guess, and keeps
  adapting across the utterances of one call. pocketsphinx's live CMN weighs
  its seed like 5 s of speech, so for short caller turns the seed decides a
  lot: on the bench's real (human) clips WER is 0.85 with the default
  ``40,3,-1`` and 0.51 with this one. A warm-up on flite speech
  (``warmup=True``) scores within noise of it on real speech and better on
  flite speech, which is no reason to tune a caller-facing default to it;
- the language model is built from the gateway's own phrases (``lm.py``),
  with a slice of the general model's vocabulary mixed in.

The final (``final``): pocketsphinx's defaults decode an utterance twice more at its
end (fwdflat: a flat-lexicon re-decode of the whole utterance; bestpath: a lattice
search), and the caller waits for both: 150-330 ms for a 3 s sentence and over 3 s for a
10-20 s conversation turn on the shared machine. The passes matter most on short
utterances: fwdflat turns "honestly i want to do you my life" into "... to end my
life", and short answers go from 0.52 to 0.32 WER (docs/benchmarks.md, "STT").

- ``final="auto"`` (the default): an utterance of up to ``rescore_under_ms`` of audio
  gets both passes; a longer one gets the streaming (fwdtree) hypothesis the partials
  already showed, at once, with confidence None (no lattice, no posterior: no measure), and its
  passes run later, in ``settle()``, which the shell calls after it has delivered the
  final (pocketsphinx cannot close an utterance without them). The CPU is spent as
  before; the caller no longer waits for it on long turns.
- ``final="rescore"``: both passes on every utterance, before the final.
- ``final="streaming"``: no second pass at all (fwdflat and bestpath off): every final
  in tens of ms, the least CPU, the weakest words.

One engine per process holds the built model files and a pool of decoders
(a decoder costs ~0.3 s to load, ~95 MB with the general model and a few MB
with the domain one; a call borrows one for its lifetime and gives it back on
``close``).

pocketsphinx holds the GIL while it decodes: feed it 20 ms frames as they
arrive (each call then blocks other threads for ~2 ms with the domain model,
~9 ms with the general one), never seconds of audio at once.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pocketsphinx
import soxr

from turngate.audio import mulaw
from turngate.core.events import WordTime
from turngate.errors import ConfigError
from turngate.speech import lm as lmbuild
from turngate.speech.stt import SttResult

__all__ = ["PocketsphinxEngine", "PocketsphinxStream"]

_MODEL_DIR = pocketsphinx.get_model_path()
_HMM = os.path.join(_MODEL_DIR, "en-us", "en-us")
_GENERAL_LM = os.path.join(_MODEL_DIR, "en-us", "en-us.lm.bin")
_CMUDICT = os.path.join(_MODEL_DIR, "en-us", "cmudict-en-us.dict")
_FRAME_MS = 10  # pocketsphinx frame rate is 100/s

# The cepstral mean of real speech through the phone path: pocketsphinx's live CMN after 60 s of
# VoxConverse file "aepyx" (CC BY 4.0; 8 kHz broadcast debate, four speakers),
# mu-law encoded and decoded, upsampled to 16 kHz. That file is not in the STT
# benchmark's test clips. Re-derive with bench/stt.py --derive-cmn.
PHONE_SPEECH_CMN = (
    "49.4739,33.2254,-44.4792,39.3824,-27.5324,-4.25258,5.85754,-32.7958,"
    "19.691,-16.7703,-1.73049,7.41299,-15.43"
)

# What the flite warm-up utterance says: ordinary call phrases, enough (~8 s) for a stable mean.
_WARMUP_TEXT = (
    "Hello, I'm calling about my appointment next Tuesday. "
    "Could you move it to the afternoon? My account number is four two seven one. "
    "Thank you, that's all I needed."
)


class PocketsphinxEngine:
    """``SttEngine`` for pocketsphinx. Build once per process; ``new_stream`` per call.

    ``language_model="domain"`` (the gateway default) builds a trigram model
    from ``BASE_PHRASES`` + ``phrases``; ``"general"`` uses the bundled 130k-word
    English model unchanged (for open-vocabulary speech).

    ``cmninit`` seeds the cepstral mean (None: pocketsphinx's own default);
    ``warmup=True`` then decodes flite speech through the phone path from that
    seed and uses the mean it ends with. ``input_rate=8000`` feeds pocketsphinx 8 kHz with a
    narrowband front end instead of upsampling (measured worse; kept to
    measure it). ``final`` and ``rescore_under_ms``: see the module docstring.
    """

    def __init__(
        self,
        phrases: Sequence[str] = (),
        *,
        language_model: Literal["domain", "general"] = "domain",
        general_weight: float = 0.2,
        general_vocab: int = 3000,
        input_rate: Literal[16000, 8000] = 16000,
        cmninit: str | None = PHONE_SPEECH_CMN,
        warmup: bool = False,
        partial_interval_ms: int = 100,
        decoder_options: dict[str, object] | None = None,
        final: Literal["auto", "streaming", "rescore"] = "auto",
        rescore_under_ms: int = 4000,
    ) -> None:
        if input_rate not in (16000, 8000):
            raise ConfigError("input_rate must be 16000 or 8000")
        self.language_model = language_model
        self.input_rate = input_rate
        self.partial_interval_ms = partial_interval_ms
        self._tmp = tempfile.TemporaryDirectory(prefix="turngate-stt-")
        options: dict[str, object] = {"hmm": _HMM, "loglevel": "FATAL"}
        if input_rate == 8000:
            # Narrowband front end: the filterbank must fit under 4 kHz. The model's
            # feat.params would override upperf, so use a copy of the model directory
            # whose feat.params says so (the big files are symlinks).
            options.update(hmm=self._narrowband_hmm(), samprate=8000, nfft=256)
        if language_model == "domain":
            options["lm"], options["dict"] = self._build_domain_model(phrases, general_weight, general_vocab)
            self.vocabulary_size = self._vocab_size
        elif language_model == "general":
            options["lm"], options["dict"] = _GENERAL_LM, _CMUDICT
            self.vocabulary_size = 0
        else:
            raise ConfigError(f"unknown language_model {language_model!r}")
        if final == "streaming":
            options.update(fwdflat=False, bestpath=False)
        elif final not in ("rescore", "auto"):
            raise ConfigError(f"unknown final {final!r}: auto, streaming or rescore")
        self.final = final
        # Utterances longer than this (audio fed, ms) get the streaming hypothesis as their final.
        self.rescore_under_ms = rescore_under_ms if final == "auto" else (0 if final == "streaming" else 1 << 30)
        options.update(decoder_options or {})
        if cmninit is not None:
            options["cmninit"] = cmninit
        self._options = options
        self._pool: list[pocketsphinx.Decoder] = []
        self._lock = threading.Lock()
        if warmup:
            options["cmninit"] = self._warm_up()
            self._pool.clear()  # the warm-up decoder was built with the old mean
        self.cmninit = str(options.get("cmninit", ""))

    # -- model building -------------------------------------------------------------------

    def _build_domain_model(self, phrases: Sequence[str], weight: float, top_k: int) -> tuple[str, str]:
        sentences = [w for w in (lmbuild.normalize(p) for p in (*lmbuild.BASE_PHRASES, *phrases)) if w]
        cmudict = lmbuild.read_cmudict(_CMUDICT)
        general: dict[str, float] = {}
        if weight > 0 and top_k > 0:
            # Unigram probabilities of the general model (logbase-1.0001 ints) for its commonest words.
            glm = pocketsphinx.NGramModel.readfile(_GENERAL_LM)
            scored = []
            for word in cmudict:
                score = glm.prob([word])
                if score > -400000:  # about log10 -17: real words, not the OOV floor
                    scored.append((score, word))
            scored.sort(reverse=True)
            general = {w: 1.0001 ** s for s, w in scored[:top_k]}
        vocab = {w for s in sentences for w in s} | set(general)
        missing = sorted(w for w in vocab if w not in cmudict)
        extra = lmbuild.flite_pronunciations(missing) if missing else {}
        lm_path = os.path.join(self._tmp.name, "domain.arpa")
        dict_path = os.path.join(self._tmp.name, "domain.dict")
        with open(lm_path, "w", encoding="utf-8") as f:
            f.write(lmbuild.build_arpa(sentences, general_unigrams=general, general_weight=weight))
        with open(dict_path, "w", encoding="utf-8") as f:
            for word in sorted(vocab):
                prons = cmudict.get(word) or ([extra[word]] if extra.get(word) else [])
                for i, pron in enumerate(prons):
                    f.write(f"{word if i == 0 else f'{word}({i + 1})'} {pron}\n")
        self._vocab_size = len(vocab)
        self.oov_words = tuple(missing)
        return lm_path, dict_path

    def _narrowband_hmm(self) -> str:
        hmm = os.path.join(self._tmp.name, "hmm8k")
        os.mkdir(hmm)
        for name in os.listdir(_HMM):
            if name != "feat.params":
                os.symlink(os.path.join(_HMM, name), os.path.join(hmm, name))
        with open(os.path.join(_HMM, "feat.params"), encoding="utf-8") as src:
            params = src.read().replace("-upperf 6800", "-upperf 3500")
        with open(os.path.join(hmm, "feat.params"), "w", encoding="utf-8") as dst:
            dst.write(params)
        return hmm

    def _warm_up(self) -> str:
        """Decode flite speech through the phone path; its cepstral mean seeds every stream."""
        from turngate.speech.flite_tts import FliteTts  # flite is only needed here

        audio = FliteTts("kal").synthesize(_WARMUP_TEXT).audio
        stream = self.new_stream()
        try:
            stream.start_utterance()
            stream.feed(mulaw.decode(audio))
            stream.end_utterance()
            return stream._decoder.get_cmn(False)
        finally:
            stream.close()

    # -- the pool -------------------------------------------------------------------------

    def new_stream(self) -> PocketsphinxStream:
        with self._lock:
            decoder = self._pool.pop() if self._pool else None
        if decoder is None:
            decoder = pocketsphinx.Decoder(**self._options)
        else:
            # Forget the previous caller's channel: cepstral mean and noise estimates.
            decoder.reinit_feat()
        return PocketsphinxStream(self, decoder)

    def _release(self, decoder: pocketsphinx.Decoder) -> None:
        with self._lock:
            self._pool.append(decoder)

    def close(self) -> None:
        with self._lock:
            self._pool.clear()
        self._tmp.cleanup()


class PocketsphinxStream:
    """One call's recogniser. Not shared between threads (one call, one worker at a time)."""

    def __init__(self, engine: PocketsphinxEngine, decoder: pocketsphinx.Decoder) -> None:
        self._engine = engine
        self._decoder: pocketsphinx.Decoder | None = decoder
        self._resampler: soxr.ResampleStream | None = None
        self._in_utterance = False
        self._samples = 0          # 8 kHz samples fed in this utterance
        self._next_check = 0       # sample count at which to look at the hypothesis again
        self._last_text = ""
        self._interval = engine.partial_interval_ms * 8
        self._unsettled = False    # a long utterance's final was given; its passes are still due

    def start_utterance(self) -> None:
        decoder = self._require()
        self.settle()
        if self._in_utterance:
            decoder.end_utt()
        if self._engine.input_rate == 16000:
            # float32, not int16: libsoxr dithers integer output with a random seed, and
            # that noise alone changes a word now and then from one run to the next.
            self._resampler = soxr.ResampleStream(8000, 16000, 1, dtype="float32", quality="MQ")
        decoder.start_utt()
        self._in_utterance = True
        self._samples = 0
        self._next_check = self._interval
        self._last_text = ""

    def feed(self, pcm8k: np.ndarray) -> list[SttResult]:
        decoder = self._require()
        if not self._in_utterance:
            self.start_utterance()
        pcm = np.asarray(pcm8k, dtype=np.int16)
        if pcm.size == 0:
            return []
        self._process(pcm, last=False)
        self._samples += pcm.size
        if self._samples < self._next_check:
            return []
        self._next_check = self._samples + self._interval
        hyp = decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        if not text or text == self._last_text:
            return []
        self._last_text = text
        return [SttResult(text=text, is_final=False, words=self._words(), audio_ms=self._samples // 8)]

    def end_utterance(self) -> SttResult:
        decoder = self._require()
        if not self._in_utterance:
            return SttResult(text="", is_final=True)
        self._process(np.zeros(0, dtype=np.int16), last=True)
        if self._engine.final == "auto" and self._samples // 8 > self._engine.rescore_under_ms:
            # A long turn: the streaming hypothesis now, the passes in settle().
            self._in_utterance = False
            self._unsettled = True
            hyp = decoder.hyp()
            return SttResult(text=hyp.hypstr if hyp is not None else "", is_final=True, confidence=None,
                             words=self._words(), audio_ms=self._samples // 8)
        decoder.end_utt()
        self._in_utterance = False
        hyp = decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        words = self._words()
        # Mean lattice posterior of the recognised words (pocketsphinx gives them linear
        # after end_utt). Correct in-domain sentences score ~0.95+, guesses at unknown
        # speech ~0.3; the whole-sentence posterior is too small to read as a confidence.
        posts = [seg.prob for seg in decoder.seg() if not seg.word.startswith(("<", "["))]
        # Without the lattice pass (``final="streaming"``) there is no posterior: None, no measure.
        scored = self._engine._options.get("bestpath", True)
        confidence = float(min(1.0, max(0.0, sum(posts) / len(posts)))) if text and posts and scored else None
        return SttResult(text=text, is_final=True, confidence=confidence, words=words,
                         audio_ms=self._samples // 8)

    def settle(self) -> None:
        """Run the passes a long utterance's final skipped (the decoder needs them to close
        the utterance). The shell calls it after delivering the final; off the caller's path."""
        if self._unsettled and self._decoder is not None:
            self._unsettled = False
            self._decoder.end_utt()

    def close(self) -> None:
        if self._decoder is None:
            return
        self.settle()
        if self._in_utterance:
            self._decoder.end_utt()
        self._engine._release(self._decoder)
        self._decoder = None

    def _require(self) -> pocketsphinx.Decoder:
        if self._decoder is None:
            raise RuntimeError("STT stream is closed")
        return self._decoder

    def _process(self, pcm: np.ndarray, *, last: bool) -> None:
        if self._resampler is not None:
            up = self._resampler.resample_chunk(pcm.astype(np.float32), last=last)
            pcm = np.clip(np.rint(up), -32768, 32767).astype(np.int16)
        if pcm.size:
            self._decoder.process_raw(pcm.tobytes(), False, False)

    def _words(self) -> tuple[WordTime, ...]:
        out = []
        for seg in self._decoder.seg():
            word = seg.word
            if word.startswith(("<", "[")):
                continue  # silence and noise fillers
            out.append(WordTime(word=word.split("(", 1)[0], start_ms=seg.start_frame * _FRAME_MS,
                                end_ms=(seg.end_frame + 1) * _FRAME_MS))
        return tuple(out)
