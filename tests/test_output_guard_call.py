"""A model's answer that holds a card number never reaches TTS unmasked: the real gate
pipeline of the bundled policy, on a call, checks every sentence before it is synthesized."""

from __future__ import annotations

import re

from turngate.core import Call
from turngate.core.actions import StartModel, Synthesize
from turngate.core.events import CallStarted, ModelDone, ModelTextDelta


def test_a_card_number_in_a_model_answer_is_masked_before_synthesis(policy):
    from turngate.config import Config
    from turngate.embedding.cache import for_policy
    from turngate.gates.pipeline import keeper_factory

    gates = keeper_factory(policy, "", encoder=for_policy(policy, Config.from_env().cache_dir))({})
    call = Call("CA1", gates=gates)
    call.handle(CallStarted(call_id="CA1", stream_sid="MZ1"), 0.0)
    acts = call.take_turn("what time do you open on saturday", 1.0)
    start = next(a for a in acts if isinstance(a, StartModel))
    out = call.handle(ModelTextDelta(generation=start.generation, attempt=start.attempt,
                                     text="The card on file is 4111 1111 1111 1111, expiring soon. "), 1.2)
    out += call.handle(ModelTextDelta(generation=start.generation, attempt=start.attempt,
                                      text="Your CVV is 123. Anything else?"), 1.3)
    out += call.handle(ModelDone(generation=start.generation, attempt=start.attempt), 1.4)
    spoken = " ".join(a.text for a in out if isinstance(a, Synthesize))
    assert spoken, "the answer was spoken"
    assert not re.search(r"4111\s*1111|1111\s*1111", spoken), spoken
    assert "123" not in spoken, spoken
    assert any(d.gate == "guard" and d.outcome != "allow" for d in call.decisions)
