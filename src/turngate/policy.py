"""The declarative policy: routes, guard rules, handoff thresholds, turn-taking
parameters and memory field classes, read from one YAML file.

Theory of operation
-------------------
The policy is the only place a contact centre says what its calls may do; code
reads it, never the other way round. Loading is three steps:

1. ``yaml.compose`` keeps the node tree, so every value still knows its line.
2. pydantic validates the plain data (unknown keys are errors, not silently
   ignored options); each pydantic error location is walked back through the
   node tree to the line that holds it, and the message names file, line and field.
3. The validated data becomes frozen dataclasses. ``Policy.version`` is a short
   hash of the file's bytes, so every decision stamped with it points at exactly
   the text that decided.

Cross-field rules (required routes, memory scopes naming declared fields,
payment and refund requiring authentication) are checked here too, so a
policy that loads is a policy the gates can trust.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .core.params import TurnParams
from .errors import ConfigError
from .yaml_lines import describe, dotted, line_of
from .llm import profiles as model_profiles
from .llm.profiles import ModelsSection

__all__ = [
    "DEFAULT_POLICY_PATH",
    "REQUIRED_ROUTES",
    "AUTH_REQUIRED_ROUTES",
    "FieldClass",
    "HandoffThresholds",
    "MemoryPolicy",
    "ModelSelectionPolicy",
    "Policy",
    "RouteGateParams",
    "RouteSpec",
    "SelectionRule",
    "load_policy",
    "parse_policy",
]

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "data" / "default_policy.yaml"

REQUIRED_ROUTES: tuple[str, ...] = (
    "appointment", "payment", "refund", "complaint", "cancellation", "faq", "human", "unknown",
)
# The gate, not the prompt, holds this line: a policy may add routes that need
# authentication but may not take it away from these.
AUTH_REQUIRED_ROUTES: frozenset[str] = frozenset({"payment", "refund"})

# The profiles a route may name without a models: section (each served by the scripted
# agent until the section defines it); a policy's own models.profiles add to these.
PROFILES: frozenset[str] = frozenset({"low_latency", "strong_guard", "fallback", "human"})


class FieldClass(StrEnum):
    EXTERNAL_OK = "external_ok"        # may be sent to an external model
    CRM_ONLY = "crm_only"              # stored and handed to the CRM, never sent out
    ZERO_RETENTION = "zero_retention"  # used during the call, never stored or sent


# --- the frozen objects the gates read ------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteSpec:
    name: str
    description: str
    examples: tuple[str, ...]
    profile: str
    memory_scope: tuple[str, ...]
    requires_auth: bool
    handoff_queue: str
    next_action: str
    # segment -> next best action, for segments that change what we do next
    segment_actions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # A held route moves *to* this one only at this confidence (None: route_gate.drift_confidence).
    drift_confidence: float | None = None

    @property
    def rule(self) -> str:
        return f"route.{self.name}"

    def next_action_for(self, segment: str) -> str:
        return self.segment_actions.get(segment, self.next_action)


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteGateParams:
    """How the Route gate turns classifier scores into decisions."""

    min_confidence: float = 0.45    # below this a final is "unknown"
    switch_margin: float = 0.12     # a partial must beat the held route by this much to move it
    drift_margin: float = 0.2       # ... and by this much to count as intent drift
    stable_partials: int = 2        # consecutive partials agreeing before a partial commits
    min_partial_chars: int = 10     # shorter partials only hold
    drift_confidence: float = 0.0   # a held route moves only to a class at least this sure
    followup_drift_confidence: float = 0.0  # ... and this sure when the final refers back to the flow
    followup_max_words: int = 0     # a final this short (in words) refers back to the flow too (0: off)
    return_drift_confidence: float | None = None  # back to the route the call left: this sure (None: as drift)
    # The classifier (few examples per route: see docs/benchmarks.md, few-shot routing).
    describe_routes: bool = False   # each route's description is one more example of it
    encoder_C: float = 10.0         # the sentence view's logistic model
    encoder_weight: float = 0.5     # its weight against the sparse view on finals
    encoder_center: bool = False    # centre sentence embeddings on the examples' mean
    static_on_finals: float = 0.0   # the static word-vector view's share on finals
    encoder_tune_epochs: int = 0    # tune the encoder's last block on the examples first (0: frozen)
    encoder_tune_layers: int = 0    # 0: that block is the last feed-forward one; 1-2: the last whole layers
    # "auto": use the MiniLM encoder when its wheel is installed (static view on
    # partials, full encoder on finals, ~30 ms of CPU per final); "off": sparse only.
    encoder: Literal["off", "auto"] = "off"


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffThresholds:
    reask_limit: int = 2                  # re-asks in a call before a person takes over
    low_confidence: float = 0.45          # a final route below this counts as unsure
    low_confidence_turns: int = 3         # ... this many unsure finals in a row hand off
    refund_amount_limit: float = 250.0    # refunds above this need a person
    auth_failure_limit: int = 3
    provider_failure_limit: int = 2
    not_understood_limit: int = 2         # turns of speech in a row with no words before a person
    default_queue: str = "general"
    human_queue: str = "general"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryPolicy:
    fields: Mapping[str, FieldClass]

    def field_class(self, name: str) -> FieldClass:
        # An undeclared field is treated as the most restrictive class: a policy
        # that forgot a field must not leak it.
        return self.fields.get(name, FieldClass.ZERO_RETENTION)

    def may_send_external(self, name: str) -> bool:
        return self.field_class(name) is FieldClass.EXTERNAL_OK

    def may_store(self, name: str) -> bool:
        return self.field_class(name) is not FieldClass.ZERO_RETENTION


CLARIFY_REPLY = ("Sorry, I want to be sure I help with the right thing. "
                 "Could you tell me in a few words what you are calling about?")


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectionRule:
    """One ``model_selection.rules`` entry: when every condition holds, ``then`` decides
    (a profile name, ``clarify`` or ``handoff``). See ``turngate.gates.model``."""

    id: str
    when: Mapping[str, Any]
    then: str
    queue: str | None = None      # for ``then: handoff``; default: handoff.default_queue


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSelectionPolicy:
    rules: tuple[SelectionRule, ...] = ()
    uncertain_below: float = 0.5          # a route (re)decided below this is uncertain
    stt_uncertain_below: float = 0.5      # ... and so is a final the recogniser doubts
    clarify_reply: str = CLARIFY_REPLY


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    version: str
    source: str
    name: str
    routes: Mapping[str, RouteSpec]
    route_gate: RouteGateParams
    guard: Mapping[str, Any]
    handoff: HandoffThresholds
    turn_taking: TurnParams
    memory: MemoryPolicy
    # Built by the guard helper's GuardRules.from_mapping when it exists; None otherwise.
    guard_rules: Any = None
    model_selection: ModelSelectionPolicy = field(default_factory=ModelSelectionPolicy)
    # The models: section; a profile it does not define is served by the scripted agent.
    models: ModelsSection = field(default_factory=ModelsSection)
    # What may be kept beyond the decision log: {"replay_events": bool, "audio": bool}.
    retention: Mapping[str, Any] = field(default_factory=dict)

    def route(self, name: str) -> RouteSpec:
        return self.routes.get(name) or self.routes["unknown"]

    def memory_for(self, route: str) -> tuple[str, ...]:
        """The fields a route's purpose may see (memory is filtered by purpose)."""
        return self.route(route).memory_scope


