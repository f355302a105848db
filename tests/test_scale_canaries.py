"""Canaries: a caller reads out a card number, its CVV and an SSN (zero-retention
fields), then asks for a person; afterwards the whole store (SQLite and PostgreSQL),
the gateway's log, the outbox file, /metrics and every request body the CRM webhook
received are scanned: none of those values may be anywhere."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from scale_helpers import RawCall, fetch_ended, speech_frames
from test_scale_drills import gateway, start_all

pytestmark = pytest.mark.slow

CARD, CVV, SSN = "4539148803436467", "917", "536228145"
SAID = [f"my card number is {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]}",
        f"the security code is {CVV}",
        f"my social security number is {SSN[:3]} {SSN[3:5]} {SSN[5:]}"]
PATTERNS = [
    re.compile(r"4539\D{0,3}1488\D{0,3}0343\D{0,3}6467"), re.compile(r"0343\D{0,3}6467"),
    re.compile(r"536\D{0,3}22\D{0,3}8145"), re.compile(r"\b917\b"),
]


def leaks(text: str) -> list[str]:
    return [m.group(0) for p in PATTERNS for m in p.finditer(text)]


def dump_sqlite(path) -> str:
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(repr(row) for t in tables for row in con.execute(f'SELECT * FROM "{t}"'))
    finally:
        con.close()


def dump_postgres(url: str) -> str:
    import psycopg
    schema = url.split("search_path%3D")[1]
    with psycopg.connect(f"host=127.0.0.1 dbname=test user=postgres options=-csearch_path={schema}") as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))]
        return "\n".join(repr(row) for t in tables for row in con.execute(f'SELECT * FROM "{t}"'))


class Capture(BaseHTTPRequestHandler):
    bodies: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_spoken_card_cvv_and_ssn_are_kept_nowhere(backend, tmp_path, request):
    store = (request.getfixturevalue("postgres_url") if backend == "postgres"
             else f"sqlite:///{tmp_path / 'canary.db'}")
    crm = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    Capture.bodies = []
    threading.Thread(target=crm.serve_forever, daemon=True).start()
    gw = gateway(tmp_path, "gw", store, TURNGATE_CRM_WEBHOOK_URL=f"http://127.0.0.1:{crm.server_port}/crm")
    (tmp_path / "script.txt").write_text("\n".join(SAID) + "\nI want to talk to a person\n")
    start_all([gw])
    try:
        async def run() -> str:
            call = RawCall(gw.url)
            await call.connect()
            await call.silence(1000)
            for text in ["My card number is coming", "The code is coming", "My social is coming",
                         "I want to talk to a person"]:
                await call.send_media(speech_frames(text))
                await call.silence(2500)
            await call.stop()
            await fetch_ended(gw.url, call.call_sid, timeout_s=30)
            return call.call_sid

        sid = asyncio.run(run())
        metrics = httpx.get(gw.url + "/metrics").text
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(sid in b for b in Capture.bodies):
            time.sleep(0.2)
    finally:
        gw.__exit__()
        crm.shutdown()
    assert any(sid in b and "crm_note" in b for b in Capture.bodies), "the CRM note never came"
    stored = dump_sqlite(tmp_path / "canary.db") if backend == "sqlite" else dump_postgres(store)
    # The call, its decisions and the guard's redactions are really there: the values were heard.
    assert sid in stored and "redact" in stored
    log = "\n".join(re.sub(r"^\S+ \S+ ", "", line) for line in (tmp_path / "gw.log").read_text().splitlines())
    outbox = (tmp_path / "outbox.jsonl").read_text() if (tmp_path / "outbox.jsonl").exists() else ""
    found = {name: leaks(text) for name, text in
             {"store": stored, "log": log, "outbox": outbox, "metrics": metrics,
              "crm": "\n".join(Capture.bodies)}.items()}
    assert not any(found.values()), found
