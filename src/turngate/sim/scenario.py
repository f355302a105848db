"""Scenario files: what the simulated caller says and when, and what the call must show.

A scenario is YAML::

    name: long_answer_interrupted          # default: the file's stem
    description: Caller cuts a long FAQ answer short.
    voice: rms                             # flite voice of the caller (kal, kal16, awb, rms, slt)
    from: "+15550100"                   # optional caller and called numbers
    to: "+18005550199"
    noise: {file: ../../shared/data/audio/noise/doing_the_dishes.wav, snr_db: 15}
    echo: {delay_ms: 120, attenuation_db: 18}
    max_duration_s: 90                     # the call is hung up after this, whatever the script says
    steps:
      - wait_for: bot_done                 # the greeting has played (then gap_ms of quiet, default 800)
      - say: "What are your opening hours?"
      - wait_for: bot_speaking             # 1 s of the bot's answer has played (counted from the
                                           # utterance's start or this step's, whichever is later) ...
        offset_ms: 1000
      - say: "stop, wait"                  # ... and the caller talks over it: a barge-in
      - wav: ../../shared/data/audio/cmu_arctic/arctic_a0010.wav
        gain_db: -3
      - silence_ms: 800
      - dtmf: "1234#"                      # interval_ms between digits, default 250
      - hangup
    expect:
      route: faq                           # the last route decision's route
      handoff: false                       # or true, or a reason code
      guard: [{outcome: require_auth}]     # guard decisions that must appear (reason optional)
      barge_ins: [{outcome: abandon}]      # one per barge-in step, in order; outcome may be a list
      decisions: [{gate: turn, outcome: abandon}]      # must appear
      no_decisions: [{gate: handoff, outcome: handoff}] # must not appear
      heard_text_contains: ["opening hours"]  # in the heard text of every abandoned barge-in
      heard_text_excludes: ["public holidays"]
      context_contains: ["nine in the morning"]  # in some message of the final model context
      context_excludes: ["public holidays"]   # in no message of the final model context
      transcript_excludes: ["4111"]           # nowhere in the stored transcript

A step that makes the caller speak (``say``, ``wav``) while the bot's audio is
playing is a barge-in: the simulator measures its reaction time and matches it to
the gateway's turn decisions. Relative paths resolve against the scenario file's
folder. Every error names the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from ..errors import ConfigError
from .audio import DEFAULT_CALLER_VOICE, FLITE_VOICES


class ScenarioError(ConfigError):
    """A scenario file that cannot be run; the message names the file and the field."""

    def __init__(self, path: Path | str, where: str, message: str) -> None:
        super().__init__(f"{path}: {where}: {message}" if where else f"{path}: {message}")
        self.path = str(path)
        self.where = where


_dc = dataclass(frozen=True, slots=True, kw_only=True)


# -- steps -----------------------------------------------------------------------


@_dc
class Say:
    text: str
    voice: str


@_dc
class Wav:
    path: Path
    gain_db: float = 0.0


@_dc
class Silence:
    ms: int


@_dc
class WaitFor:
    until: str  # "bot_speaking" | "bot_done"
    offset_ms: int = 0  # bot_speaking: this much of the bot's current utterance has played since the step began
    gap_ms: int = 800  # bot_done: this much quiet after the bot's last audio (longer than a barge-in pause)
    timeout_ms: int = 20000


@_dc
class Dtmf:
    digits: str
    interval_ms: int = 250


@_dc
class Hangup:
    pass


Step = Union[Say, Wav, Silence, WaitFor, Dtmf, Hangup]
WAIT_EVENTS = ("bot_speaking", "bot_done")
DTMF_DIGITS = set("0123456789*#ABCDabcd")


# -- options and expectations -------------------------------------------------------


@_dc
class Noise:
    file: Path
    snr_db: float


@_dc
class Echo:
    delay_ms: int
    attenuation_db: float


@_dc
class DecisionPattern:
    """Matches a decision record: gate and outcome always, reason when given."""

    gate: str
    outcome: str
    reason: str | None = None

    def matches(self, d: Mapping[str, Any]) -> bool:
        return (d.get("gate") == self.gate and d.get("outcome") == self.outcome
                and (self.reason is None or d.get("reason") == self.reason))

    def __str__(self) -> str:
        r = f", reason={self.reason}" if self.reason else ""
        return f"{{gate={self.gate}, outcome={self.outcome}{r}}}"


@_dc
class Expect:
    route: str | None = None
    handoff: bool | str | None = None
    guard: tuple[DecisionPattern, ...] = ()
    barge_ins: tuple[tuple[str, ...], ...] | None = None  # per barge-in, the accepted outcomes
    decisions: tuple[DecisionPattern, ...] = ()
    no_decisions: tuple[DecisionPattern, ...] = ()
    heard_text_contains: tuple[str, ...] = ()
    heard_text_excludes: tuple[str, ...] = ()
    context_contains: tuple[str, ...] = ()
    context_excludes: tuple[str, ...] = ()
    transcript_excludes: tuple[str, ...] = ()
    # The longest silence the caller may hear in the bot's answer around each of their
    # barge-ins (from the simulated phone's played audio, not from decisions).
    max_barge_in_gap_ms: int | None = None


@_dc
class FakeModel:
    """How the local OpenAI-compatible server answers as one profile's model."""

    first_token_ms: int | None = None  # the profile's hedge budget in the policy
    stall_ms: int = 0                  # the fake waits this long before its first token
    status: int = 200                  # anything else: an OpenAI error answer
    reply: str = ""                    # empty: the fake's default reply


