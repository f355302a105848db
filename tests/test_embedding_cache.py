"""The route encoder's caches: finals prefetched off the event loop, policy examples on disk."""

from __future__ import annotations

import numpy as np

from turngate.embedding.cache import SHIPPED, CachedEncoder, embeddings_file
from turngate.policy import load_policy


class CountingEncoder:
    dim = 4

    def __init__(self) -> None:
        self.calls = 0

    def encode_one(self, text: str) -> np.ndarray:
        self.calls += 1
        return np.full(4, len(text), np.float32)

    def encode(self, texts, batch_size=64):
        self.calls += len(texts)
        return np.stack([self.encode_one(t) for t in texts])


def test_a_prefetched_final_is_not_encoded_again_on_the_event_loop():
    inner = CountingEncoder()
    enc = CachedEncoder(inner)
    enc.warm("i want a refund ")
    assert inner.calls == 1
    assert enc.encode_one("i want a refund").tolist() == [15.0] * 4
    assert inner.calls == 1 and enc.hits == 1
    enc.encode_one("something else")  # a miss still works, inline
    assert inner.calls == 2 and enc.misses == 1
    enc.encode_one("something else")  # and is kept: the guard reads the same final next
    assert inner.calls == 2 and enc.hits == 2


def test_policy_example_embeddings_are_computed_once_and_kept(tmp_path):
    texts = ["book an appointment", "pay my bill"]
    first = CachedEncoder(CountingEncoder(), cache_dir=tmp_path)
    a = first.encode(texts)
    second_inner = CountingEncoder()
    b = CachedEncoder(second_inner, cache_dir=tmp_path).encode(texts)
    assert second_inner.calls == 0 and np.array_equal(a, b)
    assert list(tmp_path.glob("embeddings-*.npy"))


def test_the_cache_dir_comes_from_config(tmp_path):
    from turngate.config import Config

    assert Config.from_env({"TURNGATE_CACHE_DIR": str(tmp_path)}).cache_dir == str(tmp_path)
    assert Config.from_env({"XDG_CACHE_HOME": str(tmp_path)}).cache_dir == str(tmp_path / "turngate")
    assert CachedEncoder(CountingEncoder()).cache_dir is None  # no directory: nothing is written


def test_the_bundled_policy_ships_its_example_embeddings():
    # If this fails, the bundled policy's examples changed: regenerate the file with
    #   .venv/bin/python -c "from turngate.policy import load_policy; from turngate.embedding.cache import for_policy; \
    #   from turngate.gates.route import Router; p = load_policy(); Router.from_policy(p, encoder=for_policy(p, 'src/turngate/data/embeddings'))"
    # and delete the stale one; otherwise every gateway start re-encodes them (tens of seconds).
    policy = load_policy()
    texts = [ex for spec in policy.routes.values() for ex in spec.examples]
    name = embeddings_file("MiniLMEncoder:384:v1", texts)
    assert (SHIPPED / name).exists(), name
    assert len(list(SHIPPED.glob("*.npy"))) == 1, "stale embedding files in the package"


def test_a_prefetched_final_also_serves_a_tuned_router_its_token_states():
    class TokenEncoder(CountingEncoder):
        def encode_tokens(self, texts, layers=0):
            self.calls += len(texts)
            return [np.full((len(t.split()), 4), 1.0, np.float32) for t in texts]

        def finish(self, states, params=None, layers=0):
            return np.stack([s.mean(0) for s in states])

    inner = TokenEncoder()
    enc = CachedEncoder(inner)
    enc.warm("i want a refund")
    assert inner.calls == 1
    assert enc.encode_tokens(["i want a refund"])[0].shape == (4, 4)
    assert enc.encode_one("i want a refund").tolist() == [1.0] * 4
    assert inner.calls == 1 and enc.hits == 2
