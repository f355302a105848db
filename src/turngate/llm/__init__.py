"""Real language models behind the gateway.

- ``profiles``: the policy's ``models:`` section (pure: parsed and validated with the policy).
- ``breaker``: a pure circuit breaker per provider; time is an argument.
- ``errors``: the model error tree, each error naming its ``ModelFailed`` kind.
- ``openai_chat``: the ``openai`` provider (Chat Completions, ``stream: true``, over httpx).
- ``runner``: the shell's driver for one ``(generation, attempt)``: breaker, measurements,
  exceptions to ``ModelFailed`` kinds.

This package's ``__init__`` imports nothing, so the pure policy loader can import
``turngate.llm.profiles`` without pulling in httpx.
"""