# --- validation schema (plain data in, errors with locations out) --------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Route(_Strict):
    description: str = ""
    examples: list[str] = Field(min_length=1)
    profile: str = "low_latency"
    memory_scope: list[str] = Field(default_factory=list)
    requires_auth: bool = False
    handoff_queue: str = "general"
    next_action: str = "answer"
    segment_actions: dict[str, str] = Field(default_factory=dict)
    drift_confidence: float | None = Field(default=None, ge=0, le=1)

    @field_validator("examples")
    @classmethod
    def _non_empty_examples(cls, v: list[str]) -> list[str]:
        for i, e in enumerate(v):
            if not e.strip():
                raise ValueError(f"example {i} is empty")
        return v


class _RouteGate(_Strict):
    min_confidence: float = Field(default=0.45, ge=0, le=1)
    switch_margin: float = Field(default=0.12, ge=0, le=1)
    drift_margin: float = Field(default=0.2, ge=0, le=1)
    stable_partials: int = Field(default=2, ge=1, le=20)
    min_partial_chars: int = Field(default=10, ge=0)
    drift_confidence: float = Field(default=0.0, ge=0, le=1)
    followup_drift_confidence: float = Field(default=0.0, ge=0, le=1)
    followup_max_words: int = Field(default=0, ge=0, le=50)
    return_drift_confidence: float | None = Field(default=None, ge=0, le=1)
    describe_routes: bool = False
    encoder_C: float = Field(default=10.0, gt=0)
    encoder_weight: float = Field(default=0.5, ge=0, le=1)
    encoder_center: bool = False
    static_on_finals: float = Field(default=0.0, ge=0, le=1)
    encoder_tune_epochs: int = Field(default=0, ge=0, le=50)
    encoder_tune_layers: int = Field(default=0, ge=0, le=2)
    encoder: Literal["off", "auto"] = "off"

    @field_validator("encoder", mode="before")
    @classmethod
    def _yaml_off(cls, v: Any) -> Any:
        # YAML 1.1 reads a bare `off` as false; take it as meant.
        return "off" if v is False else v


