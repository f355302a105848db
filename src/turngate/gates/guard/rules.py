"""GuardRules: the policy's ``guard:`` section as one frozen value.

Accepted mapping (every key optional; defaults below)::

    entities:                      # per entity, the action per direction
      CARD_NUMBER: {input: redact, output: mask_last4}
    never_send: [CARD_NUMBER, CVV] # redacted whatever the action says; "allow" is an error
    injection: block               # block | escalate | flag
    unsafe: escalate               # escalate | block | flag: requests for harmful content are
                                   # blocked unless "flag"; self-harm, threats and abuse of the
                                   # agent always escalate to a person, whatever this says
    injection_threshold: 0.9       # model probability; default: the shipped model's own
    safe_replies: {require_auth: "...", ...}
    phrases: ["i don't see the point of going on anymore", ...]
                                   # words the embedded recogniser must be able to hear
                                   # (its language model holds only the policy's phrases);
                                   # no detector reads them


``inbound:``/``outbound:`` maps (entity -> action) are accepted as well.
Actions: ``allow``, ``redact``, ``mask_last4`` (keep the last four digits;
cards and accounts), ``block`` (refuse the text, with a safe reply).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ...errors import ConfigError
from .findings import ENTITY_TYPES

ACTIONS = frozenset({"allow", "redact", "mask_last4", "block"})
INJECTION_ACTIONS = frozenset({"block", "escalate", "flag"})
UNSAFE_ACTIONS = frozenset({"escalate", "block", "flag"})

_INBOUND = {t: "redact" for t in ENTITY_TYPES}
_OUTBOUND = {
    "CARD_NUMBER": "mask_last4", "CVV": "block", "SSN": "block", "DATE_OF_BIRTH": "redact",
    "PHONE": "allow", "EMAIL": "allow", "ACCOUNT_NUMBER": "mask_last4", "CARD_EXPIRY": "redact",
    "CREDENTIAL": "block",
}
_NEVER_SEND = frozenset({"CARD_NUMBER", "CVV", "SSN", "DATE_OF_BIRTH", "ACCOUNT_NUMBER", "CARD_EXPIRY",
                         "CREDENTIAL"})
SAFE_REPLIES: dict[str, str] = {
    "injection": "I can't do that, but I'm happy to help with your account.",
    "authority_claim": (
        "I'm not able to skip any security steps, whoever asks. "
        "I can verify you now if you'd like to continue."
    ),
    "require_auth": "Before I can help with that, I need to verify your identity.",
    "harmful_request": "I can't help with that.",
    "self_harm": (
        "I'm really sorry you're feeling this way, and I'm glad you told me. You don't have to "
        "go through this alone. I'm connecting you now with someone who can help. If you are in "
        "immediate danger, please call your local emergency number."
    ),
    # Asked when a caller's words raise a self-harm concern short of a verdict (welfare.py):
    # directly, as suicide prevention training teaches; a yes or an unsure answer reaches a person.
    "welfare_check": (
        "I'm sorry things are so hard right now. Can I ask you directly: are you thinking about "
        "harming yourself or ending your life?"
    ),
    "threat": "I'm going to pass this call to a colleague now.",
    "threatened": (
        "I'm sorry you're dealing with that, and thank you for telling me. I'm connecting you now "
        "with a colleague who can help. If you are in immediate danger, please call your local "
        "emergency number."
    ),
    "abuse": "I'm going to pass this call to a colleague now.",
    "entity_block": (
        "For your security, please don't read that out. I'll take you to a secure way to provide it."
    ),
    "output_blocked": "Sorry, I can't share that. Is there anything else I can help with?",
}


def _frozen(d: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardRules:
    inbound: Mapping[str, str] = field(default_factory=lambda: _frozen(_INBOUND))
    outbound: Mapping[str, str] = field(default_factory=lambda: _frozen(_OUTBOUND))
    never_send: frozenset[str] = _NEVER_SEND
    injection: str = "block"
    unsafe: str = "escalate"
    injection_threshold: float | None = None
    safe_replies: Mapping[str, str] = field(default_factory=lambda: _frozen(SAFE_REPLIES))
    phrases: tuple[str, ...] = ()

    def action(self, entity: str, direction: str) -> str:
        table = self.inbound if direction == "input" else self.outbound
        act = table.get(entity, "redact")
        if entity in self.never_send and act == "allow":
            return "redact"
        return act

    def reply(self, key: str) -> str:
        return self.safe_replies.get(key) or SAFE_REPLIES[key]

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> GuardRules:
        """Build from the policy's ``guard:`` section; ConfigError names the bad field."""
        if not d:
            return cls()
        if not isinstance(d, Mapping):
            raise ConfigError("guard: expected a mapping")
        known = {"entities", "inbound", "outbound", "never_send", "injection", "unsafe",
                 "injection_threshold", "safe_replies", "phrases"}
        for key in d:
            if key not in known:
                raise ConfigError(f"guard.{key}: unknown field (known: {', '.join(sorted(known))})")
        inbound = dict(_INBOUND)
        outbound = dict(_OUTBOUND)
        entities = d.get("entities") or {}
        if not isinstance(entities, Mapping):
            raise ConfigError("guard.entities: expected a mapping of entity -> {input, output}")
        for ent, spec in entities.items():
            _check_entity(ent, f"guard.entities.{ent}")
            if not isinstance(spec, Mapping):
                raise ConfigError(f"guard.entities.{ent}: expected {{input: ..., output: ...}}")
            for k, v in spec.items():
                if k not in ("input", "output"):
                    raise ConfigError(f"guard.entities.{ent}.{k}: unknown field (input, output)")
                _check_action(v, f"guard.entities.{ent}.{k}")
                (inbound if k == "input" else outbound)[ent] = v
        for name, table in (("inbound", inbound), ("outbound", outbound)):
            section = d.get(name) or {}
            if not isinstance(section, Mapping):
                raise ConfigError(f"guard.{name}: expected a mapping of entity -> action")
            for ent, v in section.items():
                _check_entity(ent, f"guard.{name}.{ent}")
                _check_action(v, f"guard.{name}.{ent}")
                table[ent] = v
        never = d.get("never_send", sorted(_NEVER_SEND))
        if isinstance(never, str) or not isinstance(never, (list, tuple, set, frozenset)):
            raise ConfigError("guard.never_send: expected a list of entity types")
        for ent in never:
            _check_entity(ent, "guard.never_send")
            for name, table in (("input", inbound), ("output", outbound)):
                if table.get(ent) == "allow":
                    raise ConfigError(
                        f"guard.entities.{ent}.{name}: 'allow' contradicts never_send"
                    )
        injection = d.get("injection", "block")
        if injection not in INJECTION_ACTIONS:
            raise ConfigError(f"guard.injection: {injection!r} is not one of {sorted(INJECTION_ACTIONS)}")
        unsafe = d.get("unsafe", "escalate")
        if unsafe not in UNSAFE_ACTIONS:
            raise ConfigError(f"guard.unsafe: {unsafe!r} is not one of {sorted(UNSAFE_ACTIONS)}")
        threshold = d.get("injection_threshold")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1
        ):
            raise ConfigError("guard.injection_threshold: expected a number between 0 and 1")
        replies = dict(SAFE_REPLIES)
        extra = d.get("safe_replies") or {}
        if not isinstance(extra, Mapping):
            raise ConfigError("guard.safe_replies: expected a mapping")
        for k, v in extra.items():
            if k not in SAFE_REPLIES:
                raise ConfigError(f"guard.safe_replies.{k}: unknown reply (known: {', '.join(SAFE_REPLIES)})")
            if not isinstance(v, str) or not v.strip():
                raise ConfigError(f"guard.safe_replies.{k}: expected non-empty text")
            replies[k] = v
        phrases = d.get("phrases") or []
        if isinstance(phrases, str) or not isinstance(phrases, (list, tuple)) or not all(
                isinstance(p, str) and p.strip() for p in phrases):
            raise ConfigError("guard.phrases: expected a list of non-empty texts")
        return cls(
            phrases=tuple(phrases),
            inbound=_frozen(inbound), outbound=_frozen(outbound), never_send=frozenset(never),
            injection=injection, unsafe=unsafe,
            injection_threshold=float(threshold) if threshold is not None else None,
            safe_replies=_frozen(replies),
        )


def _check_entity(ent: Any, where: str) -> None:
    if ent not in ENTITY_TYPES:
        raise ConfigError(f"{where}: unknown entity {ent!r} (known: {', '.join(ENTITY_TYPES)})")


def _check_action(v: Any, where: str) -> None:
    if v not in ACTIONS:
        raise ConfigError(f"{where}: {v!r} is not one of {sorted(ACTIONS)}")
