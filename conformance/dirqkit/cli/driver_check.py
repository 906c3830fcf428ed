"""``dirqkit driver-check CMD``: run a driver through every op and validate every message (``dirqkit.drivers.check``)."""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import asdict

from dirqkit.cli import UsageError
from dirqkit.drivers import registry
from dirqkit.drivers.check import check
from dirqkit.drivers.client import DriverError

NAME = "driver-check"
HELP = "check that a driver command speaks the driver protocol correctly"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("command", nargs="*", metavar="CMD", help="driver command: one shell-quoted string or its words (after --)")
    parser.add_argument("--driver", metavar="NAME", help="check a known driver by name instead (see `dirqkit drivers`)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per-request timeout (default 10)")
    parser.add_argument("--workdir", metavar="DIR", help="where to create queues (default: a fresh temporary directory)")
    parser.add_argument("--strict", action="store_true", help="deviations from SPEC.md fail too")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def run(args: argparse.Namespace) -> int:
    if bool(args.command) == bool(args.driver):
        raise UsageError("give a driver command or --driver NAME (one of them)")
    if args.driver:
        spec = registry.DRIVERS.get(args.driver)
        if spec is None:
            raise UsageError(f"unknown driver {args.driver!r}; known: {', '.join(registry.DRIVERS)}")
        command = list(spec.command)
    else:
        command = shlex.split(args.command[0]) if len(args.command) == 1 else list(args.command)
    try:
        findings, hello = check(command, args.timeout, args.workdir)
    except DriverError as exc:  # the command cannot be started at all
        raise UsageError(exc.message) from None
    counts = {status: sum(f.status == status for f in findings) for status in ("PASS", "FAIL", "DEVIATION", "SKIP")}
    failed = counts["FAIL"] > 0 or args.strict and counts["DEVIATION"] > 0
    if args.json:
        print(json.dumps({"command": command, "hello": hello, "findings": [asdict(f) for f in findings],
                          "summary": counts, "passed": not failed}, indent=2, ensure_ascii=False))
    else:
        print(f"driver-check: {shlex.join(command)}")
        for finding in findings:
            print(f"  {finding.status:<9} {finding.check}" + (f": {finding.detail}" if finding.detail else ""))
        print(f"driver-check: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['DEVIATION']} deviations, "
              f"{counts['SKIP']} skipped -> {'FAILED' if failed else 'OK'}")
    return 1 if failed else 0