@_dc
class FakeModels:
    """A scenario that needs real model profiles: the demo serves each from its fake
    OpenAI server and runs the scenario on a gateway whose policy points at it."""

    profiles: tuple[tuple[str, FakeModel], ...]
    fallback: tuple[tuple[str, tuple[str, ...]], ...] = ()


@_dc
class Scenario:
    name: str
    path: Path | None
    description: str = ""
    voice: str = DEFAULT_CALLER_VOICE
    from_number: str = "+15550100"
    to_number: str = "+18005550199"
    steps: tuple[Step, ...] = ()
    noise: Noise | None = None
    echo: Echo | None = None
    max_duration_s: float = 120.0
    expect: Expect = field(default_factory=Expect)
    models: FakeModels | None = None  # model profiles served by a local fake (see FakeModels)
    # Turn-taking settings over the bundled policy's (a ``turn_taking`` field each): the
    # scenario runs on a gateway of its own whose policy has them.
    turn_taking: tuple[tuple[str, Any], ...] = ()

    @property
    def own_gateway(self) -> bool:
        return self.models is not None or bool(self.turn_taking)


# -- loading and validation ------------------------------------------------------------


class _V:
    """Field readers that raise ScenarioError naming the file and the field path."""

    def __init__(self, path: Path | str) -> None:
        self.path = path

    def fail(self, where: str, msg: str) -> ScenarioError:
        return ScenarioError(self.path, where, msg)

    def mapping(self, where: str, v: Any, allowed: set[str], required: set[str] = frozenset()) -> dict:  # type: ignore[assignment]
        if not isinstance(v, dict):
            raise self.fail(where, f"expected a mapping, got {type(v).__name__}")
        for k in v:
            if k not in allowed:
                raise self.fail(f"{where}.{k}" if where else str(k),
                                f"unknown field (allowed: {', '.join(sorted(allowed))})")
        for k in required:
            if k not in v:
                raise self.fail(f"{where}.{k}" if where else k, "required field is missing")
        return v

    def string(self, where: str, v: Any, *, nonempty: bool = True) -> str:
        if not isinstance(v, str) or (nonempty and not v.strip()):
            raise self.fail(where, f"expected a non-empty string, got {v!r}")
        return v

    def number(self, where: str, v: Any, *, lo: float | None = None, hi: float | None = None) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(where, f"expected a number, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.fail(where, f"{v} is out of range [{lo}, {hi}]")
        return float(v)

    def ms(self, where: str, v: Any, *, lo: int = 0, hi: int = 600_000) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(where, f"expected a whole number of milliseconds, got {v!r}")
        if not lo <= v <= hi:
            raise self.fail(where, f"{v} is out of range [{lo}, {hi}]")
        return v

    def file(self, where: str, v: Any, base: Path) -> Path:
        p = Path(self.string(where, v))
        p = p if p.is_absolute() else (base / p)
        if not p.is_file():
            raise self.fail(where, f"no such file: {p}")
        return p.resolve()

    def strings(self, where: str, v: Any) -> tuple[str, ...]:
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list):
            raise self.fail(where, f"expected a string or a list of strings, got {v!r}")
        return tuple(self.string(f"{where}[{i}]", s) for i, s in enumerate(v))

    def voice(self, where: str, v: Any) -> str:
        s = self.string(where, v)
        if s not in FLITE_VOICES:
            raise self.fail(where, f"unknown flite voice {s!r} (known: {', '.join(FLITE_VOICES)})")
        return s


