"""What several gateway processes must see of each other, through Redis (optional).

With ``Config.redis_url`` set:

- **live-call registry**: hash ``turngate:calls`` maps a call sid to the process
  holding it (``host:pid``); each process refreshes a heartbeat key
  ``turngate:proc:<id>`` (TTL ``HEARTBEAT_TTL_S``), so an entry whose holder died
  is shown as ``alive: false`` instead of being believed;
- **transfer commands**: ``POST /api/calls/{sid}/transfer`` on any process is
  published on the holder's channel ``turngate:cmd:<id>``; the holder queues the
  transfer in its outbox (an operator's command, not a gateway decision, so no
  decision record; the outbox row says ``by: operator``);
- **lost calls**: a call whose holder stopped heart-beating (``kill -9``, a lost
  machine) is ended in the store by whichever live process removes its entry
  first (``HDEL`` answers 1 to one of them), with outcome ``gateway_lost``; its
  decisions are whatever the holder's writer had written;
- **per-tenant concurrency limits** (``Config.tenant_max_calls``, tenant = the
  webhook's ``AccountSid``): a sorted set per tenant of call sids scored by an
  expiry that live calls push forward on every heartbeat, so a crashed process's
  calls stop counting within ``CALL_TTL_S``. Admission is one Lua script (atomic).

Without Redis every one of these says it is off (a log line at start-up, the
``cross_process`` field of ``/readyz``), and a single process works as before.
When Redis goes away at run time calls go on: registry writes are dropped with
one log line per outage, tenant limits fail open, and ``/readyz`` says ``down``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("turngate.registry")

CALLS_KEY = "turngate:calls"
HEARTBEAT_S = 2.0
HEARTBEAT_TTL_S = 6
CALL_TTL_S = 15.0
OFF = {"redis": "off", "live_registry": "off", "remote_transfer": "off", "tenant_limits": "off"}

# KEYS[1] tenant zset; ARGV: now, expiry, limit, call sid. 1 admitted, 0 refused.
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if tonumber(ARGV[3]) > 0 and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], 3600)
return 1
"""

TransferHandler = Callable[[str, str, str], Awaitable[bool]]
LostHandler = Callable[[str], None]


class NullRegistry:
    """Redis off: nothing is shared, every feature says so."""

    enabled = False
    process_id = f"{socket.gethostname()}:{os.getpid()}"

    def status(self) -> dict[str, Any]:
        return dict(OFF)

    async def start(self, on_transfer: TransferHandler, on_lost: LostHandler | None = None) -> None:
        log.info("cross-process features off (no TURNGATE_REDIS_URL): live-call registry, remote transfer, "
                 "tenant limits; this process works on its own")

    async def stop(self) -> None:
        pass

    async def admit_tenant(self, tenant: str, call_sid: str) -> bool:
        return True

    def call_started(self, call_sid: str, tenant: str) -> None:
        pass

    def call_ended(self, call_sid: str, tenant: str) -> None:
        pass

    async def live_calls(self) -> dict[str, Any] | None:
        return None

    async def send_transfer(self, call_sid: str, queue: str, reason: str) -> str:
        return "off"