class _Handoff(_Strict):
    reask_limit: int = Field(default=2, ge=1)
    low_confidence: float = Field(default=0.45, ge=0, le=1)
    low_confidence_turns: int = Field(default=3, ge=1)
    refund_amount_limit: float = Field(default=250.0, ge=0)
    auth_failure_limit: int = Field(default=3, ge=1)
    provider_failure_limit: int = Field(default=2, ge=1)
    not_understood_limit: int = Field(default=2, ge=1)
    default_queue: str = "general"
    human_queue: str = "general"


class _Memory(_Strict):
    fields: dict[str, FieldClass] = Field(default_factory=dict)


class _When(_Strict):
    routes: list[str] | None = Field(default=None, min_length=1)
    guard: list[Literal["allow", "redact"]] | None = Field(default=None, min_length=1)
    injection: bool | None = None
    uncertain: bool | None = None
    route_confidence_below: float | None = Field(default=None, ge=0, le=1)
    stt_confidence_below: float | None = Field(default=None, ge=0, le=1)
    reasks_at_least: int | None = Field(default=None, ge=0)
    authenticated: bool | None = None
    risk: bool | None = None
    segments: list[str] | None = Field(default=None, min_length=1)
    repeat_caller: bool | None = None


class _SelectionRule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    when: _When
    then: str
    queue: str | None = None


class _ModelSelection(_Strict):
    uncertain_below: float = Field(default=0.5, ge=0, le=1)
    stt_uncertain_below: float = Field(default=0.5, ge=0, le=1)
    clarify_reply: str = Field(default=CLARIFY_REPLY, min_length=1)
    rules: list[_SelectionRule] = Field(default_factory=list)


class _Retention(_Strict):
    # Record each call's core input events (caller numbers replaced by surrogates, see
    # turngate.replay.redact) so `turngate replay` can re-run the call under another policy.
    replay_events: bool = False
    # Keep the caller's audio (WAV in the config's audio_dir), with every stretch that held
    # PII muted (turngate.server.audio_keep); the console's call page plays it.
    audio: bool = False


class _Policy(_Strict):
    name: str = "unnamed"
    routes: dict[str, _Route]
    route_gate: _RouteGate = _RouteGate()
    guard: dict[str, Any] = Field(default_factory=dict)
    handoff: _Handoff = _Handoff()
    turn_taking: TurnParams = TurnParams()
    memory: _Memory = _Memory()
    model_selection: _ModelSelection = _ModelSelection()
    models: model_profiles.ModelsSchema = model_profiles.ModelsSchema()
    retention: _Retention = _Retention()


# --- loading ---------------------------------------------------------------------------