def _step(v: _V, where: str, raw: Any, base: Path, voice: str) -> Step:
    if raw == "hangup":
        return Hangup()
    if isinstance(raw, str):
        raise v.fail(where, f"unknown step {raw!r}; a bare step can only be 'hangup'")
    if not isinstance(raw, dict) or not raw:
        raise v.fail(where, f"expected a step mapping such as {{say: ...}}, got {raw!r}")
    kinds = [k for k in ("say", "wav", "silence_ms", "wait_for", "dtmf", "hangup") if k in raw]
    if len(kinds) != 1:
        found = ", ".join(kinds) or ", ".join(map(str, raw))
        raise v.fail(where, f"a step needs exactly one of say, wav, silence_ms, wait_for, dtmf, hangup (found: {found})")
    kind = kinds[0]
    if kind == "say":
        v.mapping(where, raw, {"say", "voice"})
        return Say(text=v.string(f"{where}.say", raw["say"]),
                   voice=v.voice(f"{where}.voice", raw["voice"]) if "voice" in raw else voice)
    if kind == "wav":
        v.mapping(where, raw, {"wav", "gain_db"})
        return Wav(path=v.file(f"{where}.wav", raw["wav"], base),
                   gain_db=v.number(f"{where}.gain_db", raw.get("gain_db", 0.0), lo=-60, hi=30))
    if kind == "silence_ms":
        v.mapping(where, raw, {"silence_ms"})
        return Silence(ms=v.ms(f"{where}.silence_ms", raw["silence_ms"], lo=20))
    if kind == "wait_for":
        v.mapping(where, raw, {"wait_for", "offset_ms", "gap_ms", "timeout_ms"})
        until = raw["wait_for"]
        if until not in WAIT_EVENTS:
            raise v.fail(f"{where}.wait_for", f"expected one of {', '.join(WAIT_EVENTS)}, got {until!r}")
        if until == "bot_done" and "offset_ms" in raw:
            raise v.fail(f"{where}.offset_ms", "offset_ms applies to wait_for: bot_speaking; use gap_ms with bot_done")
        if until == "bot_speaking" and "gap_ms" in raw:
            raise v.fail(f"{where}.gap_ms", "gap_ms applies to wait_for: bot_done; use offset_ms with bot_speaking")
        return WaitFor(until=until,
                       offset_ms=v.ms(f"{where}.offset_ms", raw.get("offset_ms", 0)),
                       gap_ms=v.ms(f"{where}.gap_ms", raw.get("gap_ms", 800)),
                       timeout_ms=v.ms(f"{where}.timeout_ms", raw.get("timeout_ms", 20000), lo=100))
    if kind == "dtmf":
        v.mapping(where, raw, {"dtmf", "interval_ms"})
        digits = raw["dtmf"]
        if isinstance(digits, int) and not isinstance(digits, bool):
            raise v.fail(f"{where}.dtmf", f"quote the digits as a string (YAML read {digits!r} as a number)")
        digits = v.string(f"{where}.dtmf", digits)
        bad = sorted(set(digits) - DTMF_DIGITS)
        if bad:
            raise v.fail(f"{where}.dtmf", f"not DTMF keys: {''.join(bad)!r} (allowed: 0-9 * # A-D)")
        return Dtmf(digits=digits, interval_ms=v.ms(f"{where}.interval_ms", raw.get("interval_ms", 250), lo=40))
    v.mapping(where, raw, {"hangup"})
    if raw["hangup"] not in (True, None):
        raise v.fail(f"{where}.hangup", "write the step as '- hangup'")
    return Hangup()


def _pattern(v: _V, where: str, raw: Any, *, gate: str | None = None) -> DecisionPattern:
    allowed = {"outcome", "reason"} | (set() if gate else {"gate"})
    m = v.mapping(where, raw, allowed, {"outcome"} | (set() if gate else {"gate"}))
    return DecisionPattern(gate=gate or v.string(f"{where}.gate", m["gate"]),
                           outcome=v.string(f"{where}.outcome", m["outcome"]),
                           reason=v.string(f"{where}.reason", m["reason"]) if "reason" in m else None)