class RedisRegistry(NullRegistry):
    enabled = True

    def __init__(self, url: str, *, tenant_max_calls: int = 0) -> None:
        import redis.asyncio as aredis

        self.url = url
        self.tenant_max_calls = tenant_max_calls
        self.redis = aredis.from_url(url, socket_connect_timeout=1, socket_timeout=1, decode_responses=True)
        # The command channel blocks on reads by design: its own client, no read timeout.
        self._sub = aredis.from_url(url, socket_connect_timeout=1, health_check_interval=5, decode_responses=True)
        self.up = False
        self._mine: dict[str, str] = {}  # call sid -> tenant, on this process
        self._tasks: list[asyncio.Task[None]] = []
        self._on_transfer: TransferHandler | None = None
        self._on_lost: LostHandler | None = None

    def status(self) -> dict[str, Any]:
        state = "on" if self.up else "down"
        return {"redis": state, "live_registry": state, "remote_transfer": state,
                "tenant_limits": (state if self.tenant_max_calls else "off"), "process": self.process_id}

    def _failed(self, what: str, e: BaseException) -> None:
        if self.up:
            log.warning("redis unreachable (%s: %s): cross-process features degraded; calls go on", what, e)
        self.up = False

    def _ok(self) -> None:
        if not self.up:
            log.info("redis reachable at %s: cross-process features on", self.url.split("@")[-1])
        self.up = True

    async def start(self, on_transfer: TransferHandler, on_lost: LostHandler | None = None) -> None:
        self._on_transfer, self._on_lost = on_transfer, on_lost
        self._tasks = [asyncio.create_task(self._heartbeat(), name="registry-heartbeat"),
                       asyncio.create_task(self._commands(), name="registry-commands")]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            if self._mine:
                await self.redis.hdel(CALLS_KEY, *self._mine)
            await self.redis.delete(f"turngate:proc:{self.process_id}")
        except Exception:
            pass
        await self.redis.aclose()
        await self._sub.aclose()

    async def _heartbeat(self) -> None:
        while True:
            try:
                now = time.time()
                async with self.redis.pipeline(transaction=False) as p:
                    p.set(f"turngate:proc:{self.process_id}", "1", ex=HEARTBEAT_TTL_S)
                    for sid, tenant in self._mine.items():
                        p.hset(CALLS_KEY, sid, json.dumps({"process": self.process_id, "tenant": tenant}))
                        if tenant:
                            p.zadd(f"turngate:tenant:{tenant}", {sid: now + CALL_TTL_S})
                    await p.execute()
                self._ok()
                await self._sweep()
            except Exception as e:
                self._failed("heartbeat", e)
            await asyncio.sleep(HEARTBEAT_S)

    async def _sweep(self) -> None:
        """End the calls of processes that stopped heart-beating (see the module docstring)."""
        if self._on_lost is None:
            return
        entries = await self.redis.hgetall(CALLS_KEY)
        holders = {json.loads(v)["process"] for v in entries.values()} - {self.process_id}
        dead = {p for p in holders if not await self.redis.exists(f"turngate:proc:{p}")}
        for sid, v in entries.items():
            entry = json.loads(v)
            if entry["process"] in dead and await self.redis.hdel(CALLS_KEY, sid) == 1:
                log.warning("call %s: its gateway %s stopped; ending it as gateway_lost", sid, entry["process"])
                self._on_lost(sid)
                if entry.get("tenant"):
                    await self.redis.zrem(f"turngate:tenant:{entry['tenant']}", sid)

    async def _commands(self) -> None:
        while True:
            try:
                pubsub = self._sub.pubsub()
                await pubsub.subscribe(f"turngate:cmd:{self.process_id}")
                async for msg in pubsub.listen():
                    if msg.get("type") != "message":
                        continue
                    cmd = json.loads(msg["data"])
                    if cmd.get("cmd") == "transfer" and self._on_transfer is not None:
                        await self._on_transfer(cmd["call_sid"], cmd.get("queue", "general"),
                                                cmd.get("reason", "operator"))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._failed("command channel", e)
                await asyncio.sleep(HEARTBEAT_S)

    async def admit_tenant(self, tenant: str, call_sid: str) -> bool:
        if not self.tenant_max_calls or not tenant:
            return True
        now = time.time()
        try:
            ok = await self.redis.eval(_ADMIT, 1, f"turngate:tenant:{tenant}", now, now + CALL_TTL_S,
                                       self.tenant_max_calls, call_sid)
            self._ok()
            return bool(ok)
        except Exception as e:
            self._failed("tenant admission", e)
            return True  # fail open: a Redis outage must not refuse every call

    def call_started(self, call_sid: str, tenant: str) -> None:
        self._mine[call_sid] = tenant
        self._spawn(self.redis.hset(CALLS_KEY, call_sid, json.dumps({"process": self.process_id, "tenant": tenant})))

    def call_ended(self, call_sid: str, tenant: str) -> None:
        self._mine.pop(call_sid, None)
        self._spawn(self.redis.hdel(CALLS_KEY, call_sid))
        if tenant:
            self._spawn(self.redis.zrem(f"turngate:tenant:{tenant}", call_sid))

    def _spawn(self, op: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await op
            except Exception as e:
                self._failed("registry write", e)
        asyncio.get_running_loop().create_task(run())

    async def live_calls(self) -> dict[str, Any] | None:
        try:
            entries = await self.redis.hgetall(CALLS_KEY)
            procs = {json.loads(v)["process"] for v in entries.values()}
            alive = {p for p in procs if await self.redis.exists(f"turngate:proc:{p}")}
            self._ok()
        except Exception as e:
            self._failed("live calls", e)
            return None
        return {sid: {**json.loads(v), "alive": json.loads(v)["process"] in alive} for sid, v in entries.items()}

    async def send_transfer(self, call_sid: str, queue: str, reason: str) -> str:
        """'sent', 'unknown' (no live holder), or 'down'."""
        try:
            raw = await self.redis.hget(CALLS_KEY, call_sid)
            if raw is None:
                return "unknown"
            holder = json.loads(raw)["process"]
            n = await self.redis.publish(f"turngate:cmd:{holder}", json.dumps(
                {"cmd": "transfer", "call_sid": call_sid, "queue": queue, "reason": reason}))
            self._ok()
            return "sent" if n else "unknown"
        except Exception as e:
            self._failed("transfer", e)
            return "down"


def make_registry(redis_url: str, tenant_max_calls: int = 0) -> NullRegistry:
    return RedisRegistry(redis_url, tenant_max_calls=tenant_max_calls) if redis_url else NullRegistry()


def operator_transfer(providers: Any, session: Any, queue: str, reason: str) -> None:
    """Queue a transfer of a call this process holds, through the outbox."""
    from ..store.base import OutboxItem

    sid = session.call_id
    log.info("call %s: operator transfer to %s (%s)", sid, queue, reason)
    providers.writer.submit([], [OutboxItem(
        kind="transfer", key=f"{sid}:transfer:operator", call_id=sid,
        payload={"call_id": sid, "account_sid": session.account_sid, "queue": queue, "reason": reason,
                 "by": "operator"})])


def routes(registry: NullRegistry, live: dict[str, Any], providers: Any) -> list[Any]:
    """``GET /api/live`` (calls on every process, or this one's without Redis) and
    ``POST /api/calls/{call_id}/transfer`` (``{"queue": ..., "reason": ...}``)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def live_calls(request: Request) -> Response:
        shared = await registry.live_calls()
        mine = {sid: {"process": registry.process_id, "alive": True} for sid in live}
        return JSONResponse({"cross_process": registry.status(), "calls": mine if shared is None else shared})

    async def transfer(request: Request) -> Response:
        sid = request.path_params["call_id"]
        body = await request.json() if await request.body() else {}
        queue, reason = str(body.get("queue", "general")), str(body.get("reason", "operator"))
        if sid in live:
            operator_transfer(providers, live[sid], queue, reason)
            return JSONResponse({"call_id": sid, "transfer": "queued", "process": registry.process_id})
        result = await registry.send_transfer(sid, queue, reason)
        if result == "sent":
            return JSONResponse({"call_id": sid, "transfer": "sent to holder"}, status_code=202)
        if result == "unknown":
            return JSONResponse({"error": f"no live call {sid}"}, status_code=404)
        return JSONResponse({"error": f"call {sid} is not on this process and cross-process transfer is "
                                      f"{result}"}, status_code=503)

    return [Route("/api/live", live_calls), Route("/api/calls/{call_id}/transfer", transfer, methods=["POST"])]
