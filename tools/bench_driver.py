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
   Targets (ratio to batch, in every run): produce <= 1.1, consume <= 1.2.
   ``--history events`` measures the deprecated events form (PROTOCOL.md 2.3)
   instead of compact rows (2.4).

Each run measures driver, bare and batch one after the other on fresh queues
under --dir (default: a temporary directory on the working disk), so that a
run's ratios are paired; medians over REPEAT runs, and how many runs met each
target. --save keeps the JSON report, with the machine, under tools/bench/results/.

    python3 tools/bench_driver.py [--ops N] [--count N] [--size B] [--repeat R] [--dir DIR]
                                  [--history compact|events] [--json] [--save]
"""

from __future__ import annotations

import argparse
import gc
import json
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


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()  # no collection of the previous measurement's garbage inside this one
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def batch_once(client: DriverClient, server: Server, work: Path, run: int, count: int, size: int, form: str) -> dict[str, float]:
    """Seconds for produce and consume through the driver and in process, on fresh queues."""
    handle = client.request("open", type="simple", path=str(work / f"driver-{run}"))
    driver_produce, produced = timed(lambda: client.request("produce", queue=handle, count=count, size=size,
                                                            seed=f"bench-{run}", history=form))
    driver_consume, consumed = timed(lambda: client.request("consume", queue=handle, history=form))
    assert produced["count"] == consumed["count"] == count, (produced["count"], consumed["count"])
    assert ("history" in consumed) == (form == "events"), f"the driver did not answer in the {form} form"
    client.request("close", queue=handle)

    queue = QueueSimple(str(work / f"local-{run}"))
    payloads = [payload(f"bench-{run}", i, size) for i in range(count)]
    start = time.perf_counter()
    for data in payloads:
        queue.add(data)
    local_produce = time.perf_counter() - start
    start = time.perf_counter()
    removed = 0
    for name in queue:
        if queue.lock(name):
            queue.get(name)
            queue.remove(name)
            removed += 1
    local_consume = time.perf_counter() - start
    assert removed == count

    handle = server.op_open({"type": "simple", "path": str(work / f"batch-{run}")})
    batch_produce, produced = timed(lambda: server.op_produce({"queue": handle, "count": count, "size": size,
                                                               "seed": f"bench-{run}", "history": form}))
    batch_consume, consumed = timed(lambda: server.op_consume({"queue": handle, "history": form}))
    assert produced["count"] == consumed["count"] == count
    return {"driver_produce": driver_produce, "driver_consume": driver_consume,
            "bare_produce": local_produce, "bare_consume": local_consume,
            "batch_produce": batch_produce, "batch_consume": batch_consume}


def summarize(runs: list[dict[str, float]], count: int) -> dict[str, dict[str, Any]]:
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    batch = {}
    for op, bound in TARGETS.items():
        per_run = [run[f"driver_{op}"] / run[f"batch_{op}"] for run in runs]
        batch[op] = {"driver_s": medians[f"driver_{op}"], "bare_s": medians[f"bare_{op}"], "batch_s": medians[f"batch_{op}"],
                     "ratio_bare": medians[f"driver_{op}"] / medians[f"bare_{op}"],
                     "ratio_batch": statistics.median(per_run), "ratio_batch_per_run": per_run,
                     "target": bound, "runs_meeting_target": sum(r <= bound for r in per_run),
                     "driver_elements_per_s": count / medians[f"driver_{op}"]}
    return batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--ops", type=int, default=5000, help="round trips per measurement (default 5000)")
    parser.add_argument("--count", type=int, default=5000, help="elements per batch (default 5000)")
    parser.add_argument("--size", type=int, default=256, help="payload bytes (default 256)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per batch measurement (default 5)")
    parser.add_argument("--dir", type=Path, help="where to create queues (default: a temporary directory)")
    parser.add_argument("--history", choices=("compact", "events"), default="compact", help="history form (default compact)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--save", action="store_true", help="keep the JSON report under tools/bench/results/")
    args = parser.parse_args()
    started = machine()
    work = Path(tempfile.mkdtemp(prefix="bench-driver-", dir=args.dir))
    try:
        server = Server(RefAdapter)
        server.op_hello({"protocol": 1})
        with DriverClient(list(DRIVERS["ref"].command), timeout=600) as client:
            trips = round_trips(client, work, args.ops)
            runs = [batch_once(client, server, work, run, args.count, args.size, args.history) for run in range(args.repeat)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    batch = summarize(runs, args.count)
    report = {"round_trips": trips, "batch": batch, "runs": runs, "count": args.count, "size": args.size,
              "repeat": args.repeat, "ops": args.ops, "history": args.history}
    if args.save:
        print(f"bench_driver: saved {save('bench_driver', report, started)}", file=sys.stderr)
    if args.json:
        print(json.dumps({**report, "machine": started}, indent=2))
        return 0
    print(f"load average at start: {' '.join(map(str, started['load_average_at_start']))} ({started['cores']} cores)")
    print(f"round trips through the ref driver ({args.ops} calls each):")
    print("| op | driver µs/op | in-process µs/op | protocol overhead µs/op |")
    print("|---|---:|---:|---:|")
    for op, row in trips.items():
        print(f"| {op} | {row['driver_us']:.1f} | {row['in_process_us']:.1f} | {row['overhead_us']:.1f} |")
    print(f"\nbatch ops ({args.history} history), {args.count} elements of {args.size} bytes, median of {args.repeat}:")
    print("| op | driver s | in-process bare s | in-process batch s | ratio to bare | ratio to batch | per run | target | runs meeting it | driver elements/s |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for op, row in batch.items():
        per_run = " ".join(f"{r:.2f}" for r in row["ratio_batch_per_run"])
        print(f"| {op} | {row['driver_s']:.3f} | {row['bare_s']:.3f} | {row['batch_s']:.3f} | {row['ratio_bare']:.2f} "
              f"| {row['ratio_batch']:.2f} | {per_run} | <= {row['target']} | {row['runs_meeting_target']} of {args.repeat} "
              f"| {row['driver_elements_per_s']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