def _patterns(v: _V, where: str, raw: Any, *, gate: str | None = None) -> tuple[DecisionPattern, ...]:
    if not isinstance(raw, list):
        raise v.fail(where, f"expected a list of {{gate, outcome, reason?}}, got {raw!r}")
    return tuple(_pattern(v, f"{where}[{i}]", r, gate=gate) for i, r in enumerate(raw))


BARGE_IN_OUTCOMES = ("abandon", "resume", "suppressed", "none")


def _expect(v: _V, raw: Any) -> Expect:
    if raw is None:
        return Expect()
    m = v.mapping("expect", raw, {"route", "handoff", "guard", "barge_ins", "decisions", "no_decisions",
                                  "heard_text_contains", "heard_text_excludes", "context_contains", "context_excludes",
                                  "transcript_excludes", "max_barge_in_gap_ms"})
    handoff = m.get("handoff")
    if handoff is not None and not isinstance(handoff, (bool, str)):
        raise v.fail("expect.handoff", f"expected true, false or a reason code, got {handoff!r}")
    barge_ins = None
    if "barge_ins" in m:
        if not isinstance(m["barge_ins"], list):
            raise v.fail("expect.barge_ins", "expected a list of {outcome: abandon|resume|suppressed|none}")
        out = []
        for i, b in enumerate(m["barge_ins"]):
            w = f"expect.barge_ins[{i}]"
            bm = v.mapping(w, b, {"outcome"}, {"outcome"})
            outs = v.strings(f"{w}.outcome", bm["outcome"])
            for o in outs:
                if o not in BARGE_IN_OUTCOMES:
                    raise v.fail(f"{w}.outcome", f"expected one of {', '.join(BARGE_IN_OUTCOMES)}, got {o!r}")
            out.append(outs)
        barge_ins = tuple(out)
    return Expect(
        route=v.string("expect.route", m["route"]) if "route" in m else None,
        handoff=handoff,
        guard=_patterns(v, "expect.guard", m["guard"], gate="guard") if "guard" in m else (),
        barge_ins=barge_ins,
        decisions=_patterns(v, "expect.decisions", m["decisions"]) if "decisions" in m else (),
        no_decisions=_patterns(v, "expect.no_decisions", m["no_decisions"]) if "no_decisions" in m else (),
        heard_text_contains=v.strings("expect.heard_text_contains", m.get("heard_text_contains", [])),
        heard_text_excludes=v.strings("expect.heard_text_excludes", m.get("heard_text_excludes", [])),
        context_contains=v.strings("expect.context_contains", m.get("context_contains", [])),
        context_excludes=v.strings("expect.context_excludes", m.get("context_excludes", [])),
        transcript_excludes=v.strings("expect.transcript_excludes", m.get("transcript_excludes", [])),
        max_barge_in_gap_ms=_gap_limit(v, m.get("max_barge_in_gap_ms")),
    )


