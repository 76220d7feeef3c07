"""``waypost notify`` (shell): run the webhook delivery worker over an index database.

``python -m waypost.notify.cli --db index.sqlite --allow 10.0.0.0/8`` works without the router too.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from waypost.notify.delivery import DeliveryConfig, start_delivery_scheduler
from waypost.notify.ssrf import parse_allow_list
from waypost.registry.errors import ErrorCode, WaypostError

__all__ = ["add_arguments", "run", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the delivery worker's options to ``parser``."""
    parser.add_argument("--db", required=True, help="index database (holds the outbox)")
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="CIDR|HOST:PORT",
        help="allow webhook targets otherwise refused (private, loopback...); repeatable",
    )
    parser.add_argument("--https-only", action="store_true", help="refuse plain http webhook URLs")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between delivery runs (default 2)")
    parser.add_argument("--lease", type=float, default=60.0, help="claim lease in seconds (default 60)")
    parser.add_argument("--timeout", type=float, default=10.0, help="POST timeout in seconds (default 10)")
    parser.add_argument("--max-attempts", type=int, default=8, help="attempts before dead-lettering (default 8)")
    parser.add_argument("--base-delay", type=float, default=5.0, help="first retry delay in seconds (default 5)")


def run(args: argparse.Namespace) -> int:
    """Deliver until SIGINT/SIGTERM; returns the exit status.

    Raises:
        WaypostError: a bad allow-list entry or option; ``store.io``.
    """
    policy = parse_allow_list(list(args.allow))
    if args.https_only:
        policy = type(policy)(allow_networks=policy.allow_networks, allow_hostports=policy.allow_hostports, allow_http=False)
    try:
        config = DeliveryConfig(
            max_attempts=int(args.max_attempts),
            base_delay_s=float(args.base_delay),
            max_delay_s=max(3600.0, float(args.base_delay)),
            lease_s=float(args.lease),
            timeout_s=float(args.timeout),
            interval_s=float(args.interval),
        )
    except ValueError as exc:
        raise WaypostError(ErrorCode.BAD_REQUEST, str(exc)) from exc
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = start_delivery_scheduler(args.db, policy=policy, config=config)
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m waypost.notify.cli``); errors print as one line."""
    parser = argparse.ArgumentParser(prog="waypost-notify", description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except WaypostError as exc:
        print(f"waypost: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
