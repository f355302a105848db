"""The simulator's Twilio side on a virtual clock: playout, marks, clear, caller frames, the line."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from turngate.sim.audio import (EchoPath, NoiseBed, active_rms, speech_onset_ms, ulaw_decode,
                                ulaw_encode)
from turngate.sim.playout import Speaker
from turngate.sim.scenario import Dtmf, Hangup, Say, Silence, WaitFor
from turngate.sim.script import CallerScript, Clip
from turngate.sim.session import SimCall

BOT = bytes([0x10]) * 800  # 100 ms of loud bot audio per chunk


def _tone(ms: int, amp: float = 8000.0, freq: float = 440.0) -> np.ndarray:
    t = np.arange(ms * 8) / 8000.0
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def _gateway_media(call: SimCall, payload: bytes) -> str:
    return json.dumps({"event": "media", "streamSid": call.stream_sid,
                       "media": {"payload": base64.b64encode(payload).decode()}})


def _gateway(call: SimCall, event: str, **kw) -> str:
    return json.dumps({"event": event, "streamSid": call.stream_sid, **kw})


def _call(steps, clips=None, **kw) -> SimCall:
    return SimCall(script=CallerScript(steps=tuple(steps), clips=clips or {}), call_sid="CA" + "0" * 32,
                   account_sid="AC" + "0" * 32, stream_sid="MZ" + "0" * 32, custom_parameters={"token": "t"}, **kw)


# -- the playout buffer ---------------------------------------------------------------


def test_mark_is_echoed_only_when_all_audio_before_it_has_played():
    sp = Speaker()
    for i in range(3):
        sp.push_audio(BOT)
        assert sp.push_mark(f"m{i}") == ()
    echoed = []
    for tick in range(16):
        played = sp.play(160, now_ms=tick * 20)
        echoed.append((tick, played.marks))
    # 800 bytes = 5 ticks of 160: m0 on the 5th tick, m1 on the 10th, m2 on the 15th.
    got = [(t, m) for t, m in echoed if m]
    assert got == [(4, ("m0",)), (9, ("m1",)), (14, ("m2",))]
    assert sp.played_bytes == 2400 and sp.buffered_bytes == 0


def test_mark_with_no_audio_ahead_is_echoed_at_once():
    sp = Speaker()
    assert sp.push_mark("idle") == ("idle",)
    sp.push_audio(BOT)
    sp.play(800, now_ms=0)
    assert sp.push_mark("after") == ("after",)


def test_clear_drops_buffered_audio_and_echoes_every_pending_mark_in_order():
    sp = Speaker()
    for i in range(4):
        sp.push_audio(BOT)
        sp.push_mark(f"m{i}")
    assert sp.play(160 * 6, now_ms=0).marks == ("m0",)  # 120 ms played: m0 done, 80 ms into chunk 2
    assert sp.clear() == ("m1", "m2", "m3")
    assert sp.dropped_bytes == 3200 - 960 and sp.buffered_bytes == 0
    after = sp.play(160, now_ms=120)
    assert after.audio == b"" and after.marks == ()
    assert sp.clear() == ()


def test_partial_tick_plays_what_is_buffered_and_closes_the_span():
    sp = Speaker()
    sp.push_audio(bytes([0x10]) * 100)
    p = sp.play(160, now_ms=40)
    assert len(p.audio) == 100 and not sp.playing
    assert [(s.start_ms, s.end_ms) for s in sp.spans] == [(40, 52)]  # 100 bytes = 12.5 ms


def test_short_underrun_does_not_start_a_new_bot_utterance():
    sp = Speaker()
    sp.push_audio(BOT)
    for t in range(0, 100, 20):
        sp.play(160, now_ms=t)
    sp.play(160, now_ms=100)  # dry for 100 ms
    sp.play(160, now_ms=120)
    sp.push_audio(BOT)
    sp.play(160, now_ms=140)
    assert sp.utterance_index == 1 and sp.utterance_played_ms == 120
    for t in range(160, 240, 20):
        sp.play(160, now_ms=t)
    for t in range(240, 800, 20):
        sp.play(160, now_ms=t)  # a long quiet
    sp.push_audio(BOT)
    sp.play(160, now_ms=800)
    assert sp.utterance_index == 2 and sp.utterance_played_ms == 20


# -- the caller's frames -----------------------------------------------------------------


def test_caller_media_frames_are_twilio_shaped_and_numbered():
    call = _call([Silence(ms=60), Hangup()])
    opening = call.opening()
    assert opening[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = opening[1]
    assert start["sequenceNumber"] == "1" and start["streamSid"] == call.stream_sid
    assert start["start"]["tracks"] == ["inbound"] and start["start"]["customParameters"] == {"token": "t"}
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    msgs = [m for t in range(0, 100, 20) for m in call.tick(t)]
    media = [m for m in msgs if m["event"] == "media"]
    assert [m["media"]["chunk"] for m in media] == ["1", "2", "3"]
    assert [m["media"]["timestamp"] for m in media] == ["0", "20", "40"]
    assert [m["sequenceNumber"] for m in media] == ["2", "3", "4"]
    assert all(m["media"]["track"] == "inbound" for m in media)
    assert base64.b64decode(media[0]["media"]["payload"]) == b"\xff" * 160  # an idle line is mu-law silence
    assert call.hung_up
    stop = call.closing()[0]
    assert stop["event"] == "stop" and stop["sequenceNumber"] == "5"
    assert stop["stop"] == {"accountSid": call.account_sid, "callSid": call.call_sid}


def test_barge_in_starts_at_the_offset_into_the_bots_played_audio_not_its_sent_audio():
    voice = np.concatenate([np.zeros(400, np.int16), _tone(300)])  # 50 ms lead-in, then speech
    clips = {1: Clip(pcm=voice, onset_ms=speech_onset_ms(voice), label="stop, wait")}
    call = _call([WaitFor(until="bot_speaking", offset_ms=200), Say(text="stop, wait", voice="rms"), Hangup()], clips)
    # The gateway sends 1 s of audio at t=0, all at once, with a mark per 100 ms.
    for i in range(10):
        call.on_message(_gateway_media(call, BOT), 0)
        assert call.on_message(_gateway(call, "mark", mark={"name": f"a{i}"}), 0) == []
    echoed: list[tuple[int, str]] = []
    voiced_at = None
    for t in range(0, 340, 20):  # frames up to [320, 340)
        for m in call.tick(t):
            if m["event"] == "mark":
                echoed.append((t, m["mark"]["name"]))
            if m["event"] == "media" and voiced_at is None:
                if np.abs(ulaw_decode(base64.b64decode(m["media"]["payload"]))).max() > 0:
                    voiced_at = t
    assert echoed == [(80, "a0"), (180, "a1"), (280, "a2")]
    (u,) = call.utterances
    assert u.start_ms == 200  # 200 ms of audio had *played* (1 s had been sent)
    assert voiced_at == 240  # the frame that carries the end of the 50 ms lead-in
    assert u.onset_ms == 250 and u.over_bot is True
    # The gateway reacts: clear at audio time 340 ms; the seven pending marks come back at once.
    echoes = call.on_message(_gateway(call, "clear"), 340.0)
    assert [m["mark"]["name"] for m in echoes] == ["a3", "a4", "a5", "a6", "a7", "a8", "a9"]
    assert call.first_clear_after(u).at_ms - u.onset_ms == 90
    assert call.speaker.played_bytes == 340 * 8
    assert call.speaker.buffered_bytes == 0 and call.speaker.dropped_bytes == 8000 - 340 * 8
    assert not any(m["event"] == "mark" for m in call.tick(420))


def test_wait_for_bot_done_needs_the_bot_to_have_spoken_and_then_gap_ms_of_quiet():
    clips = {1: Clip(pcm=_tone(40), onset_ms=0, label="hi")}
    call = _call([WaitFor(until="bot_done", gap_ms=400), Say(text="hi", voice="rms"), Hangup()], clips)
    for t in range(0, 200, 20):
        call.tick(t)  # nothing played yet: the bot has not spoken, keep waiting
    assert call.utterances == []
    call.on_message(_gateway_media(call, BOT), 200)
    t = 200
    while not call.utterances:
        call.tick(t)
        t += 20
    # 100 ms of bot audio from 200 ms ends at 300 ms; 400 ms of quiet -> the caller speaks at 700 ms.
    assert call.utterances[0].start_ms == 700


def test_wait_for_bot_done_entered_in_a_barge_in_silence_sees_the_same_utterance_resume():
    # The bot speaks, a clear silences it, the step begins in that silence, and the answer
    # resumes within the same utterance (under UTTERANCE_GAP_MS) and plays out: "done".
    clips = {2: Clip(pcm=_tone(40), onset_ms=0, label="hi")}
    call = _call([Silence(ms=100), WaitFor(until="bot_done", gap_ms=400, timeout_ms=1500),
                  Say(text="hi", voice="rms"), Hangup()], clips)
    call.on_message(_gateway_media(call, BOT), 0)
    for t in range(0, 60, 20):
        call.tick(t)
    call.on_message(_gateway(call, "clear"), 60)
    for t in range(60, 160, 20):
        call.tick(t)  # the wait begins at 100 ms, the bot silent
    utterance = call.speaker.utterance_index
    call.on_message(_gateway_media(call, BOT), 160)
    t = 160
    while not call.utterances and t < 2000:
        call.tick(t)
        t += 20
    assert call.speaker.utterance_index == utterance  # the same utterance went on
    assert call.utterances and not call.script.problems


def test_wait_for_timeout_is_a_script_problem_and_the_script_goes_on():
    call = _call([WaitFor(until="bot_speaking", timeout_ms=100), Dtmf(digits="1#", interval_ms=40)])
    call.opening()
    msgs = [m for t in range(0, 300, 20) for m in call.tick(t)]
    assert any("timed out after 100 ms" in p for p in call.script.problems)
    dtmf = [m for m in msgs if m["event"] == "dtmf"]
    assert [m["dtmf"] for m in dtmf] == [{"track": "inbound_track", "digit": "1"},
                                        {"track": "inbound_track", "digit": "#"}]
    seqs = [int(m["sequenceNumber"]) for m in msgs]
    assert seqs == list(range(2, 2 + len(msgs)))


def test_echo_path_puts_a_delayed_attenuated_copy_of_played_bot_audio_on_the_line():
    call = _call([Silence(ms=1000)], echo=EchoPath(delay_ms=100, attenuation_db=20))
    bot = _tone(200, amp=10000)
    call.on_message(_gateway_media(call, ulaw_encode(bot)), 0)
    frames = {}
    for t in range(0, 400, 20):
        for m in call.tick(t):
            if m["event"] == "media":
                frames[t] = ulaw_decode(base64.b64decode(m["media"]["payload"])).astype(float)
    assert np.abs(frames[80]).max() == 0  # the echo has not arrived yet
    played = ulaw_decode(ulaw_encode(bot)).astype(float)
    got = np.concatenate([frames[t] for t in range(100, 300, 20)])
    ratio_db = 20 * np.log10(np.sqrt((got ** 2).mean()) / np.sqrt((played ** 2).mean()))
    assert -21 < ratio_db < -19
    assert np.abs(frames[300]).max() == 0


def test_noise_bed_is_mixed_at_the_requested_snr():
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(8000) * 3000).astype(np.int16)
    bed = NoiseBed.at_snr(noise, speech_rms=2000.0, snr_db=15)
    got = bed.take(20000)  # loops past the end
    assert 20 * np.log10(2000.0 / np.sqrt((got ** 2).mean())) == pytest.approx(15, abs=0.1)


def test_speech_onset_is_found_by_energy_inside_the_clip():
    clip = np.concatenate([np.zeros(2400, np.int16), (np.ones(40, np.int16) * 20000),  # a click
                           np.zeros(800, np.int16), _tone(500)])
    assert 400 <= speech_onset_ms(clip) <= 410  # the tone starts at 405 ms: not the click at 300
    assert active_rms(clip) > 4000


def test_mulaw_codec_matches_audioop_bit_for_bit():
    audioop = pytest.importorskip("audioop")
    x = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    assert ulaw_encode(x) == audioop.lin2ulaw(x.tobytes(), 2)
    codes = bytes(range(256))
    assert ulaw_decode(codes).tobytes() == audioop.ulaw2lin(codes, 2)


def test_gateway_protocol_errors_are_recorded_not_raised():
    call = _call([Silence(ms=100)])
    call.on_message("not json", 0)
    call.on_message(json.dumps({"event": "media", "streamSid": "MZwrong", "media": {"payload": "!!"}}), 0)
    call.on_message(_gateway(call, "mark", mark={}), 0)
    call.on_message(_gateway(call, "dance"), 0)
    assert len(call.problems) == 5
    assert call.speaker.received_bytes == 0


# -- pacing on an injected clock ---------------------------------------------------------


class _LateClock:
    """A virtual clock whose every fifth wake-up is 7 ms late, and one stall of 95 ms."""

    def __init__(self) -> None:
        self.t = 100.0
        self.wakeups = 0

    def now(self) -> float:
        return self.t

    async def sleep_until(self, t: float) -> None:
        self.wakeups += 1
        late = 0.095 if self.wakeups == 10 else (0.007 if self.wakeups % 5 == 0 else 0.0)
        self.t = max(self.t, t + late)


async def test_pacer_sends_each_frame_when_its_audio_is_complete_and_never_accumulates_sleep_error():
    from turngate.sim.caller import Pacer

    clock = _LateClock()
    call = _call([Silence(ms=2000), Hangup()])
    sent: list[tuple[float, int]] = []

    async def send(msgs):
        for m in msgs:
            if m["event"] == "media":
                sent.append((clock.t - 100.0, int(m["media"]["timestamp"])))

    pacer = Pacer(clock, speed=2.0)
    frames = await pacer.run(call, send)
    assert frames == 101 and len(sent) == 100  # the 101st tick is the hang-up
    for wall, ts in sent:
        assert wall >= (ts + 20) / 1000 / 2.0 - 1e-9  # never before its 20 ms of audio exist
    # After a 95 ms stall the owed frames go out at once, then the schedule is back on t0's grid.
    last_wall, last_ts = sent[-1]
    assert last_ts == 1980 and last_wall == pytest.approx(2000 / 1000 / 2.0, abs=0.0071)
    assert pacer.max_lateness_s == pytest.approx(0.095 - 0.010, abs=1e-9)  # the next frame after the stall
    assert pacer.audio_now_ms() == pytest.approx((clock.t - 100.0) * 2.0 * 1000)


def test_bot_speaking_offset_counts_from_the_step_when_the_utterance_is_already_under_way():
    clips = {1: Clip(pcm=_tone(20), onset_ms=0, label="uh-huh"), 3: Clip(pcm=_tone(20), onset_ms=0, label="yeah")}
    call = _call([WaitFor(until="bot_speaking", offset_ms=200), Say(text="uh-huh", voice="rms"),
                  WaitFor(until="bot_speaking", offset_ms=300), Say(text="yeah", voice="rms"), Hangup()], clips)
    for _ in range(10):
        call.on_message(_gateway_media(call, BOT), 0)  # one long utterance, never interrupted
    t = 0
    while len(call.utterances) < 2:
        call.tick(t)
        t += 20
    assert [u.start_ms for u in call.utterances] == [200, 520]  # 200, then 20 ms of clip + 300 more
