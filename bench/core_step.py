"""The call core's cost per VAD window while the bot is speaking: ``Call.handle`` of one
``VoiceActivity`` plus ``next_deadline()``, the work the shell does 31 times a second per
call on top of decode and VAD (those are in ``bench/hotpath.py``). CPU time, fake clock.

    .venv/bin/python bench/core_step.py [--windows 200000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from turngate.core import Call, State  # noqa: E402
from turngate.core.actions import StartModel, Synthesize  # noqa: E402
from turngate.core.events import CallStarted, ModelDone, ModelTextDelta, SpeechSynthesized, VoiceActivity  # noqa: E402
from turngate.testing import OpenGatekeeper  # noqa: E402


def speaking_call() -> tuple[Call, float]:
    c = Call("bench", gates=OpenGatekeeper())
    c.handle(CallStarted(call_id="bench", stream_sid="MZ"), 0.0)
    acts = c.take_turn("what are your hours", 1.0)
    sm = next(a for a in acts if isinstance(a, StartModel))
    acts = c.handle(ModelTextDelta(generation=sm.generation, text="We are open nine to five. "), 1.0)
    acts += c.handle(ModelDone(generation=sm.generation), 1.0)
    sy = next(a for a in acts if isinstance(a, Synthesize))
    c.handle(SpeechSynthesized(generation=sm.generation, segment=sy.segment, text=sy.text,
                               audio=b"\x7f" * 8000 * 600), 1.0)
    assert c.state is State.SPEAKING
    return c, 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=200_000)
    args = ap.parse_args()
    call, t = speaking_call()
    quiet = VoiceActivity(probability=0.02, level_db=-60)
    t0 = time.process_time()
    for _ in range(args.windows):
        t += 0.032
        call.handle(quiet, t)
        call.next_deadline()
    us = (time.process_time() - t0) / args.windows * 1e6
    print(json.dumps({"bench": "core_step", "us_per_window_speaking": round(us, 2), "windows": args.windows}))


if __name__ == "__main__":
    main()
