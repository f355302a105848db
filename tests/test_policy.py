"""The policy file: validation errors name file, line and field; the bundled
default is complete and identical to the user-facing copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from turngate.core.params import TurnParams
from turngate.errors import ConfigError
from turngate.policy import (
    AUTH_REQUIRED_ROUTES,
    DEFAULT_POLICY_PATH,
    REQUIRED_ROUTES,
    FieldClass,
    load_policy,
    parse_policy,
)

ROOT = Path(__file__).resolve().parents[1]
USER_COPY = ROOT / "policies" / "default.yaml"


def _default_text() -> str:
    return USER_COPY.read_text(encoding="utf-8")


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_policy(text, source="bad.yaml")
    return str(exc.value)


def _line_of(text: str, needle: str, after: str | None = None) -> int:
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next(i for i, ln in enumerate(lines) if after in ln)
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def test_bundled_default_equals_user_facing_copy():
    assert DEFAULT_POLICY_PATH.read_bytes() == USER_COPY.read_bytes()


def test_default_policy_loads_with_all_required_routes():
    p = load_policy()
    assert set(REQUIRED_ROUTES) <= set(p.routes)
    for name in AUTH_REQUIRED_ROUTES:
        assert p.routes[name].requires_auth
    assert all(len(r.examples) >= 10 for r in p.routes.values())
    assert isinstance(p.turn_taking, TurnParams)
    assert p.turn_taking.end_silence_open_ms == 1400
    assert p.memory.field_class("card_number") is FieldClass.ZERO_RETENTION
    assert p.routes["payment"].rule == "route.payment"


def test_version_is_content_hash_and_changes_with_content():
    a = parse_policy(_default_text())
    b = parse_policy(_default_text() + "\n# a comment changes the bytes\n")
    assert a.version == load_policy(USER_COPY).version
    assert len(a.version) == 12 and int(a.version, 16) >= 0
    assert a.version != b.version


def test_wrong_type_names_file_line_and_field():
    text = _default_text()
    bad = text.replace("  stable_partials: 2\n", "  stable_partials: often\n", 1)
    msg = _error(bad)
    line = _line_of(bad, "stable_partials: often")
    assert f"bad.yaml:{line}:" in msg
    assert "route_gate.stable_partials" in msg


def test_unknown_key_is_an_error_at_its_line():
    text = _default_text()
    bad = text.replace("  reask_limit: 2\n", "  reask_limit: 2\n  reask_limt: 3\n", 1)
    msg = _error(bad)
    assert f"bad.yaml:{_line_of(bad, 'reask_limt')}:" in msg
    assert "handoff.reask_limt" in msg


def test_error_inside_a_route_points_into_that_route():
    text = _default_text()
    bad = text.replace("    profile: low_latency\n", "    profile: turbo\n", 1)
    msg = _error(bad)
    assert f"bad.yaml:{_line_of(bad, 'profile: turbo')}:" in msg
    assert "routes.appointment.profile" in msg
    assert "turbo" in msg


def test_turn_taking_field_is_validated_against_turn_params():
    text = _default_text()
    bad = text.replace("  end_silence_ms: 600\n", "  end_silence_ms: soon\n", 1)
    msg = _error(bad)
    assert f"bad.yaml:{_line_of(bad, 'end_silence_ms: soon')}:" in msg
    assert "turn_taking.end_silence_ms" in msg


def test_payment_without_auth_is_rejected():
    text = _default_text()
    line = _line_of(text, "requires_auth: true", after="  payment:")
    lines = text.splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace("true", "false")
    msg = _error("".join(lines))
    assert f"bad.yaml:{line}:" in msg
    assert "routes.payment.requires_auth" in msg


def test_missing_required_route_is_named():
    msg = _error("routes:\n  faq:\n    examples: [hello]\n")
    assert "bad.yaml:2:" in msg
    assert "appointment" in msg and "unknown" in msg


def test_memory_scope_must_name_declared_fields():
    text = _default_text()
    bad = text.replace("memory_scope: [name, branch]", "memory_scope: [name, shoe_size]", 1)
    msg = _error(bad)
    assert f"bad.yaml:{_line_of(bad, 'shoe_size')}:" in msg
    assert "shoe_size" in msg


def test_yaml_syntax_error_names_line():
    msg = _error("routes:\n  faq:\n    examples: [unclosed\n  other: 1\n")
    assert msg.startswith("bad.yaml:")
    assert "YAML" in msg


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")


def test_memory_scope_filters_by_purpose():
    p = load_policy()
    assert "recent_booking" in p.memory_for("appointment")
    assert "card_number" not in p.memory_for("payment")
    assert not p.memory.may_send_external("account_id")
    assert p.memory.may_store("account_id")
    assert not p.memory.may_store("cvv")
    # An undeclared field is treated as never stored, never sent.
    assert not p.memory.may_store("something_new")


def test_guard_section_becomes_guard_rules_and_its_errors_name_the_line():
    rules_mod = pytest.importorskip("turngate.gates.guard.rules")
    if not hasattr(rules_mod.GuardRules, "from_mapping"):
        pytest.skip("GuardRules.from_mapping not built")
    p = load_policy()
    assert isinstance(p.guard_rules, rules_mod.GuardRules)
    text = _default_text()
    bad = text.replace("  injection: block\n", "  injection: block\n  injektion: flag\n", 1)
    msg = _error(bad)
    assert f"bad.yaml:{_line_of(bad, 'injektion')}:" in msg and "guard.injektion" in msg


def test_encoder_switch_accepts_only_off_or_auto():
    text = _default_text()
    assert "encoder: auto" in text
    msg = _error(text.replace("encoder: auto", "encoder: always"))
    assert "route_gate.encoder" in msg and f"bad.yaml:{_line_of(text, 'encoder:')}:" in msg


def test_bare_yaml_off_means_off():
    p = parse_policy(_default_text().replace("encoder: auto", "encoder: off"))
    assert p.route_gate.encoder == "off"
