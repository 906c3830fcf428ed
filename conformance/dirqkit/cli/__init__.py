"""The ``dirqkit`` console command: one subcommand per module (run, fuzz, fsck, spec_trace, drivers, driver_check, compare).

The top room: it may import every other room; nothing imports it.
Each command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Exit codes follow one rule everywhere: 0 success,
1 the checked thing failed, 2 usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES = [
    "dirqkit.cli.spec_trace",
    "dirqkit.cli.run",
    "dirqkit.cli.fuzz",
    "dirqkit.cli.driver_check",
    "dirqkit.cli.drivers",
    "dirqkit.cli.fsck",
    "dirqkit.cli.compare",
]


class UsageError(Exception):
    """Raised by a command for bad arguments or unreadable input (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    from dirqkit import __version__

    parser = argparse.ArgumentParser(
        prog="dirqkit",
        description="Conformance kit for the directory queue format.",
    )
    parser.add_argument("--version", action="version", version=f"dirqkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._run(args))
    except UsageError as exc:
        print(f"dirqkit {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dirqkit: interrupted", file=sys.stderr)
        return 130