def _gap_limit(v: _V, raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise v.fail("expect.max_barge_in_gap_ms", f"expected a whole number of milliseconds >= 0, got {raw!r}")
    return raw


TOP_FIELDS = {"name", "description", "voice", "from", "to", "noise", "echo", "max_duration_s", "steps", "expect",
              "models", "turn_taking"}


def parse_scenario(data: Any, *, path: Path | str = "<scenario>", base: Path | None = None) -> Scenario:
    """Validate already-loaded YAML data; ``base`` resolves relative paths."""
    v = _V(path)
    base = base if base is not None else Path.cwd()
    m = v.mapping("", data, TOP_FIELDS, {"steps"})
    voice = v.voice("voice", m["voice"]) if "voice" in m else DEFAULT_CALLER_VOICE
    raw_steps = m["steps"]
    if not isinstance(raw_steps, list) or not raw_steps:
        raise v.fail("steps", "expected a non-empty list of steps")
    steps = tuple(_step(v, f"steps[{i}]", s, base, voice) for i, s in enumerate(raw_steps))
    for i, s in enumerate(steps[:-1]):
        if isinstance(s, Hangup):
            raise v.fail(f"steps[{i}]", "hangup must be the last step")
    noise = None
    if "noise" in m:
        nm = v.mapping("noise", m["noise"], {"file", "snr_db"}, {"file", "snr_db"})
        noise = Noise(file=v.file("noise.file", nm["file"], base),
                      snr_db=v.number("noise.snr_db", nm["snr_db"], lo=-10, hi=60))
    echo = None
    if "echo" in m:
        em = v.mapping("echo", m["echo"], {"delay_ms", "attenuation_db"}, {"delay_ms", "attenuation_db"})
        echo = Echo(delay_ms=v.ms("echo.delay_ms", em["delay_ms"], hi=2000),
                    attenuation_db=v.number("echo.attenuation_db", em["attenuation_db"], lo=0, hi=80))
    name = m.get("name", Path(str(path)).stem)
    models = _models(v, m["models"]) if "models" in m else None
    turn_taking = _turn_taking(v, m["turn_taking"]) if "turn_taking" in m else ()
    return Scenario(
        name=v.string("name", name),
        path=Path(path) if not str(path).startswith("<") else None,
        description=v.string("description", m["description"], nonempty=False) if "description" in m else "",
        voice=voice,
        from_number=v.string("from", str(m["from"])) if "from" in m else "+15550100",
        to_number=v.string("to", str(m["to"])) if "to" in m else "+18005550199",
        steps=steps,
        noise=noise,
        echo=echo,
        max_duration_s=v.number("max_duration_s", m.get("max_duration_s", 120.0), lo=1, hi=3600),
        expect=_expect(v, m.get("expect")),
        models=models,
        turn_taking=turn_taking,
    )


def _turn_taking(v: _V, raw: Any) -> tuple[tuple[str, Any], ...]:
    from dataclasses import fields

    from ..core.params import TurnParams

    known = {f.name for f in fields(TurnParams)}
    m = v.mapping("turn_taking", raw, known)
    out = []
    for name, value in m.items():
        kind = type(getattr(TurnParams(), name))
        if kind in (int, float, bool) and (type(value) is not kind and not (kind is float and type(value) is int)):
            raise v.fail(f"turn_taking.{name}", f"expected {kind.__name__}, got {value!r}")
        out.append((name, value))
    return tuple(out)


def _models(v: _V, raw: Any) -> FakeModels:
    m = v.mapping("models", raw, {"profiles", "fallback"}, {"profiles"})
    profiles = []
    for name, spec in v.mapping("models.profiles", m["profiles"], set(m["profiles"] or ())).items():
        where = f"models.profiles.{name}"
        pm = v.mapping(where, spec or {}, {"first_token_ms", "stall_ms", "status", "reply"})
        profiles.append((str(name), FakeModel(
            first_token_ms=v.ms(f"{where}.first_token_ms", pm["first_token_ms"], lo=1, hi=60_000)
            if "first_token_ms" in pm else None,
            stall_ms=v.ms(f"{where}.stall_ms", pm.get("stall_ms", 0), hi=120_000),
            status=int(v.number(f"{where}.status", pm.get("status", 200), lo=100, hi=599)),
            reply=v.string(f"{where}.reply", pm.get("reply", ""), nonempty=False))))
    names = {n for n, _ in profiles} | {"scripted"}
    fallback = []
    for name, chain in v.mapping("models.fallback", m.get("fallback") or {}, names).items():
        entries = v.strings(f"models.fallback.{name}", chain)
        for e in entries:
            if e not in names:
                raise v.fail(f"models.fallback.{name}", f"{e!r} is not a profile of this scenario")
        fallback.append((str(name), entries))
    return FakeModels(profiles=tuple(profiles), fallback=tuple(fallback))
MAX_SCENARIO_BYTES = 1024 * 1024  # a scenario is a script, not audio; its WAVs are separate files


def load_scenario(path: Path | str) -> Scenario:
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_SCENARIO_BYTES + 1)
    except OSError as e:
        raise ScenarioError(p, "", f"cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError(p, "", f"larger than {MAX_SCENARIO_BYTES} bytes; is this the right file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(p, "", f"not UTF-8 ({e.reason} at byte {e.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(p, where, f"not valid YAML: {getattr(e, 'problem', None) or e}") from None
    return parse_scenario(data, path=p, base=p.resolve().parent)
