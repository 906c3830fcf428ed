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

``--versus=ARGS`` pairs every repetition with a run given these extra
arguments too (e.g. ``--no-pin``), the two taken in turn (which goes first
alternates), and reports the ratios of each pair: what the change is worth
on this machine, measured side by side rather than against another day's
figures.

The outcome of every (case, roles) is kept too, so two reports can be told
apart on verdicts (``--outcomes-of FILE`` prints the runs whose outcome
differs from that earlier report's first repetition). --save keeps the JSON
report, with the machine, under tools/bench/results/.

    python3 tools/bench/bench_matrix.py [--repeat R] [--save] [--outcomes-of REPORT] [--versus=ARGS] [-- RUN ARGS...]

Example (the figure issue 13 asks for):
    source /work/ext/env.sh; python3 tools/bench/bench_matrix.py --repeat 5 --save -- --impl ref,python-dirq,perl,c
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import shlex
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
    parser.add_argument("--versus", metavar="ARGS", help="pair each repetition with a run given these extra dirqkit run arguments, in turn (--versus=--no-pin)")
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
    extra = shlex.split(args.versus) if args.versus is not None else None
    started = machine()
    repetitions = []
    with tempfile.TemporaryDirectory(prefix="dirqkit-bench-matrix-") as scratch:
        for index in range(args.repeat):
            versus = None
            if extra is not None and index % 2:  # the paired run goes first every other repetition
                versus = one_run(args.run_args + extra, Path(scratch), 2 * index + 1)
            figures = one_run(args.run_args, Path(scratch), 2 * index)
            if extra is not None and versus is None:
                versus = one_run(args.run_args + extra, Path(scratch), 2 * index + 1)
            repetitions.append(figures)
            if versus is not None:
                figures["versus"] = versus
            reference = earlier if earlier is not None else (repetitions[0].get("outcome_of") if index else None)
            for label, done in (("", figures), (f" with {args.versus}", versus)):
                if done is None:
                    continue
                if "kit_error" in done:
                    print(f"run {index + 1}{label}: kit error: {done['kit_error']}", file=sys.stderr)
                    continue
                print(f"run {index + 1}/{args.repeat}{label}: {done['wall_s']:.1f} s wall, {done['cpu_s']:.1f} s CPU, "
                      f"{done['runs']} runs {done['outcomes']}, exit {done['exit']}, "
                      f"load {done['load_average_at_start'][0]} -> {done['load_average_at_end'][0]}", flush=True)
                for line in differences(reference, done["outcome_of"]) if reference is not None else ():
                    print(f"  outcome changed: {line}")
            if versus is not None and "kit_error" not in figures and "kit_error" not in versus:
                figures["ratio_to_versus"] = {"wall": round(figures["wall_s"] / versus["wall_s"], 3), "cpu": round(figures["cpu_s"] / versus["cpu_s"], 3)}
                print(f"  ratio to the run with {args.versus}: wall {figures['ratio_to_versus']['wall']:.2f}, CPU {figures['ratio_to_versus']['cpu']:.2f}")
    walls = sorted(r["wall_s"] for r in repetitions if "kit_error" not in r)
    if walls:
        print(f"wall: min {walls[0]:.1f} s, median {walls[len(walls) // 2]:.1f} s, max {walls[-1]:.1f} s over {len(walls)} runs")
    ratios = sorted(r["ratio_to_versus"]["wall"] for r in repetitions if "ratio_to_versus" in r)
    if ratios:
        print(f"wall ratio to the runs with {args.versus}: min {ratios[0]:.2f}, median {ratios[len(ratios) // 2]:.2f}, max {ratios[-1]:.2f}")
    if args.save:
        print(f"saved {save('bench_matrix', {'run_args': args.run_args, 'versus': extra, 'repetitions': repetitions}, started)}")
    complete = all("kit_error" not in r and "kit_error" not in r.get("versus", {}) for r in repetitions)
    return 0 if walls and complete else 1


if __name__ == "__main__":
    sys.exit(main())
