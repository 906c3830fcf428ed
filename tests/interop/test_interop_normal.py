"""Normal queues shared by dirqref and python-dirq 1.8: records, table files and locks interoperate."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from dirq.queue import Queue as PyNormal
from hypothesis import given
from hypothesis import strategies as st
from interop_testutil import FEW, consume_all

from dirqref import QueueNormal
from dirqref.errors import Locked

SCHEMA = {"body": "string", "header": "table?", "data": "binary?"}
TABLES = [
    {"tab\tkey": "tab\tvalue"},
    {"nl\nkey": "nl\nvalue", "cr\rkey": "cr\r\nvalue"},
    {"back\\slash": "back\\slash", "trailing\\": "\\"},
    {"literal": "\\t is backslash-t", "also": "\\n and \\\\ and \\x"},
    {"uni": "ü☃", "ключ": "值", "emoji😀": "𝄞"},
    {"": "empty key", "emptyval": ""},
    {"": ""},
    {},
    {"b": "1", "a": "2", "B": "3", "é": "4", "\u00a0": "5"},
]
RECORDS: list[dict[str, Any]] = [
    {"body": "unicode: Grüße, 世界 ☃ 😀"},
    {"body": ""},
    {"body": "cr\rlf\ncrlf\r\nnul\0bom\ufeff"},
    {"body": "\n\nleading and trailing newlines\n\n"},
    *({"body": f"h{i}", "header": table} for i, table in enumerate(TABLES)),
    {"body": "d1", "data": bytes(range(256))},
    {"body": "d2", "data": b""},
    {"body": "d3", "data": bytes(i * 7 % 256 for i in range(65536)), "header": {"k": "v"}},
]
text = st.text(max_size=12)
records = st.fixed_dictionaries(
    {"body": st.text(max_size=40)},
    optional={"header": st.dictionaries(text, text, max_size=4), "data": st.binary(max_size=512)},
)


def queues(top: Path) -> tuple[QueueNormal, PyNormal]:
    return QueueNormal(top, SCHEMA, rndhex=5), PyNormal(str(top), rndhex=6, schema=SCHEMA)


def element_files(top: Path, name: str) -> dict[str, bytes]:
    return {field: (top / name / field).read_bytes() for field in sorted(os.listdir(top / name))}


@pytest.mark.parametrize("writer", ["dirqref", "python-dirq"])
def test_edge_records_cross_read(tmp_path, writer):
    ref, py = queues(tmp_path / "q")
    producer, consumer = (ref, py) if writer == "dirqref" else (py, ref)
    consume_all(consumer, {producer.add(record): record for record in RECORDS})


def assert_same_files(tmp_path: Path, records_: list[dict[str, Any]]) -> None:
    """Both producers store each record as the same field files, byte for byte (tables included)."""
    ref, _ = queues(tmp_path / "ref")
    _, py = queues(tmp_path / "py")
    for record in records_:
        ours, theirs = ref.add(record), py.add(record)
        assert element_files(tmp_path / "ref", ours) == element_files(tmp_path / "py", theirs), record


def test_edge_records_same_bytes_on_disk(tmp_path):
    assert_same_files(tmp_path, RECORDS)
    # TABLE-1..3 spelled out for one table: code point order, three escapes, final LF.
    ref, _ = queues(tmp_path / "one")
    name = ref.add({"body": "", "header": {"b": "x\\ty", "a": "1\t2\n3"}})
    assert (tmp_path / "one" / name / "header").read_bytes() == b"a\t1\\t2\\n3\nb\tx\\\\ty\n"


@FEW
@given(batch=st.lists(records, min_size=1, max_size=4), writer=st.sampled_from(["dirqref", "python-dirq"]))
def test_any_records_cross_read_and_same_bytes(tmp_path, batch, writer):
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        ref, py = queues(Path(scratch) / "q")
        producer, consumer = (ref, py) if writer == "dirqref" else (py, ref)
        consume_all(consumer, {producer.add(record): record for record in batch})
        assert_same_files(Path(scratch), batch)


def test_lock_held_by_one_is_refused_by_the_other(tmp_path):
    ref, py = queues(tmp_path / "q")
    record = {"body": "contended", "header": {"k": "v"}}
    name = ref.add(record)
    assert ref.lock(name)
    assert py.lock(name) is False
    with pytest.raises(OSError, match="File exists"):
        py.lock(name, permissive=False)
    assert py.get(name) == record  # python-dirq sees dirqref's lock as a lock
    assert ref.unlock(name)
    assert py.lock(name)
    assert ref.lock(name) is False
    with pytest.raises(Locked):
        ref.lock(name, permissive=False)
    assert ref.get(name) == record
    py.unlock(name)
    assert ref.lock(name)


@pytest.mark.parametrize("locker", ["dirqref", "python-dirq"])
def test_stale_lock_of_one_is_recovered_by_the_others_purge(tmp_path, locker):
    ref, py = queues(tmp_path / "q")
    name = ref.add({"body": "abandoned"})
    holder, purger = (ref, py) if locker == "dirqref" else (py, ref)
    assert holder.lock(name)
    purger.purge()
    assert os.path.isdir(tmp_path / "q" / name / "locked")  # young: kept
    then = time.time() - 3600
    os.utime(tmp_path / "q" / name, (then, then))  # the lock time is the element dir's mtime
    purger.purge()
    assert not os.path.exists(tmp_path / "q" / name / "locked")
    assert holder.lock(name) and holder.get(name) == {"body": "abandoned"}


def test_element_removed_by_one_is_gone_for_the_other(tmp_path):
    ref, py = queues(tmp_path / "q")
    kept, removed = ref.add({"body": "kept"}), py.add({"body": "removed"})
    assert py.lock(removed)
    py.remove(removed)
    assert list(ref) == [kept] and ref.count() == 1
    assert ref.lock(removed) is False
    assert ref.lock(kept)
    ref.remove(kept)
    assert list(py) == [] and py.count() == 0
    assert os.listdir(tmp_path / "q" / "obsolete") == []
