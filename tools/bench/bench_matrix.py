#!/usr/bin/env python3
"""The full conformance matrix, timed: wall and CPU of whole ``dirqkit run`` invocations.

Runs ``python3 -m dirqkit run --json FILE [RUN ARGS]`` REPEAT times, one after
the other, and reports for each: wall seconds, CPU seconds (user + system of
the whole process tree: the run, its pytest-xdist workers, the drivers and
strace, as the run's waited-for children), the number of runs and their
outcomes, the sum of the runs' own seconds per case group, and the load
average before and after. CPU is the measure another job on the machine
does not change much; wall time is what a user waits, and only means
something on an idle machine (see the load figures). A run that exits with
a code other than 0 or 1 is reported as a kit error.

The outcome of every (case, roles) is kept too, so two reports can be told
apart on verdicts (``--outcomes-of FILE`` prints the runs whose outcome
differs from that earlier report's first repetition). --save keeps the JSON
report, with the machine, under tools/bench/results/.

    python3 tools/bench/bench_matrix.py [--repeat R] [--save] [--outcomes-of REPORT] [-- RUN ARGS...]

Example (the figure issue 13 asks for):
    source /work/ext/env.sh; python3 tools/bench/bench_matrix.py --repeat 5 --save -- --impl ref,python-dirq,perl,c
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine, save  # tools/bench/machine.py


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(run_args: list[str], scratch: Path, index: int) -> dict[str, Any]:
    """One ``dirqkit run``: its wall and CPU seconds and what its JSON report says."""
    report = scratch / f"run-{index}.json"
    argv = [sys.executable, "-m", "dirqkit", "run", "--json", str(report), *run_args]
    load = [round(x, 2) for x in os.getloadavg()]
    cpu, wall = cpu_of_children(), time.monotonic()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=scratch)
    wall, cpu = time.monotonic() - wall, cpu_of_children() - cpu
    figures: dict[str, Any] = {"exit": done.returncode, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                               "load_average_at_start": load, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}
    if done.returncode not in (0, 1) or not report.exists():
        figures["kit_error"] = done.stderr.strip()[-2000:] or f"exit {done.returncode}, no report"
        return figures
    records = json.loads(report.read_text(encoding="utf-8"))["records"]
    groups: collections.Counter[str] = collections.Counter()
    for record in records:
        groups[record["group"]] += record.get("seconds") or 0.0
    figures.update({
        "runs": len(records),
        "outcomes": dict(collections.Counter(r["outcome"] for r in records)),
        "seconds_by_group": {g: round(s, 1) for g, s in groups.most_common()},
        "outcome_of": {run_key(r): r["outcome"] for r in records},
    })
    return figures


def run_key(record: dict[str, Any]) -> str:
    roles = ",".join(f"{role}={name}" for role, name in sorted((record.get("roles") or {}).items()))
    return f"{record['case']}[{roles}]"


def differences(earlier: dict[str, str], later: dict[str, str]) -> list[str]:
    return [f"{key}: {earlier.get(key, '-')} -> {later.get(key, '-')}"
            for key in sorted(set(earlier) | set(later)) if earlier.get(key) != later.get(key)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, metavar="R", help="invocations, one after the other (default 1)")
    parser.add_argument("--save", action="store_true", help="keep the JSON report under tools/bench/results/")
    parser.add_argument("--outcomes-of", type=Path, metavar="REPORT",
                        help="an earlier report of this tool: list the runs whose outcome differs from its first repetition")
    parser.add_argument("run_args", nargs="*", help="arguments of dirqkit run (after --)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    earlier = None
    if args.outcomes_of is not None:
        try:
            earlier = json.loads(args.outcomes_of.read_text(encoding="utf-8"))["repetitions"][0]["outcome_of"]
        except (OSError, ValueError, KeyError, IndexError) as exc:
            parser.error(f"{args.outcomes_of}: not a report of this tool ({exc})")
    started = machine()
    repetitions = []
    with tempfile.TemporaryDirectory(prefix="dirqkit-bench-matrix-") as scratch:
        for index in range(args.repeat):
            figures = one_run(args.run_args, Path(scratch), index)
            repetitions.append(figures)
            if "kit_error" in figures:
                print(f"run {index + 1}: kit error: {figures['kit_error']}", file=sys.stderr)
                continue
            print(f"run {index + 1}/{args.repeat}: {figures['wall_s']:.1f} s wall, {figures['cpu_s']:.1f} s CPU, "
                  f"{figures['runs']} runs {figures['outcomes']}, exit {figures['exit']}, "
                  f"load {figures['load_average_at_start'][0]} -> {figures['load_average_at_end'][0]}", flush=True)
            reference = earlier if earlier is not None else (repetitions[0].get("outcome_of") if index else None)
            for line in differences(reference, figures["outcome_of"]) if reference is not None else ():
                print(f"  outcome changed: {line}")
    walls = sorted(r["wall_s"] for r in repetitions if "kit_error" not in r)
    if walls:
        print(f"wall: min {walls[0]:.1f} s, median {walls[len(walls) // 2]:.1f} s, max {walls[-1]:.1f} s over {len(walls)} runs")
    if args.save:
        print(f"saved {save('bench_matrix', {'run_args': args.run_args, 'repetitions': repetitions}, started)}")
    return 0 if walls and len(walls) == len(repetitions) else 1


if __name__ == "__main__":
    sys.exit(main())
