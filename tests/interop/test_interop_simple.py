"""Simple queues shared by dirqref and python-dirq 1.8: each reads, locks and purges what the other wrote."""

from __future__ import annotations

import errno
import os
import tempfile
import time
from pathlib import Path

import pytest
from dirq.QueueSimple import QueueSimple as PySimple
from hypothesis import given
from hypothesis import strategies as st
from interop_testutil import FEW, consume_all

from dirqref import QueueSimple
from dirqref.errors import Locked

PAYLOADS = [
    b"",
    bytes(range(256)),
    b"\n",
    b"\0",
    b"\\t literal backslash-t",
    "Grüße, 世界 ☃ 😀\n".encode(),
    bytes(i * 7 % 256 for i in range(65536)),
]


def queues(top: Path) -> tuple[QueueSimple, PySimple]:
    return QueueSimple(top, rndhex=5), PySimple(str(top), rndhex=6)


@pytest.mark.parametrize("writer", ["dirqref", "python-dirq"])
def test_edge_payloads_cross_read(tmp_path, writer):
    ref, py = queues(tmp_path / "q")
    producer, consumer = (ref, py) if writer == "dirqref" else (py, ref)
    expected = {producer.add(payload): payload for payload in PAYLOADS}
    for name, payload in expected.items():  # SIMPLE-LAYOUT-1: the file is exactly the bytes
        assert (tmp_path / "q" / name).read_bytes() == payload
    consume_all(consumer, expected)


@FEW
@given(payloads=st.lists(st.binary(max_size=2048), max_size=6), writer=st.sampled_from(["dirqref", "python-dirq"]))
def test_any_payloads_cross_read(tmp_path, payloads, writer):
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        ref, py = queues(Path(scratch) / "q")
        producer, consumer = (ref, py) if writer == "dirqref" else (py, ref)
        consume_all(consumer, {producer.add(payload): payload for payload in payloads})


def test_both_producers_in_one_queue(tmp_path):
    ref, py = queues(tmp_path / "q")
    expected = {}
    for i, payload in enumerate(PAYLOADS):
        producer = ref if i % 2 else py
        expected[producer.add(payload)] = payload
    assert list(py) == list(ref) == sorted(expected)
    consume_all(ref, expected)


def test_lock_held_by_one_is_refused_by_the_other(tmp_path):
    ref, py = queues(tmp_path / "q")
    name = ref.add(b"contended")
    assert ref.lock(name)
    assert py.lock(name) is False
    with pytest.raises(OSError) as caught:
        py.lock(name, permissive=False)
    assert caught.value.errno == errno.EEXIST
    assert py.get(name) == b"contended"  # python-dirq reads through dirqref's .lck
    assert ref.unlock(name)
    assert py.lock(name)
    assert ref.lock(name) is False
    with pytest.raises(Locked):
        ref.lock(name, permissive=False)
    assert ref.get(name) == b"contended"
    py.unlock(name)
    assert ref.lock(name)


@pytest.mark.parametrize("locker", ["dirqref", "python-dirq"])
def test_stale_lock_of_one_is_recovered_by_the_others_purge(tmp_path, locker):
    ref, py = queues(tmp_path / "q")
    name = ref.add(b"abandoned")
    holder, purger = (ref, py) if locker == "dirqref" else (py, ref)
    assert holder.lock(name)
    purger.purge()
    assert os.path.exists(tmp_path / "q" / f"{name}.lck")  # young: kept
    then = time.time() - 3600
    os.utime(tmp_path / "q" / name, (then, then))  # the lock time is the element's mtime
    purger.purge()
    assert not os.path.exists(tmp_path / "q" / f"{name}.lck")
    assert holder.lock(name) and holder.get(name) == b"abandoned"
