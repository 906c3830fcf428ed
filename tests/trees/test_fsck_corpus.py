"""dirqkit fsck on the fixture corpus: every corrupt tree yields exactly its findings, real trees none but their leftovers."""

from __future__ import annotations

import pytest
from trees_testutil import CORRUPT, REAL, build, check, pairs, settings_for

from dirqkit.trees import fixtures
from dirqref import QueueNormal, QueueSimple

MAXTEMP, MAXLOCK = 300, 600  # COMMON-8 defaults, which fsck also uses

# What the issue asks the corrupt corpus to cover, by the requirement fsck cites.
DEFECTS = {
    "stray files": "COMMON-2",
    "malformed names": "NAME-8",
    "malformed intermediate directory names": "DIR-1",
    ".lck without its element": "CRASH-4",
    "stale .tmp": "SIMPLE-PURGE-2",
    "stale lock": "SIMPLE-PURGE-3",
    "Normal element missing a mandatory file": "NORMAL-GET-2",
    "table file that does not parse": "TABLE-5",
    "symlinks": "SEC-1",
    "names that escape the queue": "SEC-2",
    "permissions that contradict the umask": "COMMON-3",
}


def test_corpus_covers_every_defect():
    cited = {finding.id for name in CORRUPT for finding in fixtures.find(name).findings}
    assert {rule for rule in DEFECTS.values()} <= cited
    assert any(f.path.startswith("obsolete/") for name in CORRUPT for f in fixtures.find(name).findings), "locked/ left in obsolete/"


@pytest.mark.parametrize("name", CORRUPT)
def test_corrupt_tree_yields_exactly_its_findings(name, tmp_path):
    tree = fixtures.find(name)
    assert tree.findings, "a corrupt fixture names at least one finding"
    found = check(build(tree, tmp_path / "q"), settings_for(tree))
    assert pairs(found) == {(f.id, f.path) for f in tree.findings}
    assert len(found) == len(tree.findings), "one finding per defect, no duplicates"
    assert all(f.message and f.repaired is None for f in found)


@pytest.mark.parametrize("name", CORRUPT)
def test_corrupt_tree_elements_are_what_a_consumer_sees(name, tmp_path):
    """The manifests' `elements` are checked against dirqref, so the corpus says what it shows."""
    tree = fixtures.find(name)
    top = build(tree, tmp_path / "q")
    options = {k: v for k, v in tree.options.items() if k == "umask"}
    queue = QueueSimple(str(top), **options) if tree.queue_type == "simple" else QueueNormal(str(top), tree.schema, **options)
    assert list(queue) == sorted(e.name for e in tree.elements)
    for element in tree.elements:
        unlocked = element.name not in tree.locked
        assert queue.lock(element.name) is unlocked
        if unlocked and element.value is not None:  # get needs our own lock (CONC-4)
            assert queue.get(element.name) == element.value


@pytest.mark.parametrize("name", REAL)
def test_fresh_real_tree_is_clean(name, tmp_path):
    tree = fixtures.find(name)
    assert check(build(tree, tmp_path / "q"), settings_for(tree)) == []


@pytest.mark.parametrize("name", REAL)
def test_old_real_tree_yields_what_spec_predicts_for_its_leftovers(name, tmp_path):
    """An hour later, the documented leftovers and locks are stale (SIMPLE-PURGE-2/3, NORMAL-PURGE-3/4, CRASH-4)."""
    tree = fixtures.find(name)
    found = check(build(tree, tmp_path / "q", age=3600), settings_for(tree))
    simple = tree.queue_type == "simple"
    predicted = {("SIMPLE-PURGE-2" if simple else "NORMAL-PURGE-3" if path.startswith("temporary/") else "CRASH-4", path)
                 for path in tree.leftovers}
    predicted |= {("SIMPLE-PURGE-3" if simple else "NORMAL-PURGE-4", tree.lock_path(name)) for name in tree.locked}
    assert pairs(found) == predicted


@pytest.mark.parametrize(("age", "temp_stale", "lock_stale"), [(MAXTEMP - 60, False, False), (MAXTEMP + 60, True, False), (MAXLOCK + 60, True, True)])
def test_staleness_follows_maxtemp_and_maxlock(tmp_path, age, temp_stale, lock_stale):
    tree = fixtures.find("perl-simple-basic")
    found = {f.id for f in check(build(tree, tmp_path / "q", age=age), settings_for(tree))}
    assert ("SIMPLE-PURGE-2" in found, "SIMPLE-PURGE-3" in found) == (temp_stale, lock_stale)


def test_zero_limits_disable_staleness(tmp_path):
    """COMMON-8: maxtemp and maxlock 0 disable their class, as for purge."""
    tree = fixtures.find("python-normal-basic")
    top = build(tree, tmp_path / "q", age=3600)
    assert check(top, settings_for(tree, maxtemp=0, maxlock=0)) == []
