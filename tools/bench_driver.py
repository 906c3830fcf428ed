#!/usr/bin/env python3
"""What the driver protocol costs: round trips, and batch ops against in-process loops.

1. Round-trip overhead: ``count`` of a Null queue (no filesystem work) and a
   permissive ``lock`` of an absent Simple element (one failing link) through
   the ref driver, against the same calls on dirqref objects in this process.
2. Batch throughput: ``produce`` then ``consume`` of COUNT elements of SIZE
   bytes through the ref driver (one request each, timed by the kit around
   the request, the reply parsed), against two in-process baselines on dirqref:
   - *bare*: plain loops (``add`` of ready payloads; iterate/lock/get/remove),
     no payload making, no digests, no history: the ratio charges the batch
     op with everything it adds;
   - *batch*: the driver's own batch code (``Server.op_produce``/``op_consume``)
     called in this process, in the same history form: the ratio is the
     protocol's cost alone (JSON of the history, the pipe).
   Targets (ratio to batch in CPU time, in every run): produce <= 1.1, consume <= 1.2.
   ``--history events`` measures the deprecated events form (PROTOCOL.md 2.3)
   instead of compact rows (2.4).

All three sides run on one CPU (the first this process may use, or --cpu N; --cpu -1: any), as
dirqkit run puts a worker and its drivers: the CPUs of a shared virtual machine differ in speed
from one minute to the next, and a driver left on another CPU than the in-process sides made
whole runs 1.3x by that alone.

Each run measures the three sides (driver, batch, bare) in a warm-up round, not counted, then
in ROUNDS rounds, the order rotated each round; every side of every round works on a fresh queue
in its own fresh directory under --dir (default: a temporary directory on the working disk),
removed after it. A run's ratio is the median, over its rounds, of the ratio of the two sides
within a round, measured one right after the other; the ratio of each side's best round is shown
beside it. On a busy shared host (2026-12-04) single rounds of the same work varied from 0.7x to 1.5x
of each other, in phases of seconds: one side's best round could come from a quiet phase the other
side never got, and that ratio of bests put whole runs 10-20% off, while the median of paired
ratios stayed put. Two measures: CPU time (user + system, all
threads, from /proc/PID/task/*/schedstat) of every process doing the work (for the driver side
the kit and the driver, whose only extra work is the protocol; for the in-process sides this
process), which the targets are checked on because another job taking a core does not change
it; and wall time, reported beside it. Medians over REPEAT runs, how many runs met each target
and the spread of single rounds' ratios. --save keeps the JSON report, with the machine, under
tools/bench/results/. Linux only (schedstat).

    python3 tools/bench_driver.py [--ops N] [--count N] [--size B] [--repeat R] [--rounds K] [--dir DIR]
                                  [--history compact|events] [--cpu N] [--json] [--save]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
from machine import machine, save  # tools/bench/machine.py

from dirqkit.drivers.client import DriverClient
from dirqkit.drivers.protocol import payload
from dirqkit.drivers.ref import RefAdapter
from dirqkit.drivers.registry import DRIVERS
from dirqkit.drivers.server import Server
from dirqref import QueueNull, QueueSimple

ABSENT = "00000000/00000000000000"
TARGETS = {"produce": 1.1, "consume": 1.2}  # driver time / in-process batch time, at most


def per_op(calls: int, action: Callable[[], Any]) -> float:
    """Microseconds per call of ``action``."""
    start = time.perf_counter()
    for _ in range(calls):
        action()
    return (time.perf_counter() - start) / calls * 1e6


def round_trips(client: DriverClient, work: Path, calls: int) -> dict[str, dict[str, float]]:
    null = client.request("open", type="null")
    simple = client.request("open", type="simple", path=str(work / "rt"))
    local_null, local_simple = QueueNull(), QueueSimple(str(work / "rt-local"))
    results = {
        "count(null)": (per_op(calls, lambda: client.call("count", {"queue": null})), per_op(calls, local_null.count)),
        "lock(absent)": (per_op(calls, lambda: client.call("lock", {"queue": simple, "name": ABSENT})),
                         per_op(calls, lambda: local_simple.lock(ABSENT))),
    }
    return {op: {"driver_us": d, "in_process_us": p, "overhead_us": d - p} for op, (d, p) in results.items()}


def cpu_seconds(pids: tuple[int, ...]) -> float:
    """CPU time (user + system, every thread) the processes ``pids`` have used so far, in seconds
    (Linux: the first field of /proc/PID/task/TID/schedstat, in nanoseconds)."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def timed(action: Callable[[], Any], pids: tuple[int, ...]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds of ``pids`` and the result of ``action``."""
    gc.collect()  # no collection of the previous measurement's garbage inside this one
    cpu = cpu_seconds(pids)
    start = time.perf_counter()
    result = action()
    wall = time.perf_counter() - start
    return wall, cpu_seconds(pids) - cpu, result


