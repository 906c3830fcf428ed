"""``dirqkit compare OLD.json NEW.json``: what got worse and what got better between two runs.

Exit 1 on regressions only (a new failure, a deviation on a new requirement,
a pair that stopped interoperating); 0 otherwise, improvements included.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dirqkit.cli import UsageError
from dirqkit.report.changes import compare
from dirqkit.report.results import ResultsFileError, load

NAME = "compare"
HELP = "compare two results files (dirqkit run --json); exit 1 when the second one is worse"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", type=Path, metavar="OLD.json", help="the baseline (e.g. committed in your repository)")
    parser.add_argument("new", type=Path, metavar="NEW.json", help="this run's results")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        old, new = load(args.old), load(args.new)
    except ResultsFileError as exc:
        raise UsageError(str(exc)) from None
    changes = compare(old, new)
    if args.json:
        print(json.dumps({"worse": changes.worse, "better": changes.better, "untested": changes.untested}, indent=2))
    else:
        for title, lines in (("worse", changes.worse), ("better", changes.better), ("no longer tested", changes.untested)):
            print(f"{title}: {len(lines)}")
            print("\n".join(f"  {line}" for line in lines) if lines else "  (none)")
    return 1 if changes.worse else 0
