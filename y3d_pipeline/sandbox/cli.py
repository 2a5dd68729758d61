"""`y3d sandbox`: serve every sandboxed API on one port until Ctrl-C."""

from __future__ import annotations

import argparse
import shlex
import signal
import threading
from datetime import UTC, date, datetime

from y3d_pipeline.sandbox.faults import parse_cli_fault
from y3d_pipeline.sandbox.options import SandboxOptions


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sandbox", help="serve local stand-ins for ShipStation, Shopify, Amazon SP-API, Amazon Custom and OpenAI",
        description="Serve deterministic stand-ins for ShipStation v1, Shopify Admin GraphQL, Amazon LWA + "
                    "SP-API Orders v0, Amazon Custom zips and OpenAI chat completions on one port.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (keep it on loopback)")
    parser.add_argument("--port", type=int, default=8787, help="TCP port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=7, help="same seed and options give the same data")
    parser.add_argument("--days", type=int, default=60, help="days of generated orders")
    parser.add_argument("--orders-per-day", type=int, default=150, help="average orders per day")
    parser.add_argument("--end-date", type=date.fromisoformat, default=None,
                        help="last day of generated orders, YYYY-MM-DD; None means today in UTC, with the "
                             "simulated clock running from the real now")
    parser.add_argument("--rate-limit-scale", type=float, default=1.0,
                        help="multiply every rate limit (e.g. 10 for fast demos)")
    parser.add_argument("--openai-latency-ms", type=int, default=0, help="added to every OpenAI answer")
    parser.add_argument("--fault", action="append", default=[], metavar="API:KIND[:COUNT]",
                        help="inject a fault, e.g. shipstation:429:3, amazon:duplicate_page:inf, openai:malformed:0.1 "
                             "(a decimal COUNT is a rate); repeatable")
    parser.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> SandboxOptions:
    return SandboxOptions(
        seed=args.seed, days=args.days, orders_per_day=args.orders_per_day,
        end_date=args.end_date or datetime.now(UTC).date(), rate_limit_scale=args.rate_limit_scale,
        openai_latency_ms=args.openai_latency_ms, faults=[parse_cli_fault(f) for f in args.fault])


def run(args: argparse.Namespace) -> int:
    from y3d_pipeline.sandbox.server import SandboxServer

    try:
        options = options_from_args(args)
    except ValueError as exc:
        print(f"y3d sandbox: {exc}")
        return 2
    try:
        server = SandboxServer(options, host=args.host, port=args.port, log_level="info")
    except OSError as exc:
        print(f"y3d sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return 1
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server as sandbox:
        clock = sandbox.state.clock
        print(f"Sandbox serving on {sandbox.base_url} (seed {options.seed}, {options.days} days to "
              f"{options.end_date}, ~{options.orders_per_day} orders/day, simulated now "
              f"{clock.now().isoformat()}, clock {'running' if clock.running else 'standing still'})")
        print("Environment for the pipeline:")
        for key, value in sandbox.env().items():
            print(f"  export {key}={shlex.quote(value)}")
        print("Control endpoints: GET/POST/DELETE /_sandbox/faults, GET/POST /_sandbox/clock and /_sandbox/config, "
              "POST /_sandbox/reset, GET /_sandbox/stats and /_sandbox/truth.")
        print("Ctrl-C to stop.", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("\nstopping sandbox", flush=True)
    signal.signal(signal.SIGTERM, previous)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="y3d")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
