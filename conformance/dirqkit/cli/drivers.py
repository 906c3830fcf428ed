"""``dirqkit drivers``: every known driver, whether it can run here, and why."""

from __future__ import annotations

import argparse
import json
import shlex

from dirqkit.drivers.registry import DRIVERS

NAME = "drivers"
HELP = "list the known drivers, their command lines and whether they are available here"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args: argparse.Namespace) -> int:
    rows = []
    for spec in DRIVERS.values():
        available, reason = spec.probe()
        rows.append({"name": spec.name, "implementation": spec.implementation, "command": list(spec.command),
                     "available": available, "reason": reason, "enable": spec.enable})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        state = "available  " if row["available"] else "unavailable"
        print(f"{row['name']:<{width}}  {state}  {row['reason']}")
        print(f"{'':<{width}}  command: {shlex.join(row['command'])}")
        if not row["available"]:
            print(f"{'':<{width}}  to enable: {row['enable']}")
    return 0
