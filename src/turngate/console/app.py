"""The operations console: server-rendered pages over the store, mounted at ``/console``.

    GET  /console/calls               filterable, paginated list, newest first
    GET  /console/calls/{call_id}     timeline, five questions, scorecard, CRM note, follow-ups
    GET  /console/calls/{id}/audio    the caller's kept audio (policy retention.audio; PII muted)
    GET  /console/metrics             response time and rates per route and over time
    GET  /console/login, POST         sets the ``turngate_token`` cookie
    GET  /console/static/...          the page script, styles and uPlot (vendored, MIT)

Access is not decided here: the gateway's one access rule (a middleware keyed on
path) admits or refuses a request before it reaches these routes. The login
form only stores the token where that rule looks for it.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..store.why import QUESTIONS, explain
from .metrics import review_metrics, window
from .scorecard import scorecard
from .svg import timeline_svg
from .timeline import build_timeline

__all__ = ["console_app", "COOKIE"]

HERE = Path(__file__).parent
COOKIE = "turngate_token"
PAGE = 25
FILTERS = ("route", "outcome", "handoff", "fallback", "guard", "since", "until")
METRICS_MAX_CALLS = 2000

_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
_env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=1, default=str)
_env.filters["pct"] = lambda v: "-" if v is None else f"{v * 100:.0f}%"


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def console_app(store: Any, *, config: Any, flush: Any = None) -> Starlette:
    """``store``: the SQL store; ``flush(timeout)``: wait for pending decision writes."""

    def page(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        return HTMLResponse(_env.get_template(name).render(**ctx), status_code=status)

    async def fresh() -> None:
        if flush is not None:
            await run_in_threadpool(flush, 2.0)

    async def index(request: Request) -> Response:
        return RedirectResponse(request.url_for("calls"), status_code=303)

    async def calls(request: Request) -> Response:
        q = {k: request.query_params.get(k, "") for k in FILTERS}
        pg = max(1, int(request.query_params.get("page", "1") or 1)) if request.query_params.get(
            "page", "1").isdigit() else 1
        until = _date(q["until"])
        if until is not None and len(q["until"]) <= 10:  # a date: the whole of that day
            until = until.replace(hour=23, minute=59, second=59)
        await fresh()
        rows = await run_in_threadpool(
            lambda: store.find_calls(limit=PAGE + 1, offset=(pg - 1) * PAGE, outcome=q["outcome"] or None,
                                     route=q["route"] or None, handoff=q["handoff"] or None,
                                     fallback=q["fallback"] or None, guard=q["guard"] or None,
                                     since=_date(q["since"]), until=until))
        facets = await run_in_threadpool(store.facets)
        records = await run_in_threadpool(lambda: [store.get_call(r.call_id) for r in rows[:PAGE]])
        items = [{"call": r, "card": scorecard(rec) if rec else None} for r, rec in zip(rows[:PAGE], records)]
        keep = {k: v for k, v in q.items() if v}
        link = lambda p: "?" + urlencode({**keep, "page": p})  # noqa: E731
        return page("calls.html", items=items, q=q, facets=facets, page=pg,
                    prev=link(pg - 1) if pg > 1 else None, next=link(pg + 1) if len(rows) > PAGE else None)

    async def call(request: Request) -> Response:
        call_id = request.path_params["call_id"]
        await fresh()
        rec = await run_in_threadpool(store.get_call, call_id)
        if rec is None:
            return page("missing.html", status=404, call_id=call_id)
        tl = build_timeline(rec)
        notes = [o for o in rec.outbox if o.kind == "crm_note"]
        follow_ups = [o for o in rec.outbox if o.kind == "follow_up"]
        return page("call.html", rec=rec, why=explain(rec), questions=QUESTIONS, card=scorecard(rec),
                    svg=timeline_svg(tl), tl=tl, notes=notes, follow_ups=follow_ups)

    async def audio(request: Request) -> Response:
        rec = await run_in_threadpool(store.get_call, request.path_params["call_id"])
        kept = (rec.summary.get("audio") or {}) if rec else {}
        path = Path(str(kept.get("file", "")))
        if not kept or not path.is_file() or path.suffix != ".wav":
            return Response("no kept audio for this call", status_code=404, media_type="text/plain")
        return FileResponse(path, media_type="audio/wav")

    async def metrics(request: Request) -> Response:
        since_s = request.query_params.get("since", "7d")
        try:
            since = window(since_s, datetime.now(UTC))
        except ValueError:
            since_s, since = "7d", window("7d", datetime.now(UTC))
        await fresh()

        def load() -> list[tuple[datetime | None, dict[str, Any]]]:
            out = []
            for s in store.find_calls(limit=METRICS_MAX_CALLS, since=since):
                rec = store.get_call(s.call_id)
                if rec is not None and s.ended_at is not None:
                    out.append((s.started_at, scorecard(rec)))
            return out

        m = review_metrics(await run_in_threadpool(load))
        return page("metrics.html", m=m, data=json.dumps(m, default=str).replace("</", "<\\/"), since=since_s)

    async def login(request: Request) -> Response:
        nxt = request.query_params.get("next", "")
        if not nxt.startswith("/console"):
            nxt = "/console/calls"
        if request.method == "GET":
            return page("login.html", error="", next=nxt)
        # A urlencoded form, parsed here (Starlette's form parser needs python-multipart).
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        token = form.get("token", "")
        accepted = [t for t in (config.console_token, getattr(config, "admin_token", "")) if t]
        if accepted and not any(secrets.compare_digest(token.encode(), t.encode()) for t in accepted):
            return page("login.html", status=403, error="That token is not accepted.", next=nxt)
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
        return resp

    async def logout(request: Request) -> Response:
        resp = RedirectResponse(request.url_for("login"), status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    return Starlette(routes=[
        Route("/", index),
        Route("/calls", calls, name="calls"),
        Route("/calls/{call_id}", call, name="call"),
        Route("/calls/{call_id}/audio", audio, name="audio"),
        Route("/metrics", metrics, name="metrics"),
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ])
