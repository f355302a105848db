"""The ``turngate`` command line. Each subcommand maps flags one to one onto a
config object or a function argument; the work lives in the named modules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="turngate", description="Turn-taking gateway for voice AI on phone calls")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the gateway (Twilio webhook + media stream)")
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--policy", default=None, help="policy YAML (default: the bundled contact-centre policy)")
    s.add_argument("--store", default=None, help="store URL: sqlite:///path or postgresql://...")

    d = sub.add_parser("demo", help="start a local gateway and run the bundled scenarios through the simulator")
    d.add_argument("scenarios", nargs="*", help="scenario files (default: scenarios/*.yaml)")
    d.add_argument("--json", action="store_true")
    d.add_argument("--store", default=None)

    m = sub.add_parser("simulate", help="run scenario files against a running gateway, as Twilio would")
    m.add_argument("scenarios", nargs="+")
    m.add_argument("--url", required=True, help="the gateway's base URL, e.g. http://127.0.0.1:8080")
    m.add_argument("--json", action="store_true")
    m.add_argument("--speed", type=float, default=1.0, help="audio pacing: 1.0 is real time")
    m.add_argument("--concurrent", action="store_true", help="run the scenarios as simultaneous calls")
    m.add_argument("--auth-token", default=None, help="sign the webhook and stream like Twilio (default: TWILIO_AUTH_TOKEN)")
    m.add_argument("--admin-token", default=None,
                   help="read the call records from /api with this bearer token (default: TURNGATE_ADMIN_TOKEN)")
    m.add_argument("--record", default=None, metavar="DIR", help="write WAVs of what each side heard")

    pol = sub.add_parser("policy", help="check or evaluate a policy file")
    psub = pol.add_subparsers(dest="policy_command", required=True)
    pc = psub.add_parser("check", help="validate a policy file")
    pc.add_argument("file")
    pe = psub.add_parser("eval", help="read JSON lines on stdin, write one decision line per input")
    pe.add_argument("--policy", default=None)

    c = sub.add_parser("calls", help="review calls in the store")
    csub = c.add_subparsers(dest="calls_command", required=True)
    cl = csub.add_parser("list")
    cl.add_argument("--json", action="store_true")
    cl.add_argument("--limit", type=int, default=50)
    cl.add_argument("--store", default=None)
    cs = csub.add_parser("show")
    cs.add_argument("call_id")
    cs.add_argument("--json", action="store_true")
    cs.add_argument("--store", default=None)
    cw = csub.add_parser("why", help="answer the five questions for one call from its decision records")
    cw.add_argument("call_id")
    cw.add_argument("--json", action="store_true")
    cw.add_argument("--store", default=None)

    b = sub.add_parser("bench", help="measured comparisons")
    bsub = b.add_subparsers(dest="bench_command", required=True)
    bm = bsub.add_parser("models", help="run scenarios against each model profile of the policy, side by side")
    bm.add_argument("scenarios", nargs="*", help="scenario files (default: scenarios/*.yaml)")
    bm.add_argument("--policy", default=None, help="policy YAML with a models: section (default: TURNGATE_POLICY)")
    bm.add_argument("--profile", action="append", default=[], help="compare only these profiles")
    bm.add_argument("--json", action="store_true")
    r = sub.add_parser("replay", help="re-run recorded calls under another policy; list the decisions that change")
    r.add_argument("call_id", nargs="?", help="one call (or --since for many)")
    r.add_argument("--policy", required=True, help="the policy to replay under")
    r.add_argument("--since", default=None, help="every replayable call started within this span: 7d, 24h, 30m")
    r.add_argument("--json", action="store_true")
    r.add_argument("--store", default=None)

    st = sub.add_parser("states", help="print the turn state machine's transition table")
    st.add_argument("--dot", action="store_true")

    lt = sub.add_parser("loadtest", help="N concurrent simulated calls against running gateway(s); JSON last line")
    lt.add_argument("--calls", type=int, required=True, help="calls kept going at once")
    lt.add_argument("--duration", type=float, required=True, help="seconds during which calls start")
    lt.add_argument("--url", action="append", required=True, help="a gateway's base URL (repeat for several)")
    lt.add_argument("--scenario", dest="scenarios", action="append", default=[],
                    help="scenario files to mix (default: scenarios/*.yaml)")
    lt.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio",
                    help="the simulator's event loop (uvloop: cheaper callers on the gateway's machine)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    match args.command:
        case "serve":
            from .server.run import serve_main
            return serve_main(args)
        case "demo":
            from .demo import demo_main
            return demo_main(args)
        case "simulate":
            from .sim.cli import simulate_main
            return simulate_main(args)
        case "policy":
            from .policy_cli import check_main, eval_main
            return check_main(args) if args.policy_command == "check" else eval_main(args)
        case "calls":
            from .store.cli import calls_main
            return calls_main(args)
        case "bench":
            from .sim.bench_models import bench_models_main
            return bench_models_main(args)
        case "replay":
            from .replay.cli import replay_main
            return replay_main(args)
        case "loadtest":
            from .loadtest import loadtest_main
            return loadtest_main(args)
        case "states":
            from .core.states import to_dot, to_text
            print(to_dot() if args.dot else to_text())
            return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
