"""The CPUs a run's processes may use: one per worker, all of them for steps that run processes side by side.

A worker of ``dirqkit run`` and its drivers mostly hand requests to each
other through pipes, one waiting while the other works. Handed over on one
CPU, a request costs less than across two (no cross-CPU wake-up, warm
caches): :func:`pin` puts an xdist worker, and every driver it starts later,
on one CPU of those the run was given, worker N on the N-th (round robin).
The full four-implementation matrix took about a fifth less wall time so
(tools/bench/results/README.md).

Steps whose verdict needs processes that really run at the same time (a
stress step's drivers, a parallel step's roles) :func:`spread` those
processes over every CPU of the run for the step and :func:`narrow` them back
after, so that the races they look for happen as they would unpinned. Only a
pinned worker narrows or spreads anything: elsewhere (``--jobs 0``,
``--no-pin``, a system without CPU affinity) these functions do nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

_ALL: frozenset[int] = frozenset()  # the CPUs the run was given (set by pin)
_PINNED: frozenset[int] = frozenset()  # this worker's CPU


def pin(worker: int) -> int | None:
    """Put the calling thread, and the processes it starts from now on, on one CPU: worker's share.
    Returns that CPU (None: affinity is not supported here, or there is only one CPU)."""
    global _ALL, _PINNED
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    cpu = cpus[worker % len(cpus)]
    os.sched_setaffinity(0, {cpu})
    _ALL, _PINNED = frozenset(cpus), frozenset({cpu})
    return cpu


def spread(pids: Iterable[int]) -> None:
    """Let every thread of the processes ``pids`` run on any CPU of the run."""
    _set(pids, _ALL)


def narrow(pids: Iterable[int]) -> None:
    """Put every thread of the processes ``pids`` back on this worker's CPU."""
    _set(pids, _PINNED)


def _set(pids: Iterable[int], cpus: frozenset[int]) -> None:
    if not _PINNED:
        return
    for pid in pids:
        try:
            threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            threads = [pid]  # no /proc: the main thread, which a single-threaded driver is
        for tid in threads:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:
                pass  # RACE: the process (a consumer the kit killed) or the thread exited meanwhile
