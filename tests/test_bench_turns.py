"""bench/turns.py's mid-sentence pauses (``hesitation``): each pause sits inside its
sentence, between two aligned words, and in its sentence's half, so tuning on one half
never sees a copy of a held-out sentence."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "audio"

pytestmark = pytest.mark.skipif(not (DATA / "cmu_arctic").is_dir(), reason="needs ../shared/data/audio")


@pytest.fixture(scope="module")
def turns():
    sys.path[:0] = [str(ROOT / "bench")]
    import turns

    return turns


def test_forced_alignment_gives_the_prompts_words_in_order(turns):
    prompts = turns._arctic_prompts()
    words = turns._arctic_words(DATA / "cmu_arctic" / "cmu_arctic_us_aew_a0003.wav",
                                prompts["cmu_arctic_us_aew_a0003.wav"])
    assert [w for w, _, _ in words] == "for the twentieth time that evening the two men shook hands".split()
    starts = [a for _, a, _ in words]
    assert starts == sorted(starts)
    assert prompts["arctic_a0024.wav"] == ""  # no verified prompt: no words, no hesitation cases
    assert turns._arctic_words(DATA / "cmu_arctic" / "arctic_a0024.wav", prompts["arctic_a0024.wav"]) == []


def test_hesitations_pause_inside_the_sentence_in_its_own_half(turns):
    read = turns.read_turns()
    half = {t.source: t.half for t in read if t.kind == "read"}
    hes = turns.hesitation_turns(read)
    assert len(hes) >= 25
    for t in hes:
        sentence = t.source.split("+")[0]
        assert t.half == half[sentence], t.source
        (a, b), = t.pauses
        assert b - a == pytest.approx(turns.PAUSE_S)
        assert 0.2 < a and b < t.end_s - 0.2, t.source
        # the inserted silence is silence, and the sentence is on both sides of it
        pause = t.audio[int(a * 8000) + 8:int(b * 8000) - 8]
        assert not np.any(pause)
        assert np.abs(t.audio[:int(a * 8000)]).max() > 100 and np.abs(t.audio[int(b * 8000):]).max() > 100
    assert len({t.source for t in hes}) == len(hes)