class Sides:
    """The three ways of running one produce + consume of COUNT elements, each on a fresh queue
    under its own fresh directory of ``work`` (removed after, outside the timing). Each returns
    wall and CPU seconds per op; the CPU time is that of every process doing the work: the kit
    and the driver for the driver side, this process for the in-process sides."""

    def __init__(self, client: DriverClient, server: Server, work: Path, count: int, size: int, form: str) -> None:
        self.client, self.server, self.work = client, server, work
        self.count, self.size, self.form = count, size, form
        self.made = 0
        assert client.pid is not None
        self.driver_pids = (os.getpid(), client.pid)

    def fresh(self, side: str) -> Path:
        self.made += 1
        return self.work / f"{side}-{self.made}"

    def driver(self, seed: str) -> dict[str, float]:
        path = self.fresh("driver")
        handle = self.client.request("open", type="simple", path=str(path))
        produce = timed(lambda: self.client.request("produce", queue=handle, count=self.count, size=self.size,
                                                    seed=seed, history=self.form), self.driver_pids)
        consume = timed(lambda: self.client.request("consume", queue=handle, history=self.form), self.driver_pids)
        assert produce[2]["count"] == consume[2]["count"] == self.count, (produce[2]["count"], consume[2]["count"])
        assert ("history" in consume[2]) == (self.form == "events"), f"the driver did not answer in the {self.form} form"
        self.client.request("close", queue=handle)
        shutil.rmtree(path)
        return figures(produce, consume)

    def batch(self, seed: str) -> dict[str, float]:
        """The driver's own batch code (Server.op_produce/op_consume), in this process: everything but the protocol."""
        path = self.fresh("batch")
        handle = self.server.op_open({"type": "simple", "path": str(path)})
        produce = timed(lambda: self.server.op_produce({"queue": handle, "count": self.count, "size": self.size,
                                                        "seed": seed, "history": self.form}), (os.getpid(),))
        consume = timed(lambda: self.server.op_consume({"queue": handle, "history": self.form}), (os.getpid(),))
        assert produce[2]["count"] == consume[2]["count"] == self.count
        self.server.op_close({"queue": handle})
        shutil.rmtree(path)
        return figures(produce, consume)

    def bare(self, seed: str) -> dict[str, float]:
        """Plain dirqref loops on ready payloads: no digests, no history."""
        path = self.fresh("bare")
        queue = QueueSimple(str(path))
        payloads = [payload(seed, i, self.size) for i in range(self.count)]

        def consume() -> dict[str, int]:
            removed = 0
            for name in queue:
                if queue.lock(name):
                    queue.get(name)
                    queue.remove(name)
                    removed += 1
            return {"count": removed}

        produce = timed(lambda: [queue.add(data) for data in payloads], (os.getpid(),))
        consumed = timed(consume, (os.getpid(),))
        assert consumed[2]["count"] == self.count
        shutil.rmtree(path)
        return figures(produce, consumed)


def figures(produce: tuple[float, float, Any], consume: tuple[float, float, Any]) -> dict[str, float]:
    return {"produce_wall": produce[0], "produce_cpu": produce[1], "consume_wall": consume[0], "consume_cpu": consume[1]}


SIDES = ("driver", "batch", "bare")
OPS = ("produce", "consume")
MEASURES = ("cpu", "wall")


