"""QueueNull (NULL-1..4) and QueueSet (SET-1..6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dirqref import QueueNormal, QueueNull, QueueSet, QueueSimple
from dirqref.errors import InvalidOption, NotFound, Unsupported


def test_NULL_1_add_discards():
    null = QueueNull()
    assert null.add(b"data") == ""
    assert null.add({"body": "x"}) == ""


def test_NULL_2_add_path_unlinks_and_fails_when_it_cannot(tmp_path):
    null = QueueNull()
    victim = tmp_path / "file"
    victim.write_bytes(b"x")
    assert null.add_path(str(victim)) == ""
    assert not victim.exists()
    with pytest.raises(NotFound):
        null.add_path(str(victim))


def test_NULL_3_empty_and_purge_is_a_no_op():
    null = QueueNull()
    null.add(b"x")
    assert null.count() == 0 and list(null) == []
    null.purge()
    null.purge(maxtemp=1, maxlock=1)


@pytest.mark.parametrize("operation", ["lock", "unlock", "touch", "get", "get_path", "remove"])
def test_NULL_4_element_operations_are_unsupported(operation):
    with pytest.raises(Unsupported) as info:
        getattr(QueueNull(), operation)("00000000/0123456789abcd")
    assert info.value.kind == "unsupported"


def make_simple(top: Path, names: list[str]) -> QueueSimple:
    queue = QueueSimple(top)
    for name in names:
        (top / name).parent.mkdir(exist_ok=True)
        (top / name).write_bytes(name.encode())
    return queue


def make_normal(top: Path, names: list[str]) -> QueueNormal:
    queue = QueueNormal(top, {"body": "string"})
    for name in names:
        (top / name).mkdir(parents=True)
        (top / name / "body").write_text(name)
    return queue


def test_SET_1_merged_by_element_name_not_by_directory(tmp_path):
    # Simple dirs are times, Normal dirs are sequence numbers: sorting full ids would put
    # every Normal element first.
    simple = make_simple(tmp_path / "s", ["6b000000/6b00000000000a", "6b00003c/6b00003c00000a"])
    normal = make_normal(tmp_path / "n", ["00000000/6b00000100000b", "00000001/6b00004000000b"])
    assert list(QueueSet(simple, normal)) == [
        (simple, "6b000000/6b00000000000a"),
        (normal, "00000000/6b00000100000b"),
        (simple, "6b00003c/6b00003c00000a"),
        (normal, "00000001/6b00004000000b"),
    ]


def test_SET_1_each_member_keeps_its_own_order(tmp_path):
    simple = make_simple(tmp_path / "s", ["00000009/00000000000001", "00000001/00000000000004"])
    normal = make_normal(tmp_path / "n", ["00000000/00000000000002"])
    assert list(QueueSet(simple, normal)) == [
        (normal, "00000000/00000000000002"),
        (simple, "00000001/00000000000004"),
        (simple, "00000009/00000000000001"),
    ]


def test_SET_2_ties_broken_by_member_order(tmp_path):
    simple = make_simple(tmp_path / "s", ["00000000/00000000000001"])
    normal = make_normal(tmp_path / "n", ["00000005/00000000000001"])
    assert [q for q, _ in QueueSet(simple, normal)] == [simple, normal]
    assert [q for q, _ in QueueSet(normal, simple)] == [normal, simple]
    later = QueueSet(normal)
    later.add(simple)
    assert [q for q, _ in later] == [normal, simple]


def test_SET_3_duplicate_top_and_absent_member_are_errors(tmp_path):
    simple = QueueSimple(tmp_path / "s")
    (tmp_path / "alias").symlink_to(tmp_path / "s")
    queues = QueueSet(simple)
    with pytest.raises(InvalidOption, match="already"):
        queues.add(QueueSimple(tmp_path / "alias"))  # same TOP (device:inode)
    with pytest.raises(InvalidOption):
        QueueSet(simple, simple)
    with pytest.raises(NotFound):
        queues.remove(QueueSimple(tmp_path / "other"))
    queues.remove(QueueSimple(tmp_path / "alias"))
    assert queues.queues == ()


def test_SET_4_count_is_the_sum(tmp_path):
    simple = make_simple(tmp_path / "s", ["00000000/00000000000001", "00000000/00000000000002"])
    normal = make_normal(tmp_path / "n", ["00000000/00000000000003"])
    assert QueueSet(simple, normal, QueueNull()).count() == 3


def test_SET_5_adding_a_member_restarts_iteration(tmp_path):
    simple = make_simple(tmp_path / "s", ["00000000/00000000000001", "00000000/00000000000003"])
    normal = make_normal(tmp_path / "n", ["00000000/00000000000002"])
    queues = QueueSet(simple)
    iterator = iter(queues)
    assert next(iterator) == (simple, "00000000/00000000000001")
    queues.add(normal)
    assert list(iterator) == [
        (simple, "00000000/00000000000001"),
        (normal, "00000000/00000000000002"),
        (simple, "00000000/00000000000003"),
    ]
    iterator = iter(queues)
    next(iterator)
    queues.remove(simple)
    assert list(iterator) == [(normal, "00000000/00000000000002")]


def test_SET_5_a_change_after_the_last_pair_restarts_too(tmp_path):
    simple = make_simple(tmp_path / "s", ["00000000/00000000000001"])
    normal = make_normal(tmp_path / "n", ["00000000/00000000000002"])
    queues = QueueSet(simple)
    iterator = iter(queues)
    assert next(iterator) == (simple, "00000000/00000000000001")
    queues.add(normal)  # the old iteration has nothing left, the new one has two pairs
    both = [(simple, "00000000/00000000000001"), (normal, "00000000/00000000000002")]
    assert list(iterator) == both
    iterator = iter(queues)
    assert [next(iterator), next(iterator)] == both
    queues.remove(normal)
    assert list(iterator) == [(simple, "00000000/00000000000001")]


def test_SET_6_members_are_read_lazily(tmp_path, monkeypatch):
    names = [f"0000000{d}/0000000000000{d}" for d in range(1, 4)]
    simple = make_simple(tmp_path / "s", names)
    normal = make_normal(tmp_path / "n", ["00000001/00000000000009"])
    scanned = []
    real_scandir = os.scandir

    def spy(path="."):
        scanned.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    iterator = iter(QueueSet(simple, normal))
    assert next(iterator) == (simple, names[0])
    assert "s/00000003" not in scanned and "s/00000002" not in scanned
