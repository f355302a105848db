"""Silero VAD v5 on onnxruntime at native 8 kHz, without torch.

The model file ships in the ``silero-vad`` wheel (installed ``--no-deps``). Its
Python package imports torch at import time, so we locate the file with
``importlib.util.find_spec`` (which does not execute the package) instead of
``importlib.resources``.

At 8 kHz Silero v5 takes windows of 256 samples (32 ms) preceded by the last 32
samples of the previous window ("context"), i.e. input ``[B, 288]`` float32 in
[-1, 1), a recurrent state ``[2, B, 128]`` and ``sr = 8000`` as an int64 scalar.
Shorter windows (a 20 ms Twilio frame) break its detection, hence the buffering
in :mod:`turngate.vad.batch`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

__all__ = [
    "SAMPLE_RATE", "WINDOW", "CONTEXT", "STATE_SIZE", "model_path", "SileroModel", "SileroStream",
]

SAMPLE_RATE = 8000
WINDOW = 256      # samples per inference window (32 ms)
CONTEXT = 32      # samples of the previous window prepended to each window
STATE_SIZE = 128

_SR = np.array(SAMPLE_RATE, dtype=np.int64)


def model_path() -> Path:
    """Path of ``silero_vad.onnx`` inside the installed ``silero-vad`` wheel."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "silero-vad is not installed (pip install --no-deps 'silero-vad>=5.1,<7')"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / "silero_vad.onnx"
        if path.is_file():
            return path
    raise FileNotFoundError("silero_vad/data/silero_vad.onnx not found in the silero-vad wheel")


class SileroModel:
    """One onnxruntime session, single-threaded and sequential.

    One thread on purpose: the gateway runs one process per core, and a batch of
    a few hundred 288-sample windows is too small to win anything from intra-op
    threads; spare threads would only contend with the event loop.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        import onnxruntime as ort  # heavy import, only when a model is built

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(path or model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def infer(self, windows: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``windows`` [B, 288] float32, ``state`` [2, B, 128] -> (probabilities [B], new state)."""
        out, new_state = self._session.run(
            None, {"input": windows, "state": state, "sr": _SR}
        )
        return out[:, 0], new_state


class SileroStream:
    """One stream evaluated one window at a time: the reference for the batch.

    Slow (one inference call per 32 ms window); use :class:`~turngate.vad.batch.SileroBatch`
    in the gateway. Tests and offline measurements use this to check the batch.
    """

    def __init__(self, model: SileroModel) -> None:
        self._model = model
        self._input = np.zeros((1, CONTEXT + WINDOW), dtype=np.float32)
        self._state = np.zeros((2, 1, STATE_SIZE), dtype=np.float32)

    def reset(self) -> None:
        self._input[:] = 0.0
        self._state[:] = 0.0

    def probability(self, window: np.ndarray) -> float:
        """Speech probability of the next 256-sample window (int16, or float in [-1, 1))."""
        w = np.asarray(window)
        if w.shape != (WINDOW,):
            raise ValueError(f"Silero at 8 kHz takes {WINDOW}-sample windows, got {w.shape}")
        self._input[0, :CONTEXT] = self._input[0, -CONTEXT:]
        if w.dtype.kind == "f":
            self._input[0, CONTEXT:] = w
        else:
            np.multiply(w, 1.0 / 32768.0, out=self._input[0, CONTEXT:], casting="unsafe")
        prob, self._state = self._model.infer(self._input, self._state)
        return float(prob[0])