def batch_once(sides: Sides, run: int, rounds: int) -> dict[str, Any]:
    """One run: a warm-up round of the three sides (not counted), then ``rounds`` rounds, the
    order rotated each round so that no side always comes first; per side, op and measure the
    smallest figure of the rounds (the one least disturbed by other processes)."""
    kept: dict[str, list[float]] = {f"{side}_{key}": [] for side in SIDES for key in figures((0, 0, 0), (0, 0, 0))}
    for index in range(rounds + 1):
        for side in SIDES[index % 3:] + SIDES[:index % 3]:
            measured = getattr(sides, side)(f"bench-{run}-{index}")
            for key, value in measured.items():
                if index:
                    kept[f"{side}_{key}"].append(value)
    return {**{key: min(values) for key, values in kept.items()}, "rounds": kept}


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def summarize(runs: list[dict[str, Any]], count: int) -> dict[str, dict[str, Any]]:
    """Per op and measure (CPU time, the target's, and wall time): a run's ratio driver / in-process
    batch is the median of its rounds' paired ratios (the two sides of a round measured one after the
    other); beside it the ratio of the run's best rounds, and every single round's ratio."""
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0] if key != "rounds"}
    batch = {}
    for op, bound in TARGETS.items():
        row: dict[str, Any] = {"target": bound}
        for measure in MEASURES:
            key = f"{op}_{measure}"
            paired = [[d / b for d, b in zip(run["rounds"][f"driver_{key}"], run["rounds"][f"batch_{key}"])] for run in runs]
            per_run = [statistics.median(rounds) for rounds in paired]
            of_bests = [run[f"driver_{key}"] / run[f"batch_{key}"] for run in runs]
            row[measure] = {"driver_s": medians[f"driver_{key}"], "batch_s": medians[f"batch_{key}"], "bare_s": medians[f"bare_{key}"],
                            "ratio_bare": medians[f"driver_{key}"] / medians[f"bare_{key}"],
                            "ratio_batch": statistics.median(per_run), "ratio_batch_per_run": per_run,
                            "ratio_of_bests_per_run": of_bests, "ratio_batch_per_round": [r for rounds in paired for r in rounds],
                            "runs_meeting_target": sum(r <= bound for r in per_run)}
        row["driver_elements_per_s"] = count / medians[f"driver_{op}_wall"]
        batch[op] = row
    return batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--ops", type=int, default=5000, help="round trips per measurement (default 5000)")
    parser.add_argument("--count", type=int, default=5000, help="elements per batch (default 5000)")
    parser.add_argument("--size", type=int, default=256, help="payload bytes (default 256)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per batch measurement (default 5)")
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds per run, after one warm-up round (default 15)")
    parser.add_argument("--dir", type=Path, help="where to create queues (default: a temporary directory)")
    parser.add_argument("--history", choices=("compact", "events"), default="compact", help="history form (default compact)")
    parser.add_argument("--cpu", type=int, default=None, help="the CPU all sides run on (default: the first allowed; -1: any)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--save", action="store_true", help="keep the JSON report under tools/bench/results/")
    args = parser.parse_args()
    cpu = None if args.cpu == -1 else min(os.sched_getaffinity(0)) if args.cpu is None else args.cpu
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # before the driver starts: it inherits it
    started = machine()
    work = Path(tempfile.mkdtemp(prefix="bench-driver-", dir=args.dir))
    try:
        server = Server(RefAdapter)
        server.op_hello({"protocol": 1})
        with DriverClient(list(DRIVERS["ref"].command), timeout=600) as client:
            trips = round_trips(client, work, args.ops)
            sides = Sides(client, server, work, args.count, args.size, args.history)
            runs = [batch_once(sides, run, args.rounds) for run in range(args.repeat)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    batch = summarize(runs, args.count)
    report = {"round_trips": trips, "batch": batch, "runs": runs, "count": args.count, "size": args.size,
              "repeat": args.repeat, "rounds": args.rounds, "ops": args.ops, "history": args.history, "cpu": cpu}
    if args.save:
        print(f"bench_driver: saved {save('bench_driver', report, started)}", file=sys.stderr)
    if args.json:
        print(json.dumps({**report, "machine": started}, indent=2))
        return 0
    print(f"load average at start: {' '.join(map(str, started['load_average_at_start']))} ({started['cores']} cores); "
          f"{'every side on CPU ' + str(cpu) if cpu is not None else 'any CPU'}")
    print(f"round trips through the ref driver ({args.ops} calls each):")
    print("| op | driver µs/op | in-process µs/op | protocol overhead µs/op |")
    print("|---|---:|---:|---:|")
    for op, row in trips.items():
        print(f"| {op} | {row['driver_us']:.1f} | {row['in_process_us']:.1f} | {row['overhead_us']:.1f} |")
    print(f"\nbatch ops ({args.history} history), {args.count} elements of {args.size} bytes; {args.rounds} rounds a run (after a "
          f"warm-up); a run's ratio = median of its rounds' paired ratios driver / in-process batch; median of {args.repeat} runs:")
    print("| op | measure | driver s | in-process batch s | in-process bare s | ratio to bare | ratio to batch | per run | per run, of bests | single rounds | target | runs meeting it |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|---|---:|---:|")
    for op, row in batch.items():
        for measure in MEASURES:
            m = row[measure]
            per_run = " ".join(f"{r:.2f}" for r in m["ratio_batch_per_run"])
            of_bests = " ".join(f"{r:.2f}" for r in m["ratio_of_bests_per_run"])
            print(f"| {op} | {measure} | {m['driver_s']:.3f} | {m['batch_s']:.3f} | {m['bare_s']:.3f} | {m['ratio_bare']:.2f} "
                  f"| {m['ratio_batch']:.2f} | {per_run} | {of_bests} | {spread(m['ratio_batch_per_round'])} | <= {row['target']} "
                  f"| {m['runs_meeting_target']} of {args.repeat} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
