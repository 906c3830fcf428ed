"""The stress step: its plan, its helpers, and whole runs that pass on dirqref and fail on a broken lock."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading

import pytest
import yaml
from scenario_testutil import REF_DRIVER, CaseRunner, mutant_driver, mutants

from dirqkit.concurrency.stress import (
    SCALE_ENV,
    Killer,
    Plan,
    Stress,
    StressError,
    _locks_and_temps,
    _without_lost_races,
    scale,
)
from dirqkit.resources import cases_dir
from dirqkit.suite.engine import CaseFailed, CaseInconclusive
from dirqref import QueueNormal, QueueSimple

SPEC = {"producers": ["a", "b"], "consumers": ["a"], "elements": 10}


def test_the_scale_variable_multiplies_elements(monkeypatch):
    monkeypatch.setenv(SCALE_ENV, "2.5")
    assert Plan.from_step(SPEC).elements == 25
    monkeypatch.delenv(SCALE_ENV)
    assert Plan.from_step(SPEC).elements == 10


@pytest.mark.parametrize("value", ["x", "0", "-1"])
def test_a_bad_scale_is_refused_with_its_name(monkeypatch, value):
    monkeypatch.setenv(SCALE_ENV, value)
    with pytest.raises(StressError, match=SCALE_ENV):
        scale()


def test_killing_consumers_needs_a_consume_limit():
    with pytest.raises(StressError, match="limit"):
        Plan.from_step({**SPEC, "kill": {"every": 3}})
    assert Plan.from_step({**SPEC, "kill": {"every": 3}, "limit": 2}).limit == 2


def test_a_stall_needs_a_purger_to_release_it():
    with pytest.raises(StressError, match="purger"):
        Plan.from_step({**SPEC, "stall": {"seconds": 60}})


def test_kills_are_scheduled_by_batch_number_and_seed_alone():
    def schedule(seed):
        killer = Killer(5, seed)
        return [(batch, how) for batch in range(1, 200) if (how := killer.due(batch))]

    first = schedule(7)
    assert first == schedule(7) and first != schedule(8)
    assert 20 <= len(first) <= 80 and first[0][0] <= 5  # every 5 batches on average, the first within 5
    assert {how for _, how in first} == {"holding", "in-flight"}
    assert all(a != b for (_, a), (_, b) in itertools.pairwise(first))  # the ways alternate: two kills make both


def test_only_permissive_locks_that_returned_false_are_dropped():
    lost = [{"type": "invoke", "op": "lock", "name": "n", "time": 1}, {"type": "fail", "op": "lock", "name": "n", "time": 2}]
    taken = [{"type": "invoke", "op": "lock", "name": "m", "time": 3}, {"type": "ok", "op": "lock", "name": "m", "time": 4}]
    failed = [{"type": "invoke", "op": "lock", "name": "k", "time": 5},
              {"type": "fail", "op": "lock", "name": "k", "error": {"kind": "io", "message": "x"}, "time": 6}]
    assert _without_lost_races(lost + taken + failed) == taken + failed


def test_ageing_finds_simple_locks_and_temps(tmp_path):
    queue = QueueSimple(str(tmp_path))
    name = queue.add(b"x")
    queue.add(b"y")
    queue.lock(name)
    (tmp_path / name.split("/")[0] / "0123456789abcd.tmp").write_bytes(b"")
    assert _locks_and_temps(tmp_path, "simple", temps=False) == [str(tmp_path / f"{name}.lck")]
    assert len(_locks_and_temps(tmp_path, "simple", temps=True)) == 2


def test_ageing_finds_normal_locked_elements_and_temps(tmp_path):
    queue = QueueNormal(str(tmp_path), {"body": "string"})
    name = queue.add({"body": "x"})
    queue.add({"body": "y"})
    queue.lock(name)
    (tmp_path / "temporary" / "0123456789abcd").mkdir()
    assert _locks_and_temps(tmp_path, "normal", temps=False) == [str(tmp_path / name)]
    assert sorted(_locks_and_temps(tmp_path, "normal", temps=True)) == sorted([str(tmp_path / name), str(tmp_path / "temporary" / "0123456789abcd")])


STRESS = """
cases:
  - id: t-stress
    title: two producers and two consumers
    requirements: [CONC-3]
    queue: {type: simple}
    roles: {a: producer, b: consumer}
    steps:
      - stress: {producers: [a, b], consumers: [a, b], elements: 120, batch: 30, at_least: {consumed: 120}}
