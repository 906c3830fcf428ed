#!/usr/bin/env python3
"""The fuzzer's power to fail: ``dirqkit fuzz`` alone (no YAML case) against each mutant of dirqref.

Each mutant of tests/mutants/mutants.py is built as a patched copy of
dirqref and reached as a driver (the reference driver with that copy first
on PYTHONPATH), then fuzzed as the only implementation, with a time budget
(default 60 s) and ``--max-findings 1``. Its queue type comes from what it
breaks: Normal for a NORMAL-, TABLE- or SCHEMA- requirement or an edit of
normal.py, table.py or schema.py, Simple for a SIMPLE- one or an edit of
simple.py, a queue set for a SET- requirement or an edit of queueset.py,
else Simple and Normal (half the budget each). A mutant is killed when the case
written for the first finding cites the mutant's requirement.

Prints a table (mutant, killed?, requirement found, seconds) and the share
killed; runs one fuzz process at a time. Seconds are wall clock on a shared
machine: they vary with the load.

    python3 tools/fuzz_power.py [--seconds S] [--seed N] [--mutant NAME ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FINDING = re.compile(r"^(FAIL|ERROR|CRASH|TIMEOUT) (\S+): mutant as role", re.MULTILINE)
CASE = re.compile(r"^  case: ", re.MULTILINE)
NORMAL_FILES = {"normal.py", "table.py", "schema.py"}
NORMAL_PREFIXES = ("NORMAL-", "TABLE-", "SCHEMA-")
SIMPLE_FILES = {"simple.py"}
SIMPLE_PREFIXES = ("SIMPLE-",)
SET_FILES = {"queueset.py"}
SET_PREFIXES = ("SET-",)


def load_mutants():
    spec = importlib.util.spec_from_file_location("dirqkit_power_mutants", REPO / "tests" / "mutants" / "mutants.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def queue_types(mutant) -> list[str]:
    """The queue types the mutant's edit concerns: one when its file or requirement says which, else both."""
    if mutant.requirement.startswith(SET_PREFIXES) or mutant.file in SET_FILES:
        return ["set"]
    if mutant.requirement.startswith(NORMAL_PREFIXES) or mutant.file in NORMAL_FILES:
        return ["normal"]
    if mutant.requirement.startswith(SIMPLE_PREFIXES) or mutant.file in SIMPLE_FILES:
        return ["simple"]
    return ["simple", "normal"]


def fuzz(mutants, mutant, seconds: float, seed: int, work: Path) -> tuple[bool, str, float, str]:
    """(killed, requirement of the first written finding or what happened, seconds, queue types).

    A mutant that concerns both queue types gets half the budget on each, Simple first; it is killed on
    the first type whose first finding cites its requirement.
    """
    source = mutants.build(mutant, work / "src")
    driver = shlex.join(["env", f"PYTHONPATH={mutants.driver_pythonpath(source)}", sys.executable, "-m", "dirqkit.drivers.ref"])
    kinds = queue_types(mutant)
    started, labels = time.monotonic(), []
    for kind in kinds:
        out = work / f"out-{kind}"
        command = [sys.executable, "-m", "dirqkit", "fuzz", "--driver", driver, "--name", "mutant", "--impl", "mutant",
                   "--type", kind, "--seconds", f"{seconds / len(kinds):g}", "--seed", str(seed), "--max-findings", "1",
                   "--out", str(out)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=work, timeout=seconds * 20 + 600)
        findings = FINDING.findall(done.stdout)
        if done.returncode not in (0, 1):
            labels.append(f"exit {done.returncode}: {' '.join(done.stderr.strip().splitlines()[-1:])[:80]}")
            continue
        if not findings:
            continue
        outcome, requirement = findings[0]
        written = bool(CASE.search(done.stdout))
        labels.append(requirement + ("" if outcome == "FAIL" else f" ({outcome})") + ("" if written else " (not written)"))
        if written and requirement == mutant.requirement:
            return True, labels[-1], time.monotonic() - started, "+".join(kinds)
    return False, ", ".join(labels) or "-", time.monotonic() - started, "+".join(kinds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="fuzz budget per mutant (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mutant", action="append", default=[], metavar="NAME", help="only these mutants")
    parser.add_argument("--out", type=Path, help="also write the table to FILE")
    args = parser.parse_args()
    mutants = load_mutants()
    chosen = [m for m in mutants.MUTANTS if not args.mutant or m.name in args.mutant]
    lines = [f"dirqkit fuzz power: --seconds {args.seconds:g} --seed {args.seed} --max-findings 1, one mutant at a time",
             f"{'mutant':<34} {'type':<13} {'expects':<16} {'killed':<6} {'found':<30} seconds"]
    print("\n".join(lines), flush=True)
    killed = 0
    for mutant in chosen:
        with tempfile.TemporaryDirectory(prefix="dirqkit-power-") as work:
            hit, found, elapsed, kind = fuzz(mutants, mutant, args.seconds, args.seed, Path(work))
        killed += hit
        line = f"{mutant.name:<34} {kind:<13} {mutant.requirement:<16} {'yes' if hit else 'no':<6} {found:<30} {elapsed:.0f}"
        lines.append(line)
        print(line, flush=True)
    total = f"killed {killed} of {len(chosen)} ({100 * killed / max(len(chosen), 1):.0f}%) with the right requirement"
    lines.append(total)
    print(total)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
