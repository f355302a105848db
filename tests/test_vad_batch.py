"""Batched Silero VAD with the WebRTC pre-gate: equivalence, isolation, buffering, skipping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from turngate.audio import level_db, mulaw
from turngate.vad import BatchStats, PreGate, SileroBatch, SileroModel, SileroStream
from turngate.vad.batch import BACKLOG_WINDOWS

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "audio"
NO_GATE = PreGate(enabled=False)


def _wav8k(path: Path) -> np.ndarray:
    import wave

    with wave.open(str(path)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    if rate != 8000:
        import soxr

        x = soxr.resample(x.astype(np.float32), rate, 8000).clip(-32768, 32767).astype(np.int16)
    # Through the phone codec, as the gateway hears it.
    return mulaw.decode(mulaw.encode(x))


@pytest.fixture(scope="module")
def model() -> SileroModel:
    return SileroModel()


@pytest.fixture(scope="module")
def speech() -> list[np.ndarray]:
    files = ["cmu_arctic/arctic_a0010.wav", "cmu_arctic/cmu_arctic_us_aew_a0001.wav",
             "timit_sample/LDC93S1_pcms16le_1_8000.wav", "webrtcvad/leak-test.wav"]
    if not all((DATA / f).is_file() for f in files):
        pytest.skip("../shared/data/audio is not available")
    return [_wav8k(DATA / f) for f in files]


def _reference(model: SileroModel, pcm: np.ndarray) -> list[float]:
    stream = SileroStream(model)
    return [stream.probability(pcm[i:i + 256]) for i in range(0, len(pcm) - 255, 256)]


def _frames(pcm: np.ndarray, size: int = 160):
    for i in range(0, len(pcm) - size + 1, size):
        yield pcm[i:i + size]


def _collect(results, out: dict) -> None:
    for stream_id, prob, level in results:
        out.setdefault(stream_id, []).append((prob, level))


def test_batched_probabilities_equal_one_stream_at_a_time(model, speech):
    batch = SileroBatch(pregate=NO_GATE, model=model, capacity=2)  # forces growth too
    # Streams join at different times, so their windows are out of phase.
    clips = {f"call-{i}": np.concatenate([np.zeros(80 * i, np.int16), pcm[:8000 * 3 - 80 * i]])
             for i, pcm in enumerate(speech)}
    clips = {cid: pcm[: len(pcm) // 160 * 160] for cid, pcm in clips.items()}
    for cid in clips:
        batch.register(cid)
    got: dict = {}
    for step in range(8000 * 3 // 160 + 10):
        for cid, pcm in clips.items():
            frame = pcm[step * 160:(step + 1) * 160]
            if len(frame) == 160:
                batch.push(cid, frame)
        _collect(batch.run(), got)
    for cid, pcm in clips.items():
        ref = _reference(model, pcm)
        probs = [p for p, _ in got[cid]]
        assert len(probs) == len(ref) == len(pcm) // 256
        np.testing.assert_allclose(probs, ref, atol=1e-5)
    assert batch.stats.inferences < sum(len(v) for v in got.values())


def test_streams_do_not_leak_state_into_each_other(model, speech):
    quiet = (np.random.default_rng(3).standard_normal(8000 * 2) * 30).astype(np.int16)

    def run_alone() -> list[float]:
        b = SileroBatch(pregate=NO_GATE, model=model)
        b.register("a")
        out: dict = {}
        for f in _frames(quiet):
            b.push("a", f)
            _collect(b.run(), out)
        return [p for p, _ in out["a"]]

    b = SileroBatch(pregate=NO_GATE, model=model)
    b.register("a")
    b.register("loud")
    out: dict = {}
    for fa, fb in zip(_frames(quiet), _frames(speech[0])):
        b.push("a", fa)
        b.push("loud", fb)
        _collect(b.run(), out)
    assert [p for p, _ in out["a"]] == pytest.approx(run_alone(), abs=1e-5)
    assert max(p for p, _ in out["loud"]) > 0.9   # the neighbour really was speech


def test_reregistered_stream_starts_from_fresh_state(model, speech):
    b = SileroBatch(pregate=NO_GATE, model=model)
    b.register("x")
    for f in _frames(speech[0][:8000]):
        b.push("x", f)
        b.run()
    b.unregister("x")
    b.register("x")
    out: dict = {}
    for f in _frames(speech[1][:8000]):
        b.push("x", f)
        _collect(b.run(), out)
    assert [p for p, _ in out["x"]] == pytest.approx(_reference(model, speech[1][:8000]), abs=1e-5)


def test_twenty_ms_frames_fill_thirty_two_ms_windows_and_keep_the_remainder(model):
    b = SileroBatch(pregate=NO_GATE, model=model)
    b.register("c")
    counts = []
    for _ in range(8):   # 8 x 160 = 1280 samples = exactly 5 windows
        b.push("c", np.zeros(160, np.int16))
        counts.append(len(b.run()))
    assert counts == [0, 1, 0, 1, 1, 0, 1, 1]


def test_late_tick_returns_every_window_in_order(model, speech):
    pcm = speech[0][:160 * 5]
    ref = _reference(model, pcm)
    b = SileroBatch(pregate=NO_GATE, model=model)
    b.register("late")
    for f in _frames(pcm):
        b.push("late", f)
    results = b.run()
    assert [sid for sid, _, _ in results] == ["late", "late", "late"]
    assert [p for _, p, _ in results] == pytest.approx(ref, abs=1e-5)
    assert b.run() == []


def test_backlog_beyond_limit_drops_oldest_windows(model):
    b = SileroBatch(pregate=NO_GATE, model=model)
    b.register("stalled")
    for _ in range(100):   # 2 s of audio and no run() at all
        b.push("stalled", np.zeros(160, np.int16))
    results = b.run()
    assert len(results) <= BACKLOG_WINDOWS + 1
    assert b.stats.windows_dropped == 16000 // 256 - len(results)


def test_result_level_is_the_window_rms_in_dbfs(model, speech):
    pcm = speech[0][4000:4000 + 320]
    b = SileroBatch(pregate=NO_GATE, model=model)
    b.register("lvl")
    b.push("lvl", pcm[:160])
    b.push("lvl", pcm[160:])
    [(_, _, level)] = b.run()
    assert level == pytest.approx(level_db(pcm[:256]), abs=1e-3)


def test_unknown_and_duplicate_streams_are_errors(model):
    b = SileroBatch(model=model)
    b.register("a")
    with pytest.raises(KeyError):
        b.register("a")
    with pytest.raises(KeyError):
        b.push("nobody", np.zeros(160, np.int16))
    b.unregister("nobody")   # ending an unknown call is harmless
    assert "a" in b and len(b) == 1


def test_unregistered_stream_pending_window_is_not_reported(model):
    b = SileroBatch(pregate=NO_GATE, model=model)
    b.register("gone")
    b.register("here")
    for sid in ("gone", "here"):
        b.push(sid, np.zeros(160, np.int16))
        b.push(sid, np.zeros(160, np.int16))
    b.unregister("gone")
    assert [sid for sid, _, _ in b.run()] == ["here"]


# -- pre-gate ----------------------------------------------------------------------------


def test_pregate_skips_silero_after_quiet_and_reports_zero(model):
    b = SileroBatch(pregate=PreGate(mode=3, quiet_ms=96), model=model)
    b.register("hush")
    out: dict = {}
    for _ in range(100):   # 2 s of digital silence
        b.push("hush", np.zeros(160, np.int16))
        _collect(b.run(), out)
    stats: BatchStats = b.stats
    total = 16000 // 256
    # The first windows run (quiet has not lasted 96 ms yet), the rest skip.
    assert stats.windows_run == 96 // 32
    assert stats.windows_skipped == total - stats.windows_run
    assert all(p == 0.0 for p, _ in out["hush"][stats.windows_run:])


def test_pregate_never_skips_speech_and_detects_onset_after_skipping(model, speech):
    pcm = np.concatenate([np.zeros(8000 * 2, np.int16), speech[0]])
    gated = SileroBatch(pregate=PreGate(mode=3, quiet_ms=96), model=model)
    gated.register("s")
    out: dict = {}
    for f in _frames(pcm):
        gated.push("s", f)
        _collect(gated.run(), out)
    probs = np.array([p for p, _ in out["s"]])
    ref = np.array(_reference(model, pcm))[: len(probs)]
    assert gated.stats.windows_skipped >= 2 * 8000 // 256 - 10   # the leading silence
    onset_ref = int(np.argmax(ref >= 0.5))
    onset_gated = int(np.argmax(probs >= 0.5))
    assert onset_ref > 2 * 8000 // 256
    assert onset_gated <= onset_ref   # resuming from the kept state is not slower
    speech_windows = ref >= 0.5
    # Where continuous Silero hears speech, the gated detector does too, nearly always.
    assert np.mean(probs[speech_windows] >= 0.5) > 0.97


def test_pregate_reset_mode_zeroes_state_before_resuming(model, speech):
    pcm = np.concatenate([np.zeros(8000, np.int16), speech[0][:8000]])
    b = SileroBatch(pregate=PreGate(mode=3, quiet_ms=96, resume="reset"), model=model)
    b.register("r")
    out: dict = {}
    for f in _frames(pcm):
        b.push("r", f)
        _collect(b.run(), out)
    probs = [p for p, _ in out["r"]]
    first_run = next(i for i in range(5, len(probs)) if probs[i] != 0.0)
    # From a zero state with the real context, Silero gives what a fresh stream would.
    start = first_run * 256
    x = (pcm[start - 32:start + 256] / 32768.0).astype(np.float32)[None, :]
    fresh, _ = model.infer(x, np.zeros((2, 1, 128), np.float32))
    assert probs[first_run] == pytest.approx(float(fresh[0]), abs=1e-5)


def test_frames_webrtc_cannot_judge_count_as_voiced(model):
    b = SileroBatch(pregate=PreGate(mode=3, quiet_ms=96), model=model)
    b.register("odd")
    for _ in range(150):   # 100-sample pushes: not a WebRTC frame size
        b.push("odd", np.zeros(100, np.int16))
        b.run()
    assert b.stats.windows_skipped == 0


def test_tick_batched_mulaw_ingress_equals_per_frame_push(model, speech):
    streams = {f"s{i}": mulaw.encode(pcm[: 8000 * 2]) for i, pcm in enumerate(speech)}
    one = SileroBatch(pregate=PreGate(), model=model)
    many = SileroBatch(pregate=PreGate(), model=model)
    for sid in streams:
        one.register(sid)
        many.register(sid)
    got_one: dict = {}
    got_many: dict = {}
    sizes = [160] * 40 + [80, 240, 100] + [160] * 50   # odd sizes take the one-frame path
    pos = dict.fromkeys(streams, 0)
    for tick, size in enumerate(sizes):
        frames = []
        for sid, payload in streams.items():
            # Every third tick, stream s0 delivers two frames at once (a late tick).
            for _ in range(2 if sid == "s0" and tick % 3 == 0 else 1):
                chunk = payload[pos[sid]:pos[sid] + size]
                pos[sid] += size
                if chunk:
                    frames.append((sid, chunk))
        for sid, chunk in frames:
            one.push(sid, mulaw.decode(chunk))
        many.push_mulaw(frames)
        _collect(one.run(), got_one)
        _collect(many.run(), got_many)
    assert got_many.keys() == got_one.keys()
    for sid in got_one:
        np.testing.assert_allclose(got_many[sid], got_one[sid], atol=1e-6)
    assert many.stats == one.stats


def test_batched_ingress_of_a_stalled_stream_drops_like_per_frame_push(model):
    one = SileroBatch(pregate=NO_GATE, model=model)
    many = SileroBatch(pregate=NO_GATE, model=model)
    one.register("x")
    many.register("x")
    frame = mulaw.encode((np.arange(160) * 50).astype(np.int16))
    for _ in range(100):   # 2 s without a single run()
        one.push("x", mulaw.decode(frame))
        many.push_mulaw([("x", frame)])
    np.testing.assert_allclose([r[1:] for r in many.run()], [r[1:] for r in one.run()], atol=1e-6)
    assert many.stats.windows_dropped == one.stats.windows_dropped > 0


def test_batched_ingress_with_an_unknown_stream_keeps_the_frames_before_it(model, speech):
    frame = mulaw.encode(speech[0][4000:4160])
    b = SileroBatch(pregate=NO_GATE, model=model)
    ref = SileroBatch(pregate=NO_GATE, model=model)
    for sid in "abcd":
        b.register(sid)
        ref.register(sid)
    with pytest.raises(KeyError):
        b.push_mulaw([(sid, frame) for sid in "abcd"] + [("gone", frame), ("a", frame)])
    for sid in "abcd":
        ref.push(sid, mulaw.decode(frame))
    b.push_mulaw([(sid, frame) for sid in "abcd"])
    ref.push_mulaw([(sid, frame) for sid in "abcd"])
    np.testing.assert_allclose([r[1:] for r in b.run()], [r[1:] for r in ref.run()], atol=1e-6)
