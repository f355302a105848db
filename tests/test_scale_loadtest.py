"""``turngate loadtest``: the figures it derives, and a small real run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from server_harness import app_server, make_providers
from turngate.loadtest import quantile_ms

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_quantiles_interpolate_within_cumulative_buckets():
    buckets = {0.01: 50.0, 0.02: 90.0, 0.05: 100.0, float("inf"): 100.0}
    assert quantile_ms(buckets, 0.5) == 10.0
    assert quantile_ms(buckets, 0.7) == 15.0
    assert quantile_ms(buckets, 0.99) == pytest.approx(47.0)
    assert quantile_ms({}, 0.5) is None


@pytest.mark.slow
def test_a_small_loadtest_stops_by_itself_and_ends_with_the_json_line(tmp_path):
    from turngate.testing import ScriptedStt
    pv = make_providers(f"sqlite:///{tmp_path / 'l.db'}", stt=ScriptedStt(["stop wait", "what are your hours"]))
    with app_server(pv) as (url, _app):
        p = subprocess.run([sys.executable, "-m", "turngate.cli", "loadtest", "--calls", "2", "--duration", "1",
                            "--url", url, "--scenario", str(ROOT / "scenarios" / "long_answer_interrupted.yaml")],
                           capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["bench"] == "load" and out["calls"] == 2 and out["processes"] == 1
    assert out["calls_completed"] == 2 and out["frames"] > 500 and out["dropped_frames"] == 0
    assert out["frame_ms_p99"] is not None and out["cpu_per_call"] > 0 and out["barge_ins"] >= 1
