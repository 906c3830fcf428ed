#!/usr/bin/env python3
"""Throughput of dirqref against python-dirq and a C syscall loop (cloop.c).

For each filesystem (tmpfs and the working disk) and each repetition, every
implementation adds COUNT elements of SIZE bytes to a fresh queue, then runs one
consume pass (iterate; lock, get, remove each element). Simple and Normal
(schema {"body": "binary"}) queues; the C loop does the same syscalls as a
Simple add and consume and gives the floor. Prints medians as a Markdown table,
or everything as JSON with --json; --save keeps the JSON report, with the
machine it ran on, under tools/bench/results/. The implementations run
interleaved in each repetition, so each repetition also gives paired ratios:
the targets say in how many repetitions they were met, besides the medians.
A repetition runs every implementation ROUNDS times, still interleaved, and
keeps each one's best round, the one least disturbed by whatever else the
machine runs (on a shared host a single round of the same work varied by
half in one session); every round is kept in the JSON report.

    python3 tools/bench/bench_queue.py [--count N] [--size B] [--repeat R] [--rounds K] [--fs tmpfs|disk|both] [--json] [--save]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from dirq.queue import Queue as PyNormal  # type: ignore[import-untyped]
from dirq.QueueSimple import QueueSimple as PySimple  # type: ignore[import-untyped]

from dirqref import QueueNormal, QueueSimple
from machine import machine, save  # tools/bench/machine.py

HERE = Path(__file__).resolve().parent
SCHEMA = {"body": "binary"}
MEMORY_FS = {"tmpfs", "ramfs"}
# Targets on tmpfs: (queue, kind, operation, bound); see check_targets.
TARGETS = [
    ("simple", "vs python-dirq", "add", 1.2),
    ("simple", "vs python-dirq", "consume", 1.2),
    ("simple", "time vs C", "add", 2.0),
    ("simple", "time vs C", "consume", 2.0),
    ("normal", "vs python-dirq", "add", 1.25),
    ("normal", "vs python-dirq", "consume", 1.2),
]

Queue: TypeAlias = QueueSimple | QueueNormal | PySimple | PyNormal
IMPLEMENTATIONS: dict[tuple[str, str], Callable[[str], Queue]] = {
    ("simple", "dirqref"): lambda path: QueueSimple(path),
    ("simple", "python-dirq"): lambda path: PySimple(path),
    ("normal", "dirqref"): lambda path: QueueNormal(path, SCHEMA),
    ("normal", "python-dirq"): lambda path: PyNormal(path, schema=SCHEMA),
}


def filesystem_type(path: str) -> str:
    """The filesystem type of ``path`` as df reports it."""
    output = subprocess.run(["df", "-P", "-T", path], check=True, capture_output=True, text=True).stdout
    return output.splitlines()[-1].split()[1]


def bench_dirs(choice: str) -> dict[str, str]:
    """fs label -> a base directory on it: /dev/shm for tmpfs, /tmp or /work for disk."""
    found: dict[str, str] = {}
    if choice in ("tmpfs", "both"):
        if Path("/dev/shm").is_dir() and filesystem_type("/dev/shm") in MEMORY_FS:
            found["tmpfs"] = "/dev/shm"
        else:
            sys.exit("bench_queue: /dev/shm is not a tmpfs on this machine")
    if choice in ("disk", "both"):
        disk = next((d for d in ("/tmp", "/work") if Path(d).is_dir() and filesystem_type(d) not in MEMORY_FS), None)
        if disk is None:
            sys.exit("bench_queue: neither /tmp nor /work is on a disk filesystem")
        found["disk"] = disk
    return found


def compile_cloop(build: Path) -> Path:
    binary = build / "cloop"
    subprocess.run(["cc", "-O2", "-o", str(binary), str(HERE / "cloop.c")], check=True)
    return binary


def run_python(queue_type: str, impl: str, path: str, count: int, payload: bytes) -> tuple[float, float]:
    """Seconds for COUNT adds and for one consume pass with one implementation."""
    queue = IMPLEMENTATIONS[queue_type, impl](path)
    element: bytes | dict[str, bytes] = payload if queue_type == "simple" else {"body": payload}
    add = queue.add
    gc.collect()
    start = time.perf_counter()
    for _ in range(count):
        add(element)
    added = time.perf_counter()
    consumed = 0
    lock, get, remove = queue.lock, queue.get, queue.remove
    for name in queue:
        if lock(name):
            get(name)
            remove(name)
            consumed += 1
    done = time.perf_counter()
    if consumed != count:
        sys.exit(f"bench_queue: {impl} {queue_type} consumed {consumed} of {count} elements")
    return added - start, done - added


def run_c(binary: Path, path: str, count: int, size: int) -> tuple[float, float]:
    output = subprocess.run([str(binary), path, str(count), str(size)], check=True, capture_output=True, text=True)
    add_s, consume_s = output.stdout.split()
    return float(add_s), float(consume_s)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    payload = bytes(i * 7 % 256 for i in range(args.size))
    runs = [("simple", "dirqref"), ("simple", "python-dirq"), ("simple", "C loop"), ("normal", "dirqref"), ("normal", "python-dirq")]
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}  # per repetition, the best round
    every_round: dict[str, dict[str, dict[str, list[float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-build-") as build:
        binary = compile_cloop(Path(build))
        for fs, base in bench_dirs(args.fs).items():
            samples[fs] = {f"{q}/{impl}": {"add": [], "consume": []} for q, impl in runs}
            every_round[fs] = {f"{q}/{impl}": {"add": [], "consume": []} for q, impl in runs}
            for _ in range(args.repeat):
                for _ in range(args.rounds):
                    for queue_type, impl in runs:  # interleaved, so drift hits every implementation alike
                        os.sync()  # the previous run's writeback and deletions must not be billed to this one
                        scratch = tempfile.mkdtemp(prefix="bench-queue-", dir=base)
                        try:
                            path = f"{scratch}/q"
                            if impl == "C loop":
                                add_s, consume_s = run_c(binary, path, args.count, args.size)
                            else:
                                add_s, consume_s = run_python(queue_type, impl, path, args.count, payload)
                        finally:
                            shutil.rmtree(scratch)
                        rounds = every_round[fs][f"{queue_type}/{impl}"]
                        rounds["add"].append(args.count / add_s)
                        rounds["consume"].append(args.count / consume_s)
                for key, cell in samples[fs].items():
                    for op, values in cell.items():
                        values.append(max(every_round[fs][key][op][-args.rounds:]))  # this repetition's best round
    return {**summarize(args, samples), "rounds": args.rounds, "every_round": every_round}


def summarize(args: argparse.Namespace, samples: dict[str, Any]) -> dict[str, Any]:
    medians = {
        fs: {key: {op: statistics.median(values) for op, values in cell.items()} for key, cell in per_fs.items()}
        for fs, per_fs in samples.items()
    }
    ratios: dict[str, Any] = {}
    for fs, per_fs in medians.items():
        ratios[fs] = {}
        for queue_type in ("simple", "normal"):
            ref, py = per_fs[f"{queue_type}/dirqref"], per_fs[f"{queue_type}/python-dirq"]
            ratios[fs][queue_type] = {"vs python-dirq": {op: ref[op] / py[op] for op in ref}}
        c_loop = per_fs["simple/C loop"]
        ref = per_fs["simple/dirqref"]
        ratios[fs]["simple"]["time vs C"] = {op: c_loop[op] / ref[op] for op in ref}  # = dirqref time / C time
    return {
        "count": args.count,
        "size": args.size,
        "repeat": args.repeat,
        "unit": "operations per second (median over repetitions of each one's best round)",
        "samples": samples,
        "medians": medians,
        "ratios": ratios,
        "targets": check_targets(ratios, samples),
    }


def ratio_of(kind: str, op: str, cells: dict[str, Any], queue_type: str, pick: Callable[[list[float]], float]) -> float:
    ref = pick(cells[f"{queue_type}/dirqref"][op])
    if kind == "vs python-dirq":
        return ref / pick(cells[f"{queue_type}/python-dirq"][op])
    return pick(cells["simple/C loop"][op]) / ref  # = dirqref time / C time


def check_targets(ratios: dict[str, Any], samples: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The tmpfs targets: >= bound for 'vs python-dirq', <= bound for 'time vs C'; on the medians and per repetition."""
    if "tmpfs" not in ratios:
        return []
    results = []
    for queue_type, kind, op, bound in TARGETS:
        value = ratios["tmpfs"][queue_type][kind][op]
        met = value >= bound if kind == "vs python-dirq" else value <= bound
        result = {"queue": queue_type, "ratio": kind, "op": op, "value": value, "bound": bound, "met": met}
        if samples is not None:
            cells = samples["tmpfs"]
            repeats = len(cells[f"{queue_type}/dirqref"][op])
            per_run = [ratio_of(kind, op, cells, queue_type, lambda values, i=i: values[i]) for i in range(repeats)]
            result["per_repetition"] = per_run
            result["repetitions_met"] = sum(r >= bound if kind == "vs python-dirq" else r <= bound for r in per_run)
        results.append(result)
    return results


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"{report['count']} elements x {report['size']} bytes, median of {report['repeat']} repetitions, each the best of "
        f"{report['rounds']} rounds (ops/s)",
        "",
        "| fs | queue | implementation | add ops/s | consume ops/s | add: dirqref/python-dirq | consume: dirqref/python-dirq | add: dirqref time / C | consume: dirqref time / C |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for fs, per_fs in report["medians"].items():
        for key, cell in per_fs.items():
            queue_type, impl = key.split("/")
            ratio_cells = ["", "", "", ""]
            if impl == "dirqref":
                vs_py = report["ratios"][fs][queue_type]["vs python-dirq"]
                ratio_cells[:2] = [f"{vs_py['add']:.2f}x", f"{vs_py['consume']:.2f}x"]
                vs_c = report["ratios"][fs][queue_type].get("time vs C")
                if vs_c:
                    ratio_cells[2:] = [f"{vs_c['add']:.2f}x", f"{vs_c['consume']:.2f}x"]
            lines.append(f"| {fs} | {queue_type} | {impl} | {cell['add']:,.0f} | {cell['consume']:,.0f} | " + " | ".join(ratio_cells) + " |")
    if report["targets"]:
        lines += ["", "Targets on tmpfs:", ""]
        for t in report["targets"]:
            sign = ">=" if t["ratio"] == "vs python-dirq" else "<="
            per_run = " ".join(f"{r:.2f}" for r in t["per_repetition"])
            lines.append(f"- {t['queue']} {t['op']} {t['ratio']}: {t['value']:.2f} (target {sign} {t['bound']}) "
                         f"{'met' if t['met'] else 'MISSED'}; per repetition {per_run}: met in {t['repetitions_met']} of {len(t['per_repetition'])}")
    return "\n".join(lines)


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=positive, default=20000, help="elements per run (default 20000)")
    parser.add_argument("--size", type=int, default=1024, help="bytes per element (default 1024)")
    parser.add_argument("--repeat", type=positive, default=5, help="repetitions; medians are printed (default 5)")
    parser.add_argument("--rounds", type=positive, default=3, help="rounds per repetition, the best one kept (default 3)")
    parser.add_argument("--fs", choices=("tmpfs", "disk", "both"), default="both", help="where to run (default both)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--save", action="store_true", help="keep the JSON report under tools/bench/results/")
    args = parser.parse_args(argv)
    if args.size < 0:
        parser.error("--size must be >= 0")
    started = machine()
    report = measure(args)
    if args.save:
        print(f"bench_queue: saved {save('bench_queue', report, started)}", file=sys.stderr)
    print(json.dumps({**report, "machine": started}, indent=2) if args.json else
          f"load average at start: {' '.join(map(str, started['load_average_at_start']))} ({started['cores']} cores)\n" + markdown(report))
    return 0 if all(t["met"] for t in report["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
