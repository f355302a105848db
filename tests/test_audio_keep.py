"""Kept caller audio: only where the policy allows, with every stretch that held PII muted."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from turngate.audio import mulaw
from turngate.core.decisions import Decision
from turngate.server.audio_keep import MARGIN_MS, AudioKeeper, audio_path, muted_spans


def _d(seq, at, gate, outcome, **ev):
    return Decision(call_id="CA1", seq=seq, at_ms=at, gate=gate, outcome=outcome, reason="x", rule="r",
                    policy_version="pv", evidence=ev)


DECISIONS = [
    _d(1, 0, "turn", "call_started"),
    _d(2, 4000, "turn", "caller_started", onset_ms=3950),
    _d(3, 6000, "guard", "allow", findings=[]),
    _d(4, 8000, "turn", "caller_started", onset_ms=7900),
    _d(5, 9000, "guard", "redact", findings=[{"type": "CARD_NUMBER"}]),
    _d(6, 11000, "guard", "redact", findings=[{"type": "CARD_NUMBER"}]),
    _d(7, 15000, "turn", "pause", onset_ms=14800),
    _d(8, 16000, "guard", "block", findings=[{"type": "SSN"}]),
]


def test_speech_that_held_pii_is_muted_from_its_onset_to_the_guard_decision():
    assert muted_spans(DECISIONS) == [(7900 - MARGIN_MS, 11000 + MARGIN_MS), (14800 - MARGIN_MS, 16000 + MARGIN_MS)]
    assert muted_spans(DECISIONS[:3]) == []


def test_kept_wav_is_silent_where_muted_and_untouched_elsewhere(tmp_path):
    keeper = AudioKeeper()
    tone = (np.sin(np.arange(160) / 3) * 8000).astype(np.int16)
    keeper.frames += [mulaw.encode(tone)] * (20 * 50)  # 20 s of 20 ms frames
    info = keeper.write(tmp_path / "CA1.wav", DECISIONS)
    with wave.open(info["file"]) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert len(pcm) == 20 * 8000 and info["seconds"] == 20.0
    ms = lambda a, b: pcm[a * 8:b * 8]  # noqa: E731
    assert not ms(7500, 11400).any() and not ms(14400, 16400).any()
    assert np.abs(ms(0, 7400)).max() > 1000 and np.abs(ms(11500, 14300)).max() > 1000
    assert info["muted_ms"] == [[7500, 11400], [14400, 16400]]


def test_a_peer_chosen_call_id_cannot_leave_the_audio_folder(tmp_path):
    p = audio_path(str(tmp_path), "../../etc/passwd")
    assert p.parent == tmp_path and p.name.endswith(".wav") and "/" not in p.name


@pytest.mark.slow
def test_gateway_keeps_the_canary_call_audio_with_its_pii_muted_and_the_page_plays_it(console_gateway):
    import httpx

    from turngate.store import open_store

    url, ids, store_url, _ = console_gateway
    store = open_store(store_url)
    try:
        rec = store.get_call(ids["canary_pii"])
    finally:
        store.close()
    kept = rec.summary["audio"]
    guard_pii = [d for d in rec.decisions if d.gate == "guard" and d.evidence.get("findings")]
    assert guard_pii, "the guard found the card number"
    for d in guard_pii:
        assert any(a <= d.at_ms <= b for a, b in kept["muted_ms"]), d
    with wave.open(kept["file"]) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    for a, b in kept["muted_ms"]:
        assert not pcm[a * 8:b * 8].any()
    assert np.abs(pcm).max() > 1000  # the rest of the call is still there
    page = httpx.get(f"{url}/console/calls/{ids['canary_pii']}", timeout=30).text
    assert f'src="/console/calls/{ids["canary_pii"]}/audio"' in page
    r = httpx.get(f"{url}/console/calls/{ids['canary_pii']}/audio", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
