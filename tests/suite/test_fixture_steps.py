"""Fixture steps of cases: the tree exists before the roles open the queue, and the expansion really checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from scenario_testutil import InProcessActor
from trees_testutil import REAL

from dirqkit.suite import caseload
from dirqkit.suite.engine import CaseFailed, Engine
from dirqkit.trees import fixtures
from dirqkit.trees.manifest import FixtureError

CASES_DIR = caseload.default_cases_dir()
FIXTURE_CASES = {case.id: case for path in sorted((CASES_DIR / "fixtures").glob("*.yaml"))
                 for case in caseload.load_case_file(path, CASES_DIR)}


def run(case_id: str, tmp_path: Path) -> Engine:
    case = FIXTURE_CASES[case_id]
    engine = Engine(case, {role: InProcessActor() for role in case.roles}, tmp_path / "queue", tmp_path / "work")
    engine.execute()
    return engine


def test_every_real_fixture_has_a_read_and_a_purge_case():
    cited = {(case.id.split("-")[1], step["fixture"]) for case in FIXTURE_CASES.values() for step in case.steps if "fixture" in step}
    assert cited == {(kind, name) for kind in ("read", "purge") for name in REAL}
    assert all("CRASH-5" in case.requirements for case in FIXTURE_CASES.values())


@pytest.mark.parametrize("case_id", sorted(FIXTURE_CASES))
def test_fixture_case_passes_with_the_reference(case_id, tmp_path):
    engine = run(case_id, tmp_path)
    tree = fixtures.find(case_id.split("-", 2)[2])
    log = "\n".join(engine.run.log)
    if "-read-" in case_id:  # every element listed, each unlocked one locked, got and removed
        assert log.count(" get(") == len(tree.elements) - len(tree.locked)
        assert log.count(" remove(") == len(tree.elements) - len(tree.locked)
        assert engine.run.bindings["fixture_elements"] == sorted(e.name for e in tree.elements)
    else:
        assert " purge(" in log and "kit checks tree" in log


def test_a_wrong_payload_in_the_manifest_fails_the_read(tmp_path, monkeypatch):
    tree = fixtures.find("perl-simple-basic")
    wrong = dataclasses.replace(tree, elements=(dataclasses.replace(tree.elements[0], value=b"not what Perl wrote"), *tree.elements[1:]))
    monkeypatch.setattr(fixtures, "find", lambda name: wrong)
    with pytest.raises(CaseFailed) as failed:
        run("fixture-read-perl-simple-basic", tmp_path)
    assert failed.value.requirement == "SIMPLE-GET-1" and "get(" in failed.value.message


def test_a_lock_the_manifest_does_not_know_fails_the_read(tmp_path, monkeypatch):
    tree = fixtures.find("python-normal-basic")
    monkeypatch.setattr(fixtures, "find", lambda name: dataclasses.replace(tree, locked=()))
    with pytest.raises(CaseFailed) as failed:
        run("fixture-read-python-normal-basic", tmp_path)
    assert failed.value.requirement == "NORMAL-LOCK-1" and "expected True, got False" in failed.value.message


def test_a_leftover_the_purge_must_keep_fails_the_purge(tmp_path, monkeypatch):
    """Built young, the leftovers must stay; the case built old expects them gone: the tree check tells."""
    tree = fixtures.find("c-simple-basic")
    case = FIXTURE_CASES["fixture-purge-c-simple-basic"]
    young = dataclasses.replace(case, steps=({**case.steps[0], "age": 0},))
    engine = Engine(young, {"purger": InProcessActor()}, tmp_path / "queue", tmp_path / "work")
    engine.execute()
    assert (tmp_path / "queue" / tree.leftovers[0]).exists()
    monkeypatch.setattr(fixtures, "find", lambda name: dataclasses.replace(tree, leftovers=(), locked=()))
    with pytest.raises(CaseFailed) as failed:
        run("fixture-purge-c-simple-basic", tmp_path / "again")
    assert failed.value.requirement == "SIMPLE-PURGE-4", "the stale lock went, so the tree differs from what the manifest claims"


def test_the_case_queue_must_match_the_fixture(tmp_path):
    case = FIXTURE_CASES["fixture-read-perl-normal-basic"]
    wrong = dataclasses.replace(case, queue={"type": "normal", "schema": {"body": "string"}})
    with pytest.raises(FixtureError, match="fixture perl-normal-basic is a normal queue with schema"):
        Engine(wrong, {"consumer": InProcessActor()}, tmp_path / "queue", tmp_path / "work").execute()
    two = dataclasses.replace(case, steps=case.steps * 2)
    with pytest.raises(FixtureError, match="one fixture step per case"):
        Engine(two, {"consumer": InProcessActor()}, tmp_path / "q2", tmp_path / "w2").execute()
