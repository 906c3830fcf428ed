"""The stress step: its plan, its helpers, and whole runs that pass on dirqref and fail on a broken lock."""

from __future__ import annotations

import pytest
from scenario_testutil import REF_DRIVER, CaseRunner, mutant_driver, mutants

from dirqkit.concurrency.stress import (
    SCALE_ENV,
    Plan,
    StressError,
    _locks_and_temps,
    _without_lost_races,
    scale,
)
from dirqkit.suite.engine import CaseFailed
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
        Plan.from_step({**SPEC, "kill": {"every": 0.1}})
    assert Plan.from_step({**SPEC, "kill": {"every": 0.1}, "limit": 2}).limit == 2


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


def test_a_scenario_that_did_not_happen_fails(tmp_path):
    with CaseRunner(tmp_path) as run_case:
        impossible = STRESS.replace("at_least: {consumed: 120}", "at_least: {duplicates_after_purge: 1}")
        with pytest.raises(CaseFailed, match="did not produce what it is meant to test"):
            run_case(impossible, a=REF_DRIVER, b=REF_DRIVER)
