"""Extra driver processes of the stress, crash and fault steps: which ones are kept for later cases."""

from __future__ import annotations

import os
import signal

import pytest
from scenario_testutil import REF_DRIVER, needs_strace

from dirqkit.concurrency.workers import Spares, Worker, traced
from dirqkit.crash.syscalls import Tracer
from dirqkit.drivers.client import DriverClient, DriverError


@pytest.fixture
def actor(request):
    """A role's driver; its name is the test's, so that no other test shares its idle processes."""
    client = DriverClient(REF_DRIVER, name=f"ref-{request.node.name}", timeout=30.0)
    client.start()
    yield client
    client.close()


def test_a_healthy_worker_process_is_taken_again_with_no_queue_open(actor, tmp_path):
    first = Worker(actor, "w").start({"type": "simple", "path": str(tmp_path / "q")})
    first.call("add", {"data": "YQ=="})
    pid = first.pid
    first.close()
    second = Worker(actor, "w").start()
    assert second.pid == pid
    assert second.handle is None and not second.client.transcript
    second.close()


def test_a_killed_worker_process_is_never_taken_again(actor):
    first = Worker(actor, "w").start()
    pid = first.pid
    first.kill()
    first.close()
    second = Worker(actor, "w").start()
    assert second.pid != pid
    second.close()


def test_a_worker_that_timed_out_is_never_taken_again(actor):
    first = Worker(actor, "w").start()
    pid = first.pid
    os.kill(pid, signal.SIGSTOP)  # it cannot answer: the request times out whatever the machine's speed
    with pytest.raises(DriverError) as failed:
        first.call("list", timeout=0.2)
    assert failed.value.outcome == "TIMEOUT"
    first.close()
    second = Worker(actor, "w").start()
    assert second.pid != pid
    second.close()


@needs_strace
def test_a_worker_still_traced_is_never_taken_again(actor, tmp_path):
    first = Worker(actor, "w").start()
    pid = first.pid
    tracer = Tracer(pid, tmp_path / "trace.txt", None)
    assert traced(pid)
    first.close()
    tracer.finish()
    second = Worker(actor, "w").start()
    assert second.pid != pid
    second.close()


@needs_strace
def test_a_tracer_that_finished_leaves_the_process_untraced(actor, tmp_path):
    worker = Worker(actor, "w").start()
    Tracer(worker.pid, tmp_path / "trace.txt", None).finish()
    assert not traced(worker.pid)
    worker.close()


def test_spares_start_a_successor_only_when_asked_and_keep_an_unused_one(actor):
    spares = Spares(actor, "role")
    first = spares.take()  # nothing prepared: taken (or started) right away
    pid = first.pid
    first.kill()
    first.close()
    spares.prepare()  # the successor of the killed one
    successor = spares.take()
    assert successor.pid != pid
    successor.close()  # healthy: kept
    spares.prepare()
    spares.close()  # the prepared spare, unused, is kept too
    kept = Worker(actor, "w").start()
    assert kept.pid == successor.pid
    kept.close()


def test_a_kept_process_that_exited_meanwhile_is_not_taken(actor):
    first = Worker(actor, "w").start()
    pid = first.pid
    first.close()  # kept
    os.kill(pid, signal.SIGKILL)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # it is gone (not reaped: its client reaps it)
    second = Worker(actor, "w").start()
    assert second.pid != pid
    second.close()
