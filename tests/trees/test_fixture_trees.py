"""dirqref reads the queue trees written by Perl Directory::Queue, python-dirq and c-dirq.

Each tree is extracted with its mtimes re-based (dirqkit.trees.fixtures), so the purge
checks mean the same on any day.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dirqkit.trees import fixtures
from dirqref import QueueNormal, QueueSimple
from dirqref.errors import Locked

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real"
ARCHIVES = fixtures.archives(REAL)
IMPLEMENTATIONS = {"perl", "python", "c"}
MAXTEMP, MAXLOCK = 300, 600  # the purge defaults (COMMON-8)
NS = 1_000_000_000


def test_every_real_fixture_is_there():
    """The parametrised tests below must not pass by having nothing to read."""
    names = {a.name.removesuffix(".tar.gz") for a in ARCHIVES}
    expected = {f"{impl}-simple-{tree}" for impl in IMPLEMENTATIONS for tree in ("basic", "granularity")}
    expected |= {f"{impl}-normal-{tree}" for impl in IMPLEMENTATIONS - {"c"} for tree in ("basic", "rollover")}
    assert names == expected


def open_queue(manifest: fixtures.Manifest, top: Path) -> QueueSimple | QueueNormal:
    if manifest.queue_type == "simple":
        return QueueSimple(top, **manifest.options)
    return QueueNormal(top, manifest.schema, **manifest.options)


def lock_path(manifest: fixtures.Manifest, top: Path, name: str) -> Path:
    """SIMPLE-LOCK-1 / NORMAL-LOCK-1: the entry that makes ``name`` locked."""
    return top / (f"{name}.lck" if manifest.queue_type == "simple" else f"{name}/locked")


def tree(top: Path) -> dict[str, tuple[str, bytes | None]]:
    """Every path under ``top`` with its kind and, for files, its bytes."""
    result: dict[str, tuple[str, bytes | None]] = {}
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = Path(root, name)
            mode = os.lstat(path).st_mode
            kind = "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"
            result[str(path.relative_to(top))] = (kind, path.read_bytes() if kind == "file" else None)
    return result


def extract(archive: Path, tmp_path: Path, age: float) -> tuple[fixtures.Manifest, Path]:
    """Extract with the newest entry ``age`` seconds old; returns the manifest and TOP."""
    manifest = fixtures.load_manifest(fixtures.manifest_path(archive))
    fixtures.extract(archive, tmp_path, mtime_offset=fixtures.offset_for_age(manifest, age))
    return manifest, tmp_path / manifest.tree_root


@pytest.fixture(params=ARCHIVES, ids=lambda a: a.name.removesuffix(".tar.gz"))
def archive(request) -> Path:
    return request.param


def test_extracted_tree_is_the_manifest_tree(archive, tmp_path):
    manifest = fixtures.load_manifest(fixtures.manifest_path(archive))
    offset = fixtures.offset_for_age(manifest, 1000)
    assert fixtures.extract(archive, tmp_path, mtime_offset=offset) == manifest
    top = tmp_path / manifest.tree_root
    assert set(tree(top)) == {entry.path for entry in manifest.files}
    for entry in manifest.files:
        info = os.lstat(top / entry.path)
        kind = "dir" if stat.S_ISDIR(info.st_mode) else "symlink" if stat.S_ISLNK(info.st_mode) else "file"
        assert (kind, stat.S_IMODE(info.st_mode), info.st_nlink) == (entry.kind, entry.mode, entry.nlink), entry.path
        if entry.kind == "file":
            assert info.st_size == entry.size, entry.path
        assert abs(info.st_mtime_ns - (entry.mtime + offset) * NS) < 1_000_000, entry.path
    if manifest.queue_type == "simple":
        for name in manifest.locked:  # the lock is a hard link to the element, not a copy
            assert os.path.samefile(top / name, top / f"{name}.lck")


def test_dirqref_reads_every_element(archive, tmp_path):
    manifest, top = extract(archive, tmp_path, age=1000)
    queue = open_queue(manifest, top)
    for element in manifest.elements:
        if element.name in manifest.locked:
            assert queue.lock(element.name) is False
            with pytest.raises(Locked):
                queue.lock(element.name, permissive=False)
            # get needs the lock to exist, not to be ours: the data is still checked.
            assert queue.get(element.name) == element.value
        else:
            assert queue.lock(element.name) is True
            assert queue.get(element.name) == element.value
            assert queue.unlock(element.name) is True
    names = [element.name for element in manifest.elements]
    assert list(queue) == sorted(names)
    assert queue.count() == len(names)


@pytest.mark.parametrize(
    ("age", "temp_stale", "lock_stale"),
    [(0, False, False), ((MAXTEMP + MAXLOCK) / 2, True, False), (10 * MAXLOCK, True, True)],
    ids=["young", "temp-stale", "all-stale"],
)
def test_purge_removes_exactly_the_stale_leftovers(archive, tmp_path, age, temp_stale, lock_stale):
    manifest, top = extract(archive, tmp_path, age=age)
    before = tree(top)
    open_queue(manifest, top).purge()
    gone = set()
    if temp_stale:  # SIMPLE-PURGE-2, NORMAL-PURGE-3: the leftover and everything under it
        for leftover in manifest.leftovers:
            gone |= {p for p in before if p == leftover.path or p.startswith(leftover.path + "/")}
    if lock_stale:  # SIMPLE-PURGE-3, NORMAL-PURGE-4: the element stays, its lock goes
        gone |= {str(lock_path(manifest, top, name).relative_to(top)) for name in manifest.locked}
    assert gone <= set(before)
    # SIMPLE-PURGE-4, NORMAL-PURGE-5: nothing else removed or changed.
    assert tree(top) == {path: value for path, value in before.items() if path not in gone}
    queue = open_queue(manifest, top)
    assert queue.count() == len(manifest.elements)
    for name in manifest.locked:
        assert queue.lock(name) is lock_stale  # a recovered lock makes the element deliverable again
