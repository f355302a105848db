"""The gates: pure functions of call state and evidence that return typed
decisions (outcome, reason code, policy rule id, redacted evidence).

    route    what the caller wants (partials and finals, hysteresis, drift)
    guard    what may be said, stored or sent (PII, injection, authority)
    handoff  when automation stops, and the CRM note that says why

Modules are imported by name (``turngate.gates.route``); this package imports
nothing itself, so loading one gate never trains or loads another.
"""
