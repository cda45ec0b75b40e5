"""`duetime dev`: the dev server's own front, also run as `python -m functions.local.cli dev`
(the operator commands are duetime.cli's)."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from functions.adapters.sqlite.db import DatabaseOpenError
from functions.domain.signing import SigningKeys
from functions.local.allocator import limit_malloc_arenas

if TYPE_CHECKING:
    from functions.local.devserver import DevServer
    from functions.local.embedded import EmbeddedServer
from functions.local.defaults import DEV_PORT, DEV_SIGNING_KEYS, DEV_TOKEN


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="duetime")
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser(
        "dev", help="run duetime offline on 127.0.0.1 (the embedded engine: SQLite + timers)"
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=DEV_PORT)
    dev.add_argument("--token", default=DEV_TOKEN, help="API token (default: QStash dev token)")
    dev.add_argument("--current-signing-key", default=DEV_SIGNING_KEYS.current)
    dev.add_argument("--next-signing-key", default=DEV_SIGNING_KEYS.next)
    dev.add_argument(
        "--eventbridge-jitter",
        action="store_true",
        help="with --aws-emulation: fire EventBridge schedules 0-59 s late, as EventBridge may",
    )
    dev.add_argument(
        "--db",
        default=None,
        metavar="PATH",
        help="keep state in this SQLite file (default: memory)",
    )
    dev.add_argument(
        "--aws-emulation",
        action="store_true",
        help="run the AWS adapters on moto instead of the embedded engine (slower)",
    )
    dev.add_argument("--workers", type=int, default=None, help="concurrent deliveries")
    dev.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="N",
        help=(
            "serve the API and deliver from N more processes (--workers delivery threads "
            f"each); default {default_processes()} here: 0 on one CPU or a manual clock"
        ),
    )
    dev.add_argument(
        "--clock",
        choices=["real", "manual"],
        default="real",
        help="manual: the clock moves only through POST /v2/dev/clock (time travel)",
    )
    dev.add_argument(
        "--allowed-hosts",
        default="",
        metavar="HOST[,HOST...]",
        help="deliver only to these hosts (e.g. 127.0.0.1,localhost); publish refuses others",
    )
    dev.add_argument(
        "--quiet", action="store_true", help="print warnings only, not a line per request"
    )
    # Shrink the SQS horizon to push near-term messages through the EventBridge path (benchmarks).
    dev.add_argument("--sqs-horizon-seconds", type=int, default=900, help=argparse.SUPPRESS)
    dev.add_argument("--eventbridge-lead-seconds", type=int, default=120, help=argparse.SUPPRESS)
    return parser


def _dev(args: argparse.Namespace) -> int:
    from functions.local import console  # noqa: PLC0415 - imports the logger: after --help
    from functions.observability import logger  # noqa: PLC0415

    limit_malloc_arenas()  # before any of the server's threads exist
    console.install()
    if args.quiet:
        logger.setLevel("WARNING")
    elif "POWERTOOLS_LOG_LEVEL" not in os.environ:
        logger.setLevel("INFO")
    keys = SigningKeys.from_raw(args.current_signing_key, args.next_signing_key)
    server = _dev_server(args, keys)
    try:
        server.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(
            f"duetime dev: port {args.port} is already in use; pick another with "
            f"`duetime dev --port N` (or `make dev PORT=N`)",
            file=sys.stderr,
        )
        return 1
    except DatabaseOpenError as exc:
        print(f"duetime dev: {exc}", file=sys.stderr)
        return 1
    # The handlers go in before the banner: whoever waits for it may signal at once.
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print(server.banner(), flush=True)
    stopped.wait()
    # Whatever is still in flight, the process is gone within 2 s: SQLite rolls back an
    # unfinished transaction on the next open, and leases make unrecorded sends retry.
    deadline = threading.Timer(1.5, os._exit, args=(0,))
    deadline.daemon = True
    deadline.start()
    server.stop()
    return 0


def default_processes(clock: str = "real") -> int:
    """Two worker processes wherever there is a second CPU for them (docs/benchmarks.md: with
    them a burst drained about 1.5 times as fast, and publishing ran about 1.5 times as fast,
    as in one process); none under a manual clock, which moves in-process."""
    return 2 if clock == "real" and (os.cpu_count() or 1) >= 2 else 0


def _hosts(listed: str) -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in listed.split(",") if h.strip())


def _dev_server(args: argparse.Namespace, keys: SigningKeys) -> EmbeddedServer | DevServer:
    # The servers are imported only when asked for: `duetime --help` stays quick.
    if args.aws_emulation:
        if args.clock != "real":
            raise SystemExit(
                "duetime dev: --clock manual needs the embedded engine, not --aws-emulation"
            )
        from functions.local.devserver import DevServer  # noqa: PLC0415

        return DevServer(
            host=args.host,
            port=args.port,
            token=args.token.strip(),
            keys=keys,
            eventbridge_jitter=args.eventbridge_jitter,
            workers=args.workers or 8,
            sqs_horizon_seconds=args.sqs_horizon_seconds,
            eventbridge_lead_seconds=args.eventbridge_lead_seconds,
            allowed_hosts=_hosts(args.allowed_hosts),
        )
    from functions.local.embedded import EmbeddedServer  # noqa: PLC0415
    from functions.observability import logger  # noqa: PLC0415 - set up by _dev by now

    processes = args.processes
    if processes is None:
        processes = default_processes(args.clock)
    if processes < 0:
        raise SystemExit("duetime dev: --processes must be 0 or more")
    if processes and args.clock != "real":
        raise SystemExit("duetime dev: --clock manual runs in one process: no --processes")
    return EmbeddedServer(
        host=args.host,
        port=args.port,
        token=args.token.strip(),
        keys=keys,
        db_path=args.db,
        workers=args.workers or (16 if processes == 0 else 4),
        processes=processes,
        log_level=logging.getLevelName(logger.log_level),
        allowed_hosts=_hosts(args.allowed_hosts),
        clock_mode=args.clock,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "dev":
        return _dev(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
