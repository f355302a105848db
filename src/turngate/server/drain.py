"""Admission, readiness and graceful drain: what one gateway process says yes to.

Theory of operation. A call enters a process twice: the webhook (``POST
/twilio/voice``) and, a moment later, its media stream. :class:`Admission`
decides at the webhook, where a refusal can still be polite TwiML (a spoken
"all lines are busy", or ``<Dial>`` to ``Config.overflow_number``). A webhook
that is admitted *reserves* a slot until its stream starts (or, at most 30 s: a
Twilio stream follows its webhook within seconds), so the cap counts calls that are about to arrive, not
only calls already streaming.

Draining (SIGTERM; see ``server/run.py``):

1. ``draining`` turns on: ``/readyz`` answers 503 at once, so a load balancer or
   Kubernetes stops sending calls; new webhooks get the refusal TwiML; a new
   stream is closed with 1013 ("draining") unless a webhook admitted before the
   drain still holds a reservation for it.
2. Calls in flight run to their end, up to ``Config.drain_grace_s``.
3. The decision writer is flushed and one last outbox pass runs. What a pass
   cannot deliver stays in the store, where any gateway sharing it delivers it.
4. The server stops; calls still live past the grace are closed (1012) and their
   end is written by the writer's ``close`` in the lifespan shutdown.

A second SIGTERM (or SIGINT) skips the wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from xml.sax.saxutils import escape

from ..twilio.twiml import say_and_hangup

log = logging.getLogger("turngate.drain")

BUSY_TEXT = "Sorry, all our lines are busy. Please call back later."
DRAINING_CLOSE_CODE = 1013  # "try again later"


def overflow_twiml(number: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Dial>{escape(number)}</Dial></Response>'


class Admission:
    """The per-process call cap and the draining flag.

    ``live`` is the app's map of calls streaming on this process (read, never
    written here). ``clock`` is injectable for tests."""

    def __init__(self, *, max_calls: int, overflow_number: str = "", reservation_s: float = 30.0,
                 live: Mapping[str, Any] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_calls = max_calls
        self.overflow_number = overflow_number
        self.reservation_s = reservation_s
        self.live: Mapping[str, Any] = live if live is not None else {}
        self.clock = clock
        self.draining = False
        self.refused: dict[str, int] = {}
        self._reserved: dict[str, float] = {}  # call sid -> reservation expiry

    def _expire(self) -> None:
        now = self.clock()
        for sid in [s for s, t in self._reserved.items() if t <= now]:
            del self._reserved[sid]

    @property
    def reserved(self) -> int:
        self._expire()
        return len(self._reserved)

    @property
    def load(self) -> int:
        """Calls streaming plus calls admitted whose stream has not started."""
        return len(self.live) + self.reserved

    def refusal(self) -> str | None:
        """Why a new call would be refused now, or None."""
        if self.draining:
            return "draining"
        if self.load >= self.max_calls:
            return "at_capacity"
        return None

    def admit_webhook(self, call_sid: str) -> str | None:
        """Reserve a slot for ``call_sid``; the refusal reason when there is none."""
        reason = self.refusal()
        if reason is not None:
            self.refused[reason] = self.refused.get(reason, 0) + 1
            return reason
        self._reserved[call_sid] = self.clock() + self.reservation_s
        return None

    def admit_stream(self) -> bool:
        """A stream may open unless draining with no reservation left for it."""
        return not self.draining or self.reserved > 0

    def release(self, call_sid: str) -> None:
        """The call's stream started (it now counts in ``live``), or the call was refused later."""
        self._reserved.pop(call_sid, None)

    stream_started = release

    def refusal_twiml(self) -> str:
        return overflow_twiml(self.overflow_number) if self.overflow_number else say_and_hangup(BUSY_TEXT)


async def drain(admission: Admission, *, grace_s: float, flush: Callable[[], Any],
                poll_s: float = 0.1) -> bool:
    """Steps 1 to 3 above; True when every call ended within the grace period.

    ``flush`` is blocking (the writer flush and the last outbox pass) and runs in a thread."""
    admission.draining = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    log.info("draining: refusing new calls; %d in flight, grace %.0f s", admission.load, grace_s)
    while admission.load and loop.time() < deadline:
        await asyncio.sleep(poll_s)
    clean = admission.load == 0
    if not clean:
        log.warning("drain grace over with %d calls still live; they will be closed", len(admission.live))
    else:
        log.info("drain: every call has ended")
    try:
        await asyncio.to_thread(flush)
    except Exception:
        log.exception("drain: flush failed; unwritten records stay with the writer until it closes")
    return clean
