"""The policy's models: section: what `turngate policy check` catches, each error
naming file, line and field, and what a valid section becomes."""

from __future__ import annotations

import argparse
import traceback
from pathlib import Path

import pytest

from turngate.errors import ConfigError
from turngate.policy import parse_policy
from turngate.policy_cli import check_main

ROOT = Path(__file__).resolve().parents[1]
BASE = (ROOT / "policies" / "default.yaml").read_text(encoding="utf-8")

GOOD = """
models:
  profiles:
    low_latency:
      provider: openai
      base_url: https://api.openai.com/v1/
      model: gpt-4o-mini
      api_key_env: OPENAI_API_KEY
      first_token_ms: 600
      total_ms: 8000
    low_latency_backup: {provider: openai, base_url: http://127.0.0.1:8000/v1, model: llama-3.1-8b, first_token_ms: 900}
    strong_guard: {provider: openai, base_url: https://api.openai.com/v1, model: gpt-4o, api_key_env: OPENAI_API_KEY,
                   temperature: 0.2, max_tokens: 200, system_prompt: "Be careful."}
  fallback:
    low_latency: [low_latency_backup, scripted]
    strong_guard: [low_latency, scripted]
  breaker: {failures_to_open: 4, cool_down_ms: 15000}
"""


def error_of(section: str) -> tuple[str, list[str]]:
    text = BASE + section
    with pytest.raises(ConfigError) as e:
        parse_policy(text, source="bad.yaml")
    return str(e.value), text.splitlines()


def line_of(lines: list[str], needle: str, after: str = "models:") -> int:
    start = next(i for i, ln in enumerate(lines) if ln.startswith(after))
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def test_a_valid_section_becomes_frozen_profiles_and_chains():
    p = parse_policy(BASE + GOOD, source="good.yaml")
    m = p.models
    assert set(m.profiles) == {"low_latency", "low_latency_backup", "strong_guard"}
    ll = m.profile("low_latency")
    assert ll.base_url == "https://api.openai.com/v1" and ll.first_token_ms == 600 and ll.total_ms == 8000
    assert ll.api_key_env == "OPENAI_API_KEY" and m.profile("strong_guard").temperature == 0.2
    assert m.chain("low_latency") == ("low_latency_backup", "scripted") and m.chain("faq") == ()
    assert m.breaker.failures_to_open == 4 and m.breaker.cool_down_ms == 15000
    assert m.profile("fallback") is None            # a route profile the section does not define: scripted


def test_the_bundled_policy_defines_no_model_and_needs_no_key():
    assert parse_policy(BASE, source="default.yaml").models.profiles == {}


def test_an_unknown_provider_is_named_at_its_line():
    msg, lines = error_of(GOOD.replace("provider: openai\n", "provider: anthropic\n", 1))
    assert f"bad.yaml:{line_of(lines, 'provider: anthropic')}: models.profiles.low_latency.provider" in msg
    assert "unknown provider 'anthropic'" in msg


def test_a_fallback_entry_naming_an_undefined_profile_is_an_error():
    msg, lines = error_of(GOOD.replace("[low_latency_backup, scripted]", "[low_latency_bakup, scripted]"))
    assert f"bad.yaml:{line_of(lines, 'low_latency_bakup')}: models.fallback.low_latency[0]" in msg
    assert "'low_latency_bakup' is not a profile" in msg


def test_a_fallback_for_an_undefined_profile_is_an_error():
    msg, lines = error_of(GOOD.replace("  breaker:", "    faq_fast: [low_latency]\n  breaker:"))
    assert f"bad.yaml:{line_of(lines, 'faq_fast:')}: models.fallback.faq_fast" in msg


def test_a_fallback_cycle_is_an_error_that_draws_the_cycle():
    msg, _ = error_of(GOOD.replace("    low_latency: [low_latency_backup, scripted]\n",
                                   "    low_latency: [low_latency_backup, scripted]\n"
                                   "    low_latency_backup: [strong_guard]\n"))
    assert "fallback cycle: " in msg
    assert "low_latency -> low_latency_backup -> strong_guard -> low_latency" in msg


def test_a_profile_falling_back_to_itself_is_an_error():
    msg, _ = error_of(GOOD.replace("[low_latency_backup, scripted]", "[low_latency, scripted]"))
    assert "models.fallback.low_latency[0]: 'low_latency' falls back to itself" in msg


def test_scripted_must_end_a_chain():
    msg, _ = error_of(GOOD.replace("[low_latency_backup, scripted]", "[scripted, low_latency_backup]"))
    assert "models.fallback.low_latency[0]: 'scripted' must be the last entry" in msg


@pytest.mark.parametrize("old,new,field,words", [
    ("first_token_ms: 600", "first_token_ms: -5", "low_latency.first_token_ms", "greater than 0"),
    ("first_token_ms: 600", "first_token_ms: soon", "low_latency.first_token_ms", "valid integer"),
    ("temperature: 0.2", "temperature: 3.5", "strong_guard.temperature", "less than or equal to 2"),
    ("max_tokens: 200", "max_tokens: 0", "strong_guard.max_tokens", "greater than or equal to 1"),
    ("total_ms: 8000", "total_ms: 300", "low_latency.total_ms", "shorter than first_token_ms"),
    ("base_url: https://api.openai.com/v1/", "base_url: api.openai.com", "low_latency.base_url", "http"),
    ("first_token_ms: 600", "first_tokn_ms: 600", "low_latency.first_tokn_ms", "Extra inputs"),
])
def test_bad_numbers_and_fields_name_their_line(old, new, field, words):
    msg, lines = error_of(GOOD.replace(old, new, 1))
    key = new.split(":")[0]
    assert f"bad.yaml:{line_of(lines, key + ':')}: models.profiles.{field}" in msg, msg
    assert words in msg


def test_a_pasted_key_instead_of_a_variable_name_is_refused_without_echoing_it():
    secret = "sk-proj-AbCdEf0123456789"
    msg, lines = error_of(GOOD.replace("api_key_env: OPENAI_API_KEY\n", f"api_key_env: {secret}\n", 1))
    assert f"bad.yaml:{line_of(lines, 'api_key_env: sk-')}: models.profiles.low_latency.api_key_env" in msg
    assert secret not in msg and "name of an environment variable" in msg
    with pytest.raises(ConfigError) as e:
        parse_policy(BASE + GOOD.replace("api_key_env: OPENAI_API_KEY\n", f"api_key_env: {secret}\n", 1))
    assert secret not in "".join(traceback.format_exception(e.value))  # nor in a traceback's chained cause


def test_a_route_may_name_a_profile_the_section_defines_and_not_an_unknown_one():
    routed = BASE.replace("    profile: low_latency\n", "    profile: low_latency_backup\n", 1)
    assert parse_policy(routed + GOOD, source="ok.yaml").route("appointment").profile == "low_latency_backup"
    with pytest.raises(ConfigError, match=r"routes\.appointment\.profile: unknown profile 'low_latency_backup'"):
        parse_policy(routed, source="bad.yaml")


def test_policy_check_fails_with_the_line(tmp_path, capsys):
    f = tmp_path / "p.yaml"
    f.write_text(BASE + GOOD.replace("[low_latency_backup, scripted]", "[nope]"))
    assert check_main(argparse.Namespace(file=str(f))) == 1
    err = capsys.readouterr().err
    assert f"{f}:" in err and "models.fallback.low_latency[0]" in err
    f.write_text(BASE + GOOD)
    assert check_main(argparse.Namespace(file=str(f))) == 0