MAX_POLICY_BYTES = 1024 * 1024  # the bundled policy is ~10 KB


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy file; ``None`` loads the bundled default.

    Raises ``ConfigError`` naming file, line and field on any problem."""
    p = DEFAULT_POLICY_PATH if path is None else Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_POLICY_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"{p}: cannot read policy: {e.strerror or e}") from e
    if len(raw) > MAX_POLICY_BYTES:
        raise ConfigError(f"{p}: policy file is larger than {MAX_POLICY_BYTES} bytes; is this the right file?")
    return parse_policy(raw, source=str(p))


def parse_policy(raw: bytes | str, *, source: str = "<policy>") -> Policy:
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: policy is not UTF-8 ({e.reason} at byte {e.start})") from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        raise ConfigError(f"{source}:{line}: YAML syntax: {e.problem or e}") from e
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}:1: policy must be a mapping with at least a 'routes' section")
    try:
        model = _Policy.model_validate(doc)
    except ValidationError as e:
        # Not chained: pydantic's own text quotes each bad input, and a bad input may be a
        # key pasted where its variable's name belongs; a traceback must not print it.
        raise ConfigError(describe(e, node, source)) from None

    _check_cross_fields(model, node, source)
    version = hashlib.sha256(data).hexdigest()[:12]
    routes = {
        name: RouteSpec(
            name=name,
            description=r.description,
            examples=tuple(r.examples),
            profile=r.profile,
            memory_scope=tuple(r.memory_scope),
            requires_auth=r.requires_auth,
            handoff_queue=r.handoff_queue,
            next_action=r.next_action,
            segment_actions=MappingProxyType(dict(r.segment_actions)),
            drift_confidence=r.drift_confidence,
        )
        for name, r in model.routes.items()
    }
    return Policy(
        version=version,
        source=source,
        name=model.name,
        routes=MappingProxyType(routes),
        route_gate=RouteGateParams(**model.route_gate.model_dump()),
        guard=MappingProxyType(dict(model.guard)),
        handoff=HandoffThresholds(**model.handoff.model_dump()),
        turn_taking=model.turn_taking,
        memory=MemoryPolicy(fields=MappingProxyType(dict(model.memory.fields))),
        guard_rules=_guard_rules(model.guard, node, source),
        model_selection=ModelSelectionPolicy(
            rules=tuple(SelectionRule(id=r.id, when=MappingProxyType(r.when.model_dump(exclude_none=True)),
                                      then=r.then, queue=r.queue) for r in model.model_selection.rules),
            uncertain_below=model.model_selection.uncertain_below,
            stt_uncertain_below=model.model_selection.stt_uncertain_below,
            clarify_reply=model.model_selection.clarify_reply),
        models=model_profiles.build(model.models),
        retention=MappingProxyType(model.retention.model_dump()),
    )


def _guard_rules(section: dict[str, Any], root: yaml.Node | None, source: str) -> Any:
    # The guard gate defines its own rule object; use it when it is there so a
    # bad guard section fails at load time, with a line, like everything else.
    try:
        from .gates.guard.rules import GuardRules  # type: ignore[import-not-found]
    except ImportError:
        return None
    from_mapping = getattr(GuardRules, "from_mapping", None)
    if from_mapping is None:
        return None
    try:
        return from_mapping(section)
    except (ConfigError, ValueError, TypeError, KeyError) as e:
        # The guard's messages start with the dotted field ("guard.entities.CVV.input:");
        # walk it to its line, or fall back to the section's.
        msg = str(e)
        m = re.match(r"(guard(?:\.[\w-]+)*)", msg)
        loc: tuple[str | int, ...] = tuple(m.group(1).split(".")) if m else ("guard",)
        if not msg.startswith("guard"):
            msg = f"guard: {msg}"
        raise ConfigError(f"{source}:{line_of(root, loc)}: {msg}") from e


def _check_cross_fields(model: _Policy, root: yaml.Node | None, source: str) -> None:
    def fail(loc: tuple[str | int, ...], msg: str) -> None:
        raise ConfigError(f"{source}:{line_of(root, loc)}: {dotted(loc)}: {msg}")

    missing = [r for r in REQUIRED_ROUTES if r not in model.routes]
    if missing:
        fail(("routes",), f"missing required route(s): {', '.join(missing)}")
    for name in sorted(AUTH_REQUIRED_ROUTES):
        if not model.routes[name].requires_auth:
            fail(("routes", name, "requires_auth"), f"route {name!r} must require authentication")
    rg = model.route_gate
    if rg.encoder_weight + rg.static_on_finals > 1:
        fail(("route_gate", "static_on_finals"), "encoder_weight + static_on_finals must be at most 1")
    seen: set[str] = set()
    for i, rule in enumerate(model.model_selection.rules):
        if rule.id in seen:
            fail(("model_selection", "rules", i, "id"), f"duplicate rule id {rule.id!r}")
        seen.add(rule.id)
        if not rule.when.model_dump(exclude_none=True):
            fail(("model_selection", "rules", i, "when"), "a rule needs at least one condition")
        for j, route in enumerate(rule.when.routes or ()):
            if route not in model.routes:
                fail(("model_selection", "rules", i, "when", "routes", j), f"no route {route!r} in routes")
        if rule.queue is not None and rule.then != "handoff":
            fail(("model_selection", "rules", i, "queue"), "a queue is only for 'then: handoff'")
    known_profiles = PROFILES | set(model.models.profiles)
    for i, rule in enumerate(model.model_selection.rules):
        if rule.then not in known_profiles | {"clarify", "handoff"}:
            fail(("model_selection", "rules", i, "then"), f"unknown choice {rule.then!r}; expected a profile "
                 f"{sorted(known_profiles)}, 'clarify' or 'handoff'")
    for name, r in model.routes.items():
        if r.profile not in known_profiles:
            fail(("routes", name, "profile"), f"unknown profile {r.profile!r}; expected one of "
                 f"{sorted(known_profiles)} (or a new one defined under models.profiles)")
    for loc, msg in model_profiles.problems(model.models):
        fail(("models", *loc), msg)
    declared = model.memory.fields
    for name, r in model.routes.items():
        for i, f in enumerate(r.memory_scope):
            if f not in declared:
                fail(("routes", name, "memory_scope", i),
                     f"field {f!r} is not declared under memory.fields")
