"""The pieces of the security layer as pure functions: time is an argument, nothing sleeps."""

from __future__ import annotations

import pytest

from turngate.config import Config
from turngate.errors import AuthError, ConfigError
from turngate.server.access import (
    check_admin, is_admin_path, is_local_client, is_loopback_host, presented_token, startup_warnings,
    token_accepted, unsigned_webhook_refusal,
)
from turngate.server.limits import RateLimiter
from turngate.twilio.security import StreamTokens


def test_a_source_gets_its_burst_then_one_request_per_refill():
    rl = RateLimiter(rate=2.0, burst=3)
    assert [rl.check("a", 0.0) for _ in range(3)] == [None, None, None]
    assert rl.check("a", 0.0) == pytest.approx(0.5)
    assert rl.check("b", 0.0) is None           # another source has its own bucket
    assert rl.check("a", 0.5) is None           # half a second refills one request
    assert rl.check("a", 0.5) == pytest.approx(0.5)
    assert [rl.check("a", 100.0) for _ in range(4)].count(None) == 3   # refills up to the burst only


def test_the_limiter_forgets_the_least_recently_seen_source_when_full():
    rl = RateLimiter(rate=1.0, burst=1, max_sources=2)
    rl.check("a", 0.0)
    rl.check("b", 0.0)
    assert rl.check("b", 0.0) is not None       # b is limited, and now the most recently seen
    rl.check("c", 0.0)                           # full: a goes
    assert len(rl) == 2
    assert rl.check("b", 0.0) is not None       # b is still remembered, still limited


def test_a_stream_token_opens_one_stream_and_is_forgotten_after_it_expires():
    tokens = StreamTokens("s", ttl_s=300)
    t = tokens.mint("CA1", now=1000)
    tokens.check(t, "CA1", now=1001)
    with pytest.raises(AuthError) as e:
        tokens.check(t, "CA1", now=1002)
    assert e.value.close_reason == "token replayed"
    assert len(tokens) == 1
    t2 = tokens.mint("CA2", now=1400)
    tokens.check(t2, "CA2", now=1401)            # the first token expired at 1300: pruned
    assert len(tokens) == 1
    with pytest.raises(AuthError) as e:
        tokens.check(t, "CA1", now=1401)
    assert e.value.close_reason == "token expired"


def test_the_token_ledger_fails_closed_when_full():
    tokens = StreamTokens("s", ttl_s=300, capacity=2)
    for sid in ("CA1", "CA2"):
        tokens.check(tokens.mint(sid, now=0), sid, now=0)
    with pytest.raises(AuthError) as e:
        tokens.check(tokens.mint("CA3", now=0), "CA3", now=0)
    assert e.value.close_reason == "token ledger full"


def test_only_twilio_paths_and_probes_are_public():
    public = ["/twilio/voice", "/twilio/stream", "/healthz", "/readyz", "/console/login"]
    admin = ["/api/calls", "/metrics", "/console", "/console/calls", "/", "/twilio", "/healthz/", "/Twilio/voice",
             "/console/login/x", "/anything"]
    assert all(not is_admin_path(p) for p in public)
    assert all(is_admin_path(p) for p in admin)


def test_local_means_a_configured_network_and_no_proxy_in_between():
    cfg = Config()
    assert is_local_client(cfg, "127.0.0.1", {}) and is_local_client(cfg, "::1", {})
    assert is_local_client(cfg, "::ffff:127.0.0.1", {})
    assert not is_local_client(cfg, "127.0.0.1", {b"x-forwarded-for": b"1.2.3.4"})
    assert not is_local_client(cfg, "10.0.0.1", {}) and not is_local_client(cfg, None, {})
    assert not is_local_client(cfg, "not-an-ip", {})
    assert is_local_client(Config(local_networks=("10.0.0.0/8",)), "10.1.2.3", {})
    assert not is_local_client(Config(local_networks=()), "127.0.0.1", {})


