"""Embedded TTS: Debian's ``flite`` binary, one subprocess per sentence.

flite survives the 8 kHz mu-law phone path intelligibly (espeak-ng is faster
but garbled after mu-law). Word times come from flite itself: ``-psdur`` prints
every phone segment with its end time, and a second run that speaks each token
as its own sentence ("tok1. tok2.") tells how many of those phones belong to
each token (flite inserts a pause between sentences). Both runs go in parallel.
Should the counts disagree (a post-lexical rule that depends on context), the
times fall back to an estimate proportional to phone/character counts and the
``Synthesis`` says so. A token's count does not depend on its neighbours (each is
spoken as its own sentence), so counts are kept per token: the second run is
needed only for tokens not seen before, and most sentences need one process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import wave

import numpy as np
import soxr

from turngate.core.events import WordTime
from turngate.errors import ConfigError, ProviderError
from turngate.audio import mulaw
from turngate.speech.tts import Synthesis

__all__ = ["FliteTts", "VOICES"]

VOICES = ("kal", "kal16", "awb", "rms", "slt")
_PAUSE = "pau"
_WORD_CHARS = re.compile(r"[\w']")
_PLAIN_WORD = re.compile(r"^[\"'(\[]*[A-Za-z]+(?:'[A-Za-z]+)*[.,;:!?\"')\]]*$")
_COUNTS_KEPT = 50_000  # tokens; a call centre's vocabulary fits, an unbounded stream does not grow it


class FliteTts:
    """``TtsEngine`` over ``/usr/bin/flite``; stateless, so any thread may call it."""

    def __init__(self, voice: str = "kal", *, binary: str = "flite", timeout_s: float = 30.0) -> None:
        if voice not in VOICES:
            raise ConfigError(f"flite voice {voice!r} is not one of {', '.join(VOICES)}")
        path = shutil.which(binary)
        if path is None:
            raise ConfigError(f"flite binary {binary!r} not found (apt-get install flite)")
        self.voice = voice
        self._binary = path
        self._timeout_s = timeout_s
        self._phones: dict[str, int] = {}  # token -> phones (dict get/set are atomic: threads share it)

    def synthesize(self, text: str) -> Synthesis:
        text = " ".join(text.split())
        tokens = [t for t in text.split(" ") if _WORD_CHARS.search(t)]
        if not tokens:
            return Synthesis(text=text, audio=b"")
        fd, wav_path = tempfile.mkstemp(prefix="turngate-flite-", suffix=".wav")
        os.close(fd)
        procs: list[subprocess.Popen[str]] = []
        unknown = list(dict.fromkeys(t for t in tokens if t not in self._phones))
        try:
            main = subprocess.Popen(
                [self._binary, "-voice", self.voice, "-psdur", "-t", text, "-o", wav_path],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            procs.append(main)
            counter = None
            if unknown:
                # Phones per token: the lexicon is shared by all voices, so the fastest voice answers.
                counter = subprocess.Popen(
                    [self._binary, "-voice", "kal", "-ps", "-t", " ".join(t + "." for t in unknown), "none"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                )
                procs.append(counter)
            segs_out, err = main.communicate(timeout=self._timeout_s)
            per_token_out = counter.communicate(timeout=self._timeout_s)[0] if counter is not None else ""
            if main.returncode != 0:
                raise ProviderError("flite", f"exit {main.returncode}: {err.strip()[:200]}")
            pcm, rate = _read_wav(wav_path)
        except subprocess.TimeoutExpired as exc:
            raise ProviderError("flite", "synthesis timed out") from exc
        except OSError as exc:
            raise ProviderError("flite", f"cannot run flite: {exc}") from exc
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            os.unlink(wav_path)
        if rate != 8000:
            # float32 in and out: libsoxr would dither int16 output with random noise.
            pcm = soxr.resample(pcm.astype(np.float32), rate, 8000, quality="HQ")
            pcm = np.clip(np.round(pcm), -32768, 32767).astype(np.int16)
        segments = _parse_segments(segs_out)
        if unknown:
            new = _phone_counts(per_token_out)
            if len(new) != len(unknown):
                # Some token reads as several phrases ("0800-123-4567", an e-mail address):
                # count its phones in a run of its own.
                new = self._count_one_by_one(unknown)
            if len(self._phones) > _COUNTS_KEPT:
                self._phones.clear()
            self._phones.update((t, n) for t, n in zip(unknown, new) if n > 0)
            fresh = dict(zip(unknown, new))
        else:
            fresh = {}
        counts = [fresh[t] if t in fresh else self._phones.get(t, 0) for t in tokens]
        words, estimated = _word_times(tokens, segments, counts, len(pcm) * 1000 // 8000)
        return Synthesis(text=text, audio=mulaw.encode(pcm), words=words, words_estimated=estimated)

    def _count_one_by_one(self, tokens: list[str]) -> list[int]:
        # Plain words still go in one batch (a word is one phrase); the others get a run each.
        plain = [i for i, t in enumerate(tokens) if _PLAIN_WORD.match(t)]
        other = sorted(set(range(len(tokens))) - set(plain))
        procs = [
            subprocess.Popen([self._binary, "-voice", "kal", "-ps", "-t", tokens[i], "none"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for i in other
        ]
        counts = [0] * len(tokens)
        if plain:
            out = subprocess.run(
                [self._binary, "-voice", "kal", "-ps", "-t", " ".join(tokens[i] + "." for i in plain), "none"],
                capture_output=True, text=True, timeout=self._timeout_s).stdout
            groups = _phone_counts(out)
            if len(groups) != len(plain):
                groups = [0] * len(plain)  # cannot attribute: the caller falls back to an estimate
            for i, n in zip(plain, groups):
                counts[i] = n
        for i, proc in zip(other, procs):
            out, _ = proc.communicate(timeout=self._timeout_s)
            counts[i] = sum(_phone_counts(out))
        return counts


def _read_wav(path: str) -> tuple[np.ndarray, int]:
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ProviderError("flite", "unexpected wav format")
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def _parse_segments(out: str) -> list[tuple[str, int]]:
    """``pau:0.220 ay:0.415 ...`` -> [(phone, end_ms), ...]."""
    segs = []
    for item in out.split():
        phone, _, end = item.rpartition(":")
        try:
            segs.append((phone, round(float(end) * 1000)))
        except ValueError:
            continue
    return segs


def _phone_counts(out: str) -> list[int]:
    """``pau ay pau w aa n t pau ...`` -> phones per sentence (= per token): [1, 4, ...]."""
    counts, n = [], 0
    for phone in out.split():
        if phone == _PAUSE:
            if n:
                counts.append(n)
            n = 0
        else:
            n += 1
    if n:
        counts.append(n)
    return counts


def _clean(token: str) -> str:
    return token.strip(".,;:!?\"()[]{}")


def _word_times(
    tokens: list[str], segments: list[tuple[str, int]], counts: list[int], total_ms: int
) -> tuple[tuple[WordTime, ...], bool]:
    # Start of each phone = end of the one before it; pauses take time but belong to no word.
    phones: list[tuple[int, int]] = []
    prev_end = 0
    for phone, end in segments:
        if phone != _PAUSE:
            phones.append((prev_end, end))
        prev_end = end
    if len(counts) == len(tokens) and sum(counts) == len(phones) and phones:
        words, i = [], 0
        for tok, n in zip(tokens, counts):
            words.append(WordTime(word=_clean(tok), start_ms=phones[i][0], end_ms=phones[i + n - 1][1]))
            i += n
        return tuple(words), False
    # Fallback: share the speech span (first to last phone) by character count.
    lo = phones[0][0] if phones else 0
    hi = phones[-1][1] if phones else total_ms
    weights = np.array([max(1, len(_clean(t))) for t in tokens], dtype=float)
    edges = lo + np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum() * (hi - lo)
    words = tuple(
        WordTime(word=_clean(t), start_ms=int(round(edges[k])), end_ms=int(round(edges[k + 1])))
        for k, t in enumerate(tokens)
    )
    return words, True
