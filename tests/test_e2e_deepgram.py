"""``TURNGATE_STT=deepgram TURNGATE_TTS=deepgram DEEPGRAM_API_KEY=... turngate serve`` against
the local Deepgram server: a real gateway process and the caller simulator over real sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from turngate.config import Config, api_key
from turngate.demo import Gateway
from turngate.errors import ConfigError
from turngate.testing.fakes.deepgram_server import DeepgramServer, Utterance
from turngate.sim.caller import run_scenario
from turngate.sim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
KEY = "dg-e2e-secret-5f3a9c"


def test_config_names_the_speech_providers_and_reads_the_key_only_when_asked():
    cfg = Config.from_env(env={"TURNGATE_STT": "deepgram", "TURNGATE_TTS": "deepgram",
                               "TURNGATE_DEEPGRAM_URL": "http://127.0.0.1:9", "DEEPGRAM_API_KEY": KEY})
    assert (cfg.stt, cfg.tts, cfg.deepgram_url) == ("deepgram", "deepgram", "http://127.0.0.1:9")
    assert KEY not in repr(cfg)
    assert api_key(cfg.deepgram_api_key_env, {"DEEPGRAM_API_KEY": KEY}) == KEY
    with pytest.raises(ConfigError, match="DEEPGRAM_API_KEY is not set"):
        api_key("DEEPGRAM_API_KEY", {})
    with pytest.raises(ConfigError, match="TURNGATE_STT"):
        Config.from_env(env={"TURNGATE_STT": "whisper"})


@pytest.mark.slow
def test_a_call_through_deepgram_stt_and_tts_hands_off_on_request(tmp_path):
    said = "Can I speak to a real person please?"
    fake = DeepgramServer(api_key=KEY)
    fake.add(Utterance(partials=("Can I speak", "Can I speak to a real person"), final=said, confidence=0.95))
    with fake.running() as dg_url:
        env = {"TURNGATE_STT": "deepgram", "TURNGATE_TTS": "deepgram", "TURNGATE_DEEPGRAM_URL": dg_url,
               "DEEPGRAM_API_KEY": KEY, "TURNGATE_OUTBOX_FILE": str(tmp_path / "outbox.jsonl")}
        log = tmp_path / "gateway.log"
        with Gateway(store=f"sqlite:///{tmp_path / 'calls.db'}", env=env, log_path=str(log)) as gw:
            r = asyncio.run(run_scenario(load_scenario(SCENARIOS / "human_request.yaml"), gw.url, speed=1.0))
    assert r.passed, [c.detail for c in r.expectations if not c.passed] + r.problems
    # the greeting and the transfer line were spoken by Aura (8 kHz mu-law, container none)
    speak = fake.speak_requests()
    assert speak and all(q["query"]["encoding"] == "mulaw" and q["query"]["container"] == "none" for q in speak)
    # the caller's turn went to live STT and was closed by the gateway, not by Deepgram's endpointing
    opened = fake.opened()
    assert opened and all(o["query"]["endpointing"] == "false" for o in opened)
    assert {"type": "CloseStream"} in fake.texts()
    assert KEY not in log.read_text(errors="replace")
