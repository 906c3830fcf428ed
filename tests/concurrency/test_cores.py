"""One CPU per worker of a run, every CPU for the processes of a stress or parallel step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from scenario_testutil import REF_DRIVER, CaseRunner

from dirqkit.concurrency import cores

CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
needs_two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="needs CPU affinity (Linux) and two CPUs")
CONFORMANCE = str(Path(cores.__file__).resolve().parents[2])

# A pinned worker in a process of its own (this test process keeps its CPUs): it starts a child with
# a second thread, then spreads it, narrows it, and spreads it again once it is gone.
PINNED_WORKER = textwrap.dedent("""
    import json, os, subprocess, sys
    from dirqkit.concurrency import cores

    def threads(pid):
        return [sorted(os.sched_getaffinity(int(tid))) for tid in sorted(os.listdir(f"/proc/{pid}/task"))]

    cpu = cores.pin(int(sys.argv[1]))
    child = subprocess.Popen([sys.executable, "-c", "import sys, threading, time; "
                              "threading.Thread(target=time.sleep, args=(30,), daemon=True).start(); "
                              "print(flush=True); time.sleep(30)"], stdout=subprocess.PIPE)
    child.stdout.readline()  # its second thread runs
    seen = {"started": threads(child.pid)}
    cores.spread([child.pid])
    seen["spread"] = threads(child.pid)
    cores.narrow([child.pid])
    seen["narrowed"] = threads(child.pid)
    child.kill()
    child.wait()
    cores.spread([child.pid])  # gone: nothing to do, nothing raised
    print(json.dumps({"cpu": cpu, "self": sorted(os.sched_getaffinity(0)), **seen}))
""")


@needs_two_cpus
@pytest.mark.parametrize("worker", [0, 1, 2])
def test_a_pinned_worker_and_what_it_starts_share_one_cpu_until_a_step_spreads_them(worker):
    done = subprocess.run([sys.executable, "-c", PINNED_WORKER, str(worker)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": CONFORMANCE}, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    mine = [CPUS[worker % len(CPUS)]]  # round robin over the CPUs the run was given
    assert seen["cpu"] == mine[0] and seen["self"] == mine
    assert seen["started"] == [mine, mine]  # both threads of the child
    assert seen["spread"] == [CPUS, CPUS]
    assert seen["narrowed"] == [mine, mine]


STEPS = """
cases:
  - id: t-side-by-side
    title: a stress step and a parallel step
    requirements: [CONC-3]
    queue: {type: simple}
    roles: {a: producer, b: consumer}
    steps:
      - stress: {producers: [a, b], consumers: [a, b], elements: 40, batch: 10, at_least: {consumed: 40}}
      - parallel:
          - {role: a, op: add, args: {data: "YQ=="}}
          - {role: b, op: count}
"""


def test_stress_and_parallel_steps_spread_their_processes_and_narrow_them_after(tmp_path, monkeypatch):
    calls: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(cores, "spread", lambda pids: calls.append(("spread", list(pids))))
    monkeypatch.setattr(cores, "narrow", lambda pids: calls.append(("narrow", list(pids))))
    with CaseRunner(tmp_path) as run_case:
        run_case(STEPS, a=REF_DRIVER, b=REF_DRIVER)
    spread = [pid for kind, pids in calls if kind == "spread" for pid in pids]
    narrowed = [pid for kind, pids in calls if kind == "narrow" for pid in pids]
    assert len(set(spread)) >= 6  # four stress workers (two producers, two consumers) and the two roles
    assert sorted(spread) == sorted(narrowed)
    assert calls[-1][0] == "narrow"  # nothing is left spread after the case
