#!/usr/bin/env python3
"""The fuzzer's power to fail: ``dirqkit fuzz`` alone (no YAML case) against each mutant of dirqref.

Each mutant of tests/mutants/mutants.py is built as a patched copy of
dirqref and reached as a driver (the reference driver with that copy first
on PYTHONPATH), then fuzzed as the only implementation, with a time budget
(default 60 s), as a user runs ``dirqkit fuzz``: the search goes on after a
finding and reports every distinct one. Its queue type comes from what it
breaks: Normal for a NORMAL-, TABLE- or SCHEMA- requirement or an edit of
normal.py, table.py or schema.py, Simple for a SIMPLE- one or an edit of
simple.py, a queue set for a SET- requirement or an edit of queueset.py,
else Simple and Normal (half the budget each). A mutant is killed when a
finding written as a case cites the mutant's requirement; the search of a
queue type stops there (``--stop-on``), as nothing it finds later changes
the verdict. The stricter figure of earlier runs is kept for comparison:
whether the first finding of a queue type cited the requirement.

Prints a table (mutant, killed?, first finding right?, seconds, every
finding) and the shares killed; runs one fuzz process at a time. Seconds
are wall clock on a shared machine: they vary with the load.

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
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FINDING = re.compile(r"^(FAIL|ERROR|CRASH|TIMEOUT) (\S+): mutant as role.*$", re.MULTILINE)
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


@dataclass
class Reported:
    """One finding as ``dirqkit fuzz`` printed it."""

    requirement: str
    outcome: str  # FAIL, ERROR, CRASH or TIMEOUT
    written: bool  # dirqkit run failed the shrunk case the same way, and the case was kept

    def label(self) -> str:
        return self.requirement + ("" if self.outcome == "FAIL" else f" ({self.outcome})") + ("" if self.written else " (not written)")


def reported(stdout: str) -> list[Reported]:
    """The findings of one ``dirqkit fuzz`` output, in the order it found them."""
    blocks = FINDING.split(stdout)[1:]  # outcome, requirement, the text up to the next finding, ...
    return [Reported(requirement, outcome, bool(CASE.search(text)))
            for outcome, requirement, text in zip(blocks[0::3], blocks[1::3], blocks[2::3])]


@dataclass
class Verdict:
    killed: bool  # a written finding cites the mutant's requirement
    first: bool  # the first finding of a queue type did (the stricter figure)
    labels: list[str]  # every finding, or what went wrong with a run
    seconds: float
    kinds: str


def judge(requirement: str, runs: list[list[Reported]]) -> tuple[bool, bool]:
    """(killed, first) over the findings of each queue type's run."""
    right = [[f.written and f.requirement == requirement for f in found] for found in runs]
    return any(any(r) for r in right), any(r[:1] == [True] for r in right)


def fuzz(mutants, mutant, seconds: float, seed: int, work: Path) -> Verdict:
    """Fuzz one mutant; a mutant that concerns both queue types gets half the budget on each, Simple first."""
    source = mutants.build(mutant, work / "src")
    driver = shlex.join(["env", f"PYTHONPATH={mutants.driver_pythonpath(source)}", sys.executable, "-m", "dirqkit.drivers.ref"])
    kinds = queue_types(mutant)
    started, labels, runs = time.monotonic(), [], []
    for kind in kinds:
        out = work / f"out-{kind}"
        command = [sys.executable, "-m", "dirqkit", "fuzz", "--driver", driver, "--name", "mutant", "--impl", "mutant",
                   "--type", kind, "--seconds", f"{seconds / len(kinds):g}", "--seed", str(seed),
                   "--stop-on", mutant.requirement, "--out", str(out)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=work, timeout=seconds * 20 + 600)
        if done.returncode not in (0, 1):
            labels.append(f"exit {done.returncode}: {' '.join(done.stderr.strip().splitlines()[-1:])[:80]}")
            continue
        runs.append(reported(done.stdout))
        labels += [f.label() for f in runs[-1]]
    killed, first = judge(mutant.requirement, runs)
    return Verdict(killed, first, labels or ["-"], time.monotonic() - started, "+".join(kinds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="fuzz budget per mutant (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mutant", action="append", default=[], metavar="NAME", help="only these mutants")
    parser.add_argument("--out", type=Path, help="also write the table to FILE")
    args = parser.parse_args()
    mutants = load_mutants()
    chosen = [m for m in mutants.MUTANTS if not args.mutant or m.name in args.mutant]
    lines = [f"dirqkit fuzz power: --seconds {args.seconds:g} --seed {args.seed}, every finding reported, one mutant at a time",
             "killed: some finding cites the requirement; first: the first finding of a queue type does",
             f"{'mutant':<34} {'type':<13} {'expects':<16} {'killed':<6} {'first':<5} {'seconds':>7}  found"]
    print("\n".join(lines), flush=True)
    killed = first = 0
    for mutant in chosen:
        with tempfile.TemporaryDirectory(prefix="dirqkit-power-") as work:
            verdict = fuzz(mutants, mutant, args.seconds, args.seed, Path(work))
        killed += verdict.killed
        first += verdict.first
        line = (f"{mutant.name:<34} {verdict.kinds:<13} {mutant.requirement:<16} {'yes' if verdict.killed else 'no':<6} "
                f"{'yes' if verdict.first else 'no':<5} {verdict.seconds:>7.0f}  {', '.join(verdict.labels)}")
        lines.append(line)
        print(line, flush=True)
    share = 100 / max(len(chosen), 1)
    total = (f"killed {killed} of {len(chosen)} ({killed * share:.0f}%) with the right requirement; "
             f"first finding right: {first} ({first * share:.0f}%)")
    lines.append(total)
    print(total)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