def test_credentials_come_from_the_bearer_header_or_the_cookie():
    assert presented_token({b"authorization": b"Bearer abc"}) == "abc"
    assert presented_token({b"authorization": b"bearer  abc "}) == "abc"
    assert presented_token({b"authorization": b"Basic abc"}) is None
    assert presented_token({b"cookie": b"a=1; turngate_token=xyz"}) == "xyz"
    cfg = Config(admin_token="A", console_token="C")
    assert token_accepted(cfg, "/api/calls", "A") and not token_accepted(cfg, "/api/calls", "C")
    assert token_accepted(cfg, "/console/calls", "C") and token_accepted(cfg, "/console", "A")
    assert not token_accepted(cfg, "/consoles", "C") and not token_accepted(cfg, "/api", "")
    assert not token_accepted(cfg, "/api", "Aa")
    assert check_admin(cfg, "/api/calls", "127.0.0.1", {}).reason == "missing_token"
    assert check_admin(Config(), "/api/calls", "127.0.0.1", {}) is None
    assert check_admin(Config(), "/api/calls", "8.8.8.8", {}).status == 403


def test_an_exposed_gateway_without_credentials_warns_and_refuses_unsigned_webhooks():
    assert startup_warnings(Config()) == []
    warnings = startup_warnings(Config(host="0.0.0.0"))
    assert len(warnings) == 2 and "TURNGATE_ADMIN_TOKEN" in warnings[0] and "TWILIO_AUTH_TOKEN" in warnings[1]
    assert len(startup_warnings(Config(public_url="https://gw.example.com"))) == 2
    assert startup_warnings(Config(host="0.0.0.0", admin_token="a", twilio_auth_token="t")) == []
    assert unsigned_webhook_refusal(Config(), "127.0.0.1", {}) is None
    assert "TWILIO_AUTH_TOKEN" in unsigned_webhook_refusal(Config(host="0.0.0.0"), "127.0.0.1", {})
    assert unsigned_webhook_refusal(Config(), "127.0.0.1", {b"x-forwarded-for": b"1.2.3.4"}) is not None
    assert unsigned_webhook_refusal(Config(host="0.0.0.0", insecure_dev=True), "8.8.8.8", {}) is None
    assert is_loopback_host("localhost") and is_loopback_host("::1") and not is_loopback_host("::")


def test_new_settings_come_from_the_environment_and_bad_values_say_which():
    cfg = Config.from_env(env={"TURNGATE_ADMIN_TOKEN": "a", "TURNGATE_LOCAL_NETWORKS": "10.0.0.0/8, ::1",
                               "TURNGATE_INSECURE_DEV": "1", "TURNGATE_WEBHOOK_RATE": "2.5"})
    assert (cfg.admin_token, cfg.local_networks, cfg.insecure_dev, cfg.webhook_rate) == \
        ("a", ("10.0.0.0/8", "::1"), True, 2.5)
    for env, field in [({"TURNGATE_LOCAL_NETWORKS": "nope"}, "LOCAL_NETWORKS"),
                       ({"TURNGATE_INSECURE_DEV": "maybe"}, "INSECURE_DEV"),
                       ({"TURNGATE_WEBHOOK_RATE": "fast"}, "WEBHOOK_RATE"),
                       ({"TURNGATE_MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES")]:
        with pytest.raises(ConfigError, match=field):
            Config.from_env(env=env)


def test_secrets_stay_out_of_the_config_repr():
    cfg = Config(twilio_auth_token="T0K", admin_token="ADM", console_token="CON", stream_secret="STR",
                 crm_webhook_url="https://crm.example/hook?key=K3Y")
    text = repr(cfg)
    assert not any(s in text for s in ("T0K", "ADM", "CON", "STR", "K3Y"))
    assert set(cfg.secrets()) == {"T0K", "ADM", "CON", "STR", "https://crm.example/hook?key=K3Y"}


def test_oversized_policy_and_scenario_files_are_refused_with_a_clear_error(tmp_path):
    from turngate.policy import MAX_POLICY_BYTES, load_policy
    from turngate.sim.scenario import MAX_SCENARIO_BYTES, ScenarioError, load_scenario

    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * max(MAX_POLICY_BYTES, MAX_SCENARIO_BYTES) + b"\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_policy(big)
    with pytest.raises(ScenarioError, match="larger than"):
        load_scenario(big)
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(bad)


def test_a_non_ascii_signature_or_token_is_refused_not_an_error():
    from turngate.twilio.security import check_stream_token, validate_signature

    with pytest.raises(AuthError) as e:
        validate_signature("tok", "https://x/twilio/voice", {}, "sïgnature")
    assert e.value.close_reason == "bad signature"
    with pytest.raises(AuthError) as e:
        check_stream_token("s", "CA1.2000000000.ñ\ud800", "CA1", now=0)
    assert e.value.close_reason == "bad token"
