"""What-if replay: a call's recorded, redacted core input events re-run through the
sans-I/O core under another policy, and the decisions that would change.

- ``redact``: caller numbers become surrogates of the same shape before anything is kept;
- ``record``: the shell's event recorder and the events' JSON form;
- ``run``: the replay driver and the comparison;
- ``cli``: ``turngate replay``.
"""