"""


def test_the_reference_moves_every_element_exactly_once(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        run = run_case(STRESS, a=REF_DRIVER, b=REF_DRIVER)
        assert any(line.startswith("kit stress") and '"consumed": 120' in line for line in run.log)


def test_a_lock_that_ignores_another_holder_is_caught(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        broken = next(m for m in mutants.MUTANTS if m.name == "lock-ignores-eexist")
        driver = mutant_driver(tmp_path, broken.name, broken.file, broken.old, broken.new)
        holding = STRESS.replace("elements: 120,", "elements: 60, hold: 0.01,").replace("consumed: 120", "consumed: 60")
        with pytest.raises(CaseFailed) as failed:  # each holds every element 10 ms: the other one will try it meanwhile
            run_case(holding, a=driver, b=driver)
        assert failed.value.requirement in ("CONC-2", "CONC-3")


def test_a_figure_the_implementations_did_not_make_fails(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        impossible = STRESS.replace("at_least: {consumed: 120}", "at_least: {consumed: 121}")
        with pytest.raises(CaseFailed, match="did not produce what it is meant to test"):
            run_case(impossible, a=REF_DRIVER, b=REF_DRIVER)


def test_a_figure_the_kit_could_not_make_is_inconclusive_after_its_rounds(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        no_purger = STRESS.replace("at_least: {consumed: 120}", "at_least: {duplicates_after_purge: 1}")
        with pytest.raises(CaseInconclusive, match="in 3 rounds"):
            run_case(no_purger, a=REF_DRIVER, b=REF_DRIVER)


KILL = STRESS.replace("elements: 120, batch: 30, at_least: {consumed: 120}",
                      "elements: 6, batch: 2, limit: 2, purger: {role: a, every: 1}, kill: {every: 50, seed: 3}, "
                      "at_least: {adds_acknowledged: 6, consumers_killed: 2}")


def test_kills_are_made_whatever_the_speed_extending_the_stress_if_needed(tmp_path):
    # 6 elements, 2 per batch, a kill every 50 batches: the first round may well end before any
    # kill; the extra rounds kill at their first batch, so two kills are made in any case.
    with CaseRunner(tmp_path) as run_case:
        run = run_case(KILL, a=REF_DRIVER, b=REF_DRIVER)
    figures = json.loads(next(line for line in run.log if line.startswith("kit stress")).split(": ", 1)[1])
    assert figures["consumers_killed"] >= 2 and "lost" not in figures


def _shipped_case(case_id: str) -> str:
    """One case of the kit's concurrency cases, as the text of a file of its own."""
    cases = yaml.safe_load((cases_dir() / "concurrency" / "stress.yaml").read_text(encoding="utf-8"))["cases"]
    return yaml.safe_dump({"cases": [next(case for case in cases if case["id"] == case_id)]}, sort_keys=False)


def test_the_kill_case_at_its_volume_catches_a_purge_that_releases_fresh_locks(tmp_path):
    # conc-simple-kill-consumers moves 200 elements: enough purges race consumers holding locks
    # that a purge ignoring the lock's age takes an element from a live holder.
    with CaseRunner(tmp_path) as run_case:
        driver = mutant_driver(tmp_path, "purge-ignores-lock-age", "simple.py",
                               "if stat.S_ISDIR(info.st_mode) or info.st_mtime_ns >= limit:",
                               "if stat.S_ISDIR(info.st_mode) or suffix == TEMPORARY_SUFFIX and info.st_mtime_ns >= limit:")
        with pytest.raises(CaseFailed) as failed:
            run_case(_shipped_case("conc-simple-kill-consumers"), a=driver, b=driver)
        assert failed.value.requirement in ("CONC-2", "CONC-3")


STALL = STRESS.replace("elements: 120, batch: 30, at_least: {consumed: 120}",
                       "elements: 20, batch: 10, limit: 3, purger: {role: b, every: 1, maxlock: 30}, stall: {seconds: 60}, "
                       "at_least: {duplicates_after_purge: 1}")


def test_a_stalled_lock_is_released_and_delivered_again_by_construction(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        run = run_case(STALL, a=REF_DRIVER, b=REF_DRIVER)
    figures = json.loads(next(line for line in run.log if line.startswith("kit stress")).split(": ", 1)[1])
    assert figures["stalls"] == 1 and figures["rounds"] == 1 and figures["duplicates_after_purge"] >= 1


def test_a_purge_that_keeps_a_stale_lock_fails_the_stall(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        driver = mutant_driver(tmp_path, "purge-keeps-stale-locks", "simple.py",
                               "limit = temp_limit if suffix == TEMPORARY_SUFFIX else lock_limit if suffix == LOCKED_SUFFIX else None",
                               "limit = temp_limit if suffix == TEMPORARY_SUFFIX else None")
        with pytest.raises(CaseFailed) as failed:
            run_case(STALL, a=REF_DRIVER, b=driver)
        assert failed.value.requirement == "SIMPLE-PURGE-3"


def test_a_consumer_that_relocks_the_released_stalled_lock_is_not_a_purge_that_kept_it(tmp_path, monkeypatch):
    # The interleaving seen once in 30 runs: the stall's purge unlinks the aged lock, another consumer
    # links E.lck again at once (the same inode, so the same aged time until it sets the time), and the
    # kit then reads the lock. Forced here by a consumer that links as soon as the kit lets consumers run:
    # at once if they already run when the purge returns. Its lock is stale, so the case's purger releases it.
    real_purge = Stress.purge
    batches_when_purged = []

    def purge_then_relock(self, call, history):
        done = real_purge(self, call, history)
        if not any(label.startswith("stall-purger") and events is history for label, events in self.histories.items()):
            return done
        stalled = next(events for label, events in self.histories.items() if label.startswith("stalled"))
        name = next(event["name"] for event in stalled if event["op"] == "lock" and event["type"] == "ok")
        batches_when_purged.append(self.progress.batches)

        def relock():
            self.may_consume.wait()
            with contextlib.suppress(FileExistsError, FileNotFoundError):  # a real consumer was first
                os.link(self.top / name, self.lock_entry(name))

        if self.may_consume.is_set():
            relock()
        else:
            threading.Thread(target=relock, daemon=True).start()
        return done

    monkeypatch.setattr(Stress, "purge", purge_then_relock)
    with CaseRunner(tmp_path) as run_case:
        run = run_case(STALL, a=REF_DRIVER, b=REF_DRIVER)
    figures = json.loads(next(line for line in run.log if line.startswith("kit stress")).split(": ", 1)[1])
    assert figures["stalls"] == 1 and figures["duplicates_after_purge"] >= 1
    assert batches_when_purged == [0]  # no consume batch, hence no purge or ageing of the case's, ran meanwhile
