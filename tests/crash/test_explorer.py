"""The crash and fault explorer: its parts, and whole runs that must pass on dirqref and fail on broken copies."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from scenario_testutil import REF_DRIVER, CaseRunner, mutant_driver, needs_strace

from dirqkit.crash import syscalls
from dirqkit.concurrency.scene import ScenarioSkipped
from dirqkit.crash import explorer
from dirqkit.crash.syscalls import HELD, Syscall, Tracer, nth_of, parse_trace
from dirqkit.drivers.client import DriverClient
from dirqkit.suite.engine import CaseFailed
from dirqkit.trees.queuetree import backdate, read_tree
from dirqref import QueueNormal, QueueSimple

TRACE = """\
4242  openat(AT_FDCWD</w>, "/w/crash/s0001/queue/6b0b6d00/6b0b6d0a000001.tmp", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666) = 4</w/crash/s0001/queue/6b0b6d00/6b0b6d0a000001.tmp>
4242  write(4</w/crash/s0001/queue/6b0b6d00/6b0b6d0a000001.tmp>, "abc", 3) = -1 ENOSPC (No space left on device) (INJECTED)
[pid  4243] openat(AT_FDCWD</w>, "/w/crash/s0001/queue", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 5</w/crash/s0001/queue>
4242  link("/w/crash/s0001/queue/6b0b6d00/6b0b6d0a000001.tmp", "/w/crash/s0001/queue/6b0b6d00/6b0b6d0a000002") = ?
4242  +++ killed by SIGKILL +++
"""


def test_strace_output_is_parsed_with_results_and_classes():
    calls = parse_trace(TRACE)
    assert [c.name for c in calls] == ["openat", "write", "openat", "link"]
    assert [c.klass for c in calls] == ["open", "write", "list", "link"]
    assert calls[1].failed and not calls[0].failed
    assert calls[3].result == "?"
    assert calls[1].descriptor_path == "/w/crash/s0001/queue/6b0b6d00/6b0b6d0a000001.tmp"
    assert calls[3].paths == ["/w/crash/s0001/queue/6b0b6d00/6b0b6d0a000001.tmp", "/w/crash/s0001/queue/6b0b6d00/6b0b6d0a000002"]
    assert parse_trace('7  write(2<pipe:[9]>, "removing /w/x", 13) = 13')[0].descriptor_path is None


SPLIT_TRACE = """\
1065  openat(AT_FDCWD</w>, "/w/q/6b124a74/6b124aa760b3c1.tmp", O_WRONLY|O_CREAT|O_EXCL, 0666) = 9</w/q/6b124a74/6b124aa760b3c1.tmp>
1096  openat(AT_FDCWD</w>, "/sys/fs/cgroup/memory.stat", O_RDONLY <unfinished ...>
1065  openat(AT_FDCWD</w>, "/w/q/6b124a74/6b124aa760b3c1.tmp", O_WRONLY|O_CREAT|O_TRUNC, 0666 <unfinished ...>
1096  <... openat resumed>)             = 7</sys/fs/cgroup/memory.stat>
1065  <... openat resumed>)             = 8</w/q/6b124a74/6b124aa760b3c1.tmp>
1065  link("/w/q/6b124a74/6b124aa760b3c1.tmp", "/w/q/6b124a74/6b124aa763bbf1" <unfinished ...>
1096  +++ killed by SIGKILL +++
1065  +++ killed by SIGKILL +++
"""


def test_calls_split_by_other_threads_are_joined_in_entry_order():
    calls = parse_trace(SPLIT_TRACE)
    assert [(c.thread, c.name, c.result.split("<")[0]) for c in calls] == [
        ("1065", "openat", "9"), ("1096", "openat", "7"), ("1065", "openat", "8"), ("1065", "link", "?")]
    assert calls[2].args.endswith("O_WRONLY|O_CREAT|O_TRUNC, 0666") and calls[2].klass == "open"
    assert calls[3].paths == ["/w/q/6b124a74/6b124aa760b3c1.tmp", "/w/q/6b124a74/6b124aa763bbf1"]


def test_nth_counts_like_strace_per_thread():
    calls = parse_trace(SPLIT_TRACE)
    assert [nth_of(calls, i) for i in range(len(calls))] == [1, 1, 2, 1]  # the helper thread's openat is not counted


def test_read_tree_sorts_elements_temps_locks_and_orphans(tmp_path):
    queue = QueueSimple(str(tmp_path / "q"))
    first, second = queue.add(b"one"), queue.add(b"two")
    queue.lock(second)
    directory = first.split("/")[0]
    (tmp_path / "q" / directory / "0123456789abcd.tmp").write_bytes(b"half")
    (tmp_path / "q" / directory / "0123456789abce.lck").write_bytes(b"orphan")
    tree = read_tree(tmp_path / "q", "simple", None)
    assert sorted(tree.elements) == sorted([first, second])
    assert tree.temps == [f"{directory}/0123456789abcd.tmp"]
    assert list(tree.locks) == [second]
    assert tree.orphans == [f"{directory}/0123456789abce"]


def test_read_tree_of_a_normal_queue_reads_the_payload_field(tmp_path):
    queue = QueueNormal(str(tmp_path / "q"), {"body": "string"})
    name = queue.add({"body": "x"})
    queue.lock(name)
    (tmp_path / "q" / "temporary" / "0123456789abcd").mkdir()
    tree = read_tree(tmp_path / "q", "normal", "body")
    assert tree.elements == {name: "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}
    assert list(tree.locks) == [name] and tree.temps == ["temporary/0123456789abcd"]


def test_backdate_sets_or_shifts_every_mtime(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"")
    backdate(tmp_path, 7200)
    assert abs(os.lstat(tmp_path / "d" / "f").st_mtime - (time.time() - 7200)) < 5
    backdate(tmp_path, 100, shift=True)
    assert abs(os.lstat(tmp_path / "d").st_mtime - (time.time() - 7300)) < 5


def test_a_syscall_knows_it_failed():
    assert Syscall("unlink", '"/x"', "-1 ENOENT (No such file or directory)").failed


CRASH_ADD = """
cases:
  - id: t-crash-add
    title: crash points of a Simple add and remove
    requirements: [CRASH-1]
    queue: {type: simple}
    roles: {a: producer, b: consumer}
    steps:
      - crash:
          ops:
            - {role: a, op: add}
            - {role: b, op: lock, explore: false}
            - {role: a, op: remove}
"""


def figures(run) -> dict:
    line = next(line for line in run.log if line.startswith(("kit crash", "kit fault")))
    return json.loads(line.split(": ", 1)[1])


@needs_strace
def test_the_reference_survives_every_crash_point_of_add_and_remove(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        run = run_case(CRASH_ADD, a=REF_DRIVER, b=REF_DRIVER)
        found = figures(run)
        # add: create temp (ENOENT), mkdir, create temp, write, link, unlink, completed; remove: 2 unlinks, completed
        assert found["states"] == {"a=impl-a add": 7, "a=impl-a remove": 3}
        assert not [note for note in found["notes"] if "meant" in note]  # every state was held in the call it meant
        assert found["violations"] == 0


@needs_strace
def test_an_add_that_writes_its_temp_under_an_element_name_is_caught(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        broken = mutant_driver(tmp_path, "temp-is-an-element", "simple.py",
                               'temp = f"{dir_path}/{self._new_name()}{TEMPORARY_SUFFIX}"',
                               'temp = f"{dir_path}/{self._new_name()}"')
        with pytest.raises(CaseFailed) as failed:
            run_case(CRASH_ADD, a=broken, b=REF_DRIVER)
        assert failed.value.requirement in ("CRASH-1", "CRASH-2")
        assert re.search(r"partial or unknown element visible|elements hold the added payload", failed.value.message)


FAULT_ADD = """
cases:
  - id: t-fault-add
    title: faults in a Simple add
    requirements: [SIMPLE-ADD-3]
    queue: {type: simple}
    roles: {a: producer, b: consumer}
    steps:
      - fault:
          requirement: {write: SIMPLE-ADD-3, link: SIMPLE-ADD-4}
          ops: [{role: a, op: add}]
          inject: [write, link]
          errors: [ENOSPC, EIO]
          cleanup: true
"""


@needs_strace
def test_the_reference_reports_every_injected_fault_and_cleans_up(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        found = figures(run_case(FAULT_ADD, a=REF_DRIVER, b=REF_DRIVER))
        assert found["states"] == {"a=impl-a add": 4}  # (write, link) x (ENOSPC, EIO)
        assert found["violations"] == 0


class RecordedTracer(Tracer):
    """A Tracer that notes which driver process it traced and what it injected."""

    traced: list[tuple[int, str | None]] = []

    def __init__(self, pid, output, inject, traced=syscalls.TRACED):
        RecordedTracer.traced.append((pid, inject))
        super().__init__(pid, output, inject, traced)


@pytest.fixture
def recorded(monkeypatch):
    monkeypatch.setattr(explorer, "Tracer", RecordedTracer)
    RecordedTracer.traced = []
    return RecordedTracer.traced


@needs_strace
def test_a_driver_process_of_a_fault_step_plays_the_next_case_too(tmp_path, recorded, monkeypatch):
    started = []
    start = DriverClient.start
    monkeypatch.setattr(DriverClient, "start", lambda client: started.append(client) or start(client))
    with CaseRunner(tmp_path) as run_case:
        run_case(FAULT_ADD, a=REF_DRIVER, b=REF_DRIVER)
        first, started_first = {pid for pid, _ in recorded}, len(started)
        del recorded[:]
        run_case(FAULT_ADD, a=REF_DRIVER, b=REF_DRIVER)
        second = {pid for pid, _ in recorded}
    assert len(first) == 1 and second == first  # every state of both cases traced the same process
    assert len(started) - started_first == 2  # the second case started only the two probes of its implementations


CRASH_TWO_ROLES = CRASH_ADD.replace("{role: b, op: lock, explore: false}", "{role: b, op: lock}")


@needs_strace
def test_a_crash_exploration_keeps_one_driver_process_per_role(tmp_path, recorded, monkeypatch):
    started = []
    start = DriverClient.start
    monkeypatch.setattr(DriverClient, "start", lambda client: started.append(client) or start(client))
    with CaseRunner(tmp_path) as run_case:
        found = figures(run_case(CRASH_TWO_ROLES, a=REF_DRIVER, b=REF_DRIVER))
    held = [pid for pid, inject in recorded if inject]
    assert found["states"]["b=impl-b lock"] > 1 and len(held) == sum(found["states"].values()) - 3  # all but the completed ops
    assert len({pid for pid, _ in recorded}) == 2  # every state of a's ops traced one process, every state of b's another
    assert len(started) <= 4  # the roles' own two, and at most one of its own for each role's traced ops (or a kept one)


@needs_strace
def test_an_add_that_ignores_a_failed_write_is_caught(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        broken = mutant_driver(tmp_path, "write-errors-ignored", "simple.py",
                               "                write_all(fd, data)  # SIMPLE-ADD-3",
                               "                try:\n                    write_all(fd, data)\n"
                               "                except OSError:\n                    pass")
        with pytest.raises(CaseFailed) as failed:
            run_case(FAULT_ADD, a=broken, b=REF_DRIVER)
        assert failed.value.requirement == "SIMPLE-ADD-3"
        assert "succeeded" in failed.value.message and "CONC-1" in failed.value.message  # an empty element was published


@needs_strace
def test_a_held_call_is_seen_by_progress_and_released_at_once(tmp_path):
    """The race's hold: strace shows the n-th call entered and not left; detaching lets it go on."""
    script = ("import os, sys\nprint(os.getpid(), flush=True)\nsys.stdin.readline()\n"
              f"os.mkdir({str(tmp_path / 'd1')!r})\nos.mkdir({str(tmp_path / 'd2')!r})\nprint('done', flush=True)\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    try:
        tracer = Tracer(int(child.stdout.readline()), tmp_path / "trace.txt", "mkdir:delay_enter=60000000:when=2",
                        ("mkdir", "mkdirat"))
        assert tracer.held("mkdir", 2) is None  # not there yet
        child.stdin.write("go\n")
        child.stdin.flush()
        held = None
        while held is None and child.poll() is None:
            held = tracer.held("mkdir", 2)
        assert held is not None and held.paths == [str(tmp_path / "d2")]
        assert (tmp_path / "d1").is_dir() and not (tmp_path / "d2").exists()  # held on entry
        assert tracer.held("mkdir", 1) is None  # the first one has its result
        tracer.release()
        assert child.stdout.readline() == "done\n"  # went on at once: no 60 s wait
        calls = tracer.finish()
        assert [c.result for c in calls if c.paths == [str(tmp_path / "d2")]] == [HELD]
    finally:
        child.kill()
        child.wait()


RACE_REMOVE = """
cases:
  - id: t-race-remove
    title: a purger unlinks the lock between the two unlinks of a remove
    requirements: [SIMPLE-REMOVE-3]
    queue: {type: simple}
    roles: {a: producer, b: consumer}
    steps:
      - fault:
          requirement: SIMPLE-REMOVE-3
          ops:
            - {role: a, op: add, explore: false}
            - {role: b, op: lock, explore: false}
            - {role: b, op: remove}
          inject: [unlink]
          match: '\\.lck"'
          race: [{unlink: "{held}"}]
          expect: ok
"""


@needs_strace
def test_a_remove_that_does_not_tolerate_the_race_is_caught(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        assert figures(run_case(RACE_REMOVE, a=REF_DRIVER, b=REF_DRIVER))["violations"] == 0
        broken = mutant_driver(tmp_path, "lock-unlink-enoent-fails", "simple.py",
                               "        except FileNotFoundError:\n            pass  # RACE: a purger removed the orphan lock already (CRASH-4)",
                               "        except FileNotFoundError:\n            raise")
        with pytest.raises(CaseFailed) as failed:
            run_case(RACE_REMOVE, a=REF_DRIVER, b=broken)
        assert failed.value.requirement == "SIMPLE-REMOVE-3"
        assert "must be tolerated as a race" in failed.value.message


@needs_strace
def test_a_fault_step_that_finds_nothing_to_inject_into_fails(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        nothing = RACE_REMOVE.replace("\\.lck", "no such path").replace('race: [{unlink: "{held}"}]', "errors: [EIO]")
        assert "errors: [EIO]" in nothing
        with pytest.raises(CaseFailed, match="makes a syscall to inject into"):
            run_case(nothing, a=REF_DRIVER, b=REF_DRIVER)


@needs_strace
def test_a_race_whose_call_an_implementation_never_makes_is_skipped_with_the_reason(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        nothing = RACE_REMOVE.replace("\\.lck", "no such path")
        assert nothing != RACE_REMOVE
        with pytest.raises(ScenarioSkipped, match="cannot be forced here.*no such path"):
            run_case(nothing, a=REF_DRIVER, b=REF_DRIVER)


def test_tracing_probe_gives_the_reason_it_cannot_trace(monkeypatch):
    """Crash and fault cases are skipped, with this reason, where strace is missing or may not attach."""
    probe = syscalls.tracing_unavailable.__wrapped__
    monkeypatch.setattr(syscalls.shutil, "which", lambda name: None)
    assert probe() == "strace is not installed (Debian package strace)"
    monkeypatch.undo()

    def refused(*args, **kwargs):
        raise syscalls.TraceError("strace did not attach to 1: attach: ptrace(PTRACE_SEIZE, 1): Operation not permitted")

    monkeypatch.setattr(syscalls.shutil, "which", lambda name: "/usr/bin/strace")
    monkeypatch.setattr(syscalls, "Tracer", refused)
    assert "Operation not permitted" in probe() and "ptrace_scope=0" in probe()


def test_a_missed_set_up_is_tried_again_then_is_unproducible():
    """Crash, fault and syscall steps share this: the kit's own miss is retried, then INCONCLUSIVE, never FAIL."""
    from types import SimpleNamespace

    from dirqkit.crash.explorer import ATTEMPTS, Explorer, Missed, Unproducible

    stub = SimpleNamespace(actions=["add"], label=lambda action: "a=ref add")
    calls: list[int] = []

    def late() -> str:
        calls.append(1)
        if len(calls) < ATTEMPTS:
            raise Missed("strace did not attach")
        return "ran"

    assert Explorer.with_retries(stub, 0, late) == "ran" and len(calls) == ATTEMPTS
    calls.clear()

    def never() -> str:
        calls.append(1)
        raise Missed("the held call was not reached")

    with pytest.raises(Unproducible, match=f"a=ref add: {ATTEMPTS} tries missed their set-up"):
        Explorer.with_retries(stub, 0, never)
    assert len(calls) == ATTEMPTS


RACE_PLANTED_TEMP = """
cases:
  - id: t-race-planted-temp
    title: an add whose temp name another producer's file takes while it is held picks another name
    requirements: [SIMPLE-ADD-1]
    queue: {type: simple}
    roles: {a: producer, b: consumer}
    steps:
      - fault:
          requirement: SIMPLE-ADD-1
          ops: [{role: a, op: add}]
          inject: [open]
          match: '\\.tmp"'
          race: [{write: "{held}"}]
          expect: ok
"""


@needs_strace
def test_a_racing_write_plants_another_writers_file_the_add_must_leave_alone(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        found = figures(run_case(RACE_PLANTED_TEMP, a=REF_DRIVER, b=REF_DRIVER))
        assert found["states"] == {"a=impl-a add": 2} and found["violations"] == 0  # the open before mkdir (ENOENT) too
        broken = mutant_driver(tmp_path, "temp-truncated", "fsops.py",
                               "CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC",
                               "CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC")
        with pytest.raises(CaseFailed) as failed:
            run_case(RACE_PLANTED_TEMP, a=broken, b=REF_DRIVER)
        assert failed.value.violated[0] == "SIMPLE-ADD-1"
        assert "another writer's file" in failed.value.message
