"""``/healthz`` (the process is alive) and ``/readyz`` (send it calls).

Readiness is the conjunction of four checks, each reported by name so an
operator sees which one failed: the store answers a trivial query within a
second, the speech stack is warm (the providers were built, which loads VAD and
STT before the app exists), the process is not draining, and it is under its
call cap. Cross-process features (Redis) are reported but never make a process
unready: without them a single process still takes calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .drain import Admission

STORE_TIMEOUT_S = 1.0


async def store_reachable(store: Any) -> tuple[bool, str]:
    if store is None:
        return True, "no store configured"
    ping = getattr(store, "ping", None)
    if ping is None:
        return True, "store has no ping"
    try:
        await asyncio.wait_for(asyncio.to_thread(ping), STORE_TIMEOUT_S)
        return True, "ok"
    except TimeoutError:
        return False, f"no answer within {STORE_TIMEOUT_S:.0f} s"
    except Exception as e:
        return False, f"{type(e).__name__}: {e}"[:200]


async def readiness(providers: Any, admission: Admission, cross_process: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    store_ok, store_detail = await store_reachable(providers.store)
    warm = providers.vad is not None and providers.stt is not None
    checks = {
        "store": {"ok": store_ok, "detail": store_detail},
        "speech_warm": {"ok": warm},
        "not_draining": {"ok": not admission.draining},
        "under_cap": {"ok": admission.load < admission.max_calls, "load": admission.load,
                      "max_calls": admission.max_calls},
    }
    ok = all(c["ok"] for c in checks.values())
    return ok, {"ready": ok, "checks": checks, "cross_process": cross_process}
