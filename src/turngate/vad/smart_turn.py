"""The audio end-of-turn model: Pipecat's smart-turn v3.2 (BSD-2) on onnxruntime.

It reads the last 8 s of a caller's turn (16 kHz, as Whisper log-mel features,
``audio/whisper_mel.py``) and says how likely the turn is finished: intonation and
rhythm, not words. The call core asks for it only at a candidate end of turn (a short
silence after the caller's sound, ``TurnParams.turn_model_after_ms``), never per frame;
the shell runs it off the event loop and feeds the probability back (``TurnScored``).

The ONNX file ships in the ``pipecat-ai`` wheel, installed ``--no-deps`` and pinned
(Makefile), so nothing is downloaded at run time and Pipecat's dependency tree is not
pulled in. Its package imports loguru at import time, so the file is located with
``importlib.util.find_spec`` (which does not execute the package), as for Silero.
A deployment without the wheel gets ``load() -> None``: the core ends turns on silence
and words alone.

Cost on the shared 2-core machine, one intra-op thread: features ~3-25 ms, inference
~60-300 ms depending on load (docs/benchmarks.md, "Response time").
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import soxr

from ..audio.whisper_mel import SAMPLE_RATE, WINDOW_SAMPLES, log_mel

__all__ = ["MODEL_FILE", "model_path", "SmartTurn", "load"]

log = logging.getLogger("turngate.smart_turn")

MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
WHEEL = "pipecat-ai==1.14.0"


def model_path() -> Path:
    """Path of the smart-turn ONNX file inside the installed ``pipecat-ai`` wheel."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"pipecat-ai is not installed (pip install --no-deps '{WHEEL}')")
    for location in spec.submodule_search_locations:
        path = Path(location) / "audio" / "turn" / "smart_turn" / "data" / MODEL_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(f"{MODEL_FILE} not found in the pipecat-ai wheel")


class SmartTurn:
    """One onnxruntime session, one intra-op thread; thread-safe (``InferenceSession.run`` is)."""

    def __init__(self, path: str | Path | None = None) -> None:
        import onnxruntime as ort  # heavy import, only when a model is built

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.path = Path(path) if path is not None else model_path()
        self._session = ort.InferenceSession(str(self.path), sess_options=options,
                                             providers=["CPUExecutionProvider"])

    def score(self, pcm8k: np.ndarray) -> float:
        """Probability that the turn in ``pcm8k`` (int16, 8 kHz, the turn up to now) is finished."""
        x = np.asarray(pcm8k, dtype=np.float32)[-WINDOW_SAMPLES // 2:] / 32768.0
        up = soxr.resample(x, 8000, SAMPLE_RATE, quality="HQ") if x.size else x
        features = log_mel(up)[None]
        out = self._session.run(None, {"input_features": features})[0]
        return float(np.asarray(out).ravel()[0])


_loaded: SmartTurn | None = None


def load() -> SmartTurn | None:
    """The bundled model (one per process), or None when the wheel is absent."""
    global _loaded
    if _loaded is None:
        try:
            _loaded = SmartTurn()
        except (FileNotFoundError, ImportError) as e:
            log.warning("end-of-turn model unavailable, turns end on silence and words: %s", e)
            return None
    return _loaded
