"""Command-line entry point ``waypost`` (shell): dispatches to each package's CLI module.

Each subcommand lives beside the code it drives, in a module exposing
``add_arguments(parser)`` and ``run(args) -> int``. This file only routes and turns
every ``WaypostError`` into one line on stderr (never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from waypost.registry.errors import WaypostError

__all__ = ["main", "COMMANDS"]

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("waypost.demo", "start a simulator, indexer and API with sample identities"),
    "regtest": ("waypost.regtest.cli", "run the namecoind-compatible regtest simulator"),
    "index": ("waypost.indexer.cli", "follow namecoind and index every name operation"),
    "serve": ("waypost.api.cli", "serve the HTTP API from an index database"),
    "notify": ("waypost.notify.cli", "deliver webhook notifications from the outbox"),
    "witness": ("waypost.tlog.cli", "run a witness that cosigns consistent checkpoints"),
    "resolve": ("waypost.client.cli", "resolve an address and verify every proof offline"),
    "verify-message": ("waypost.client.verify_cli", "check whether a key was an address's key when it signed"),
}


def _build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser | None, str | None]:
    parser = argparse.ArgumentParser(prog="waypost", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if a in COMMANDS), None)
    chosen_parser = None
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            chosen_parser = p
    return parser, chosen_parser, chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``waypost`` command line; returns the process exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, chosen_parser, chosen = _build_parser(args_list)
    module = None
    if chosen is not None and chosen_parser is not None:
        try:
            module = importlib.import_module(COMMANDS[chosen][0])
        except ModuleNotFoundError as exc:
            print(f"waypost: '{chosen}' is not available in this build ({exc.name})", file=sys.stderr)
            return 2
        module.add_arguments(chosen_parser)
    args = parser.parse_args(args_list)
    if module is None:
        parser.print_help()
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        return int(module.run(args))
    except WaypostError as exc:
        print(f"waypost: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
