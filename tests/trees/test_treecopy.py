"""Exact copies of a tree (the crash explorer's crash states): everything a naive copy loses is kept."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from dirqkit.trees import treecopy

BASE_NS = 1_600_000_000_123_456_789  # times with a nanosecond part, distinct for every entry


def sample_tree(top: Path) -> dict[str, tuple[int, int]]:
    """A queue-like tree with every kind of entry the kit's actions may plant; -> path: (atime_ns, mtime_ns) set."""
    (top / "00000001" / "sub").mkdir(parents=True)
    (top / "empty").mkdir(mode=0o750)
    element = top / "00000001" / "0123456789abcd"
    element.write_bytes(b"payload\x00\xff")
    element.chmod(0o640)
    os.link(element, element.with_name(element.name + ".lck"))  # a Simple lock: a second name of the element
    (top / "00000001" / "sub" / "body").write_bytes(b"")
    (top / "dangling").symlink_to("no/such/target")
    (top / "to-dir").symlink_to("00000001")
    os.mkfifo(top / "fifo", 0o600)
    times: dict[str, tuple[int, int]] = {}
    entries = sorted((p for p in top.rglob("*")), key=lambda p: -len(p.parts))  # children before their directory
    for index, path in enumerate([*entries, top]):
        relative = str(path.relative_to(top))
        if relative.endswith(".lck"):
            continue  # the element's inode: its times are the element's
        mtime = BASE_NS + index * 1_000_001
        times[relative] = (mtime + 777, mtime)
    set_times(top, times)
    return times


def set_times(top: Path, times: dict[str, tuple[int, int]]) -> None:
    for relative, both in times.items():
        os.utime(top / relative, ns=both, follow_symlinks=False)


def describe(top: Path) -> dict[str, tuple]:
    """Every entry's kind, mode, times, link count, symlink text and which inode it shares (stat only)."""
    found: dict[str, tuple] = {}
    inodes: dict[int, str] = {}

    def visit(path: Path) -> None:
        info = os.lstat(path)  # before listing: a listing may change a directory's atime
        relative = str(path.relative_to(top))
        shared = inodes.setdefault(info.st_ino, relative)
        target = os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
        found[relative] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_atime_ns, info.st_mtime_ns,
                           info.st_nlink, shared, target)
        if stat.S_ISDIR(info.st_mode):
            for name in sorted(os.listdir(path)):
                visit(path / name)

    visit(top)
    return found


def assert_exact(top: Path, source_description: dict[str, tuple], times: dict[str, tuple[int, int]], copy: Path) -> None:
    copied = describe(copy)
    assert copied.keys() == source_description.keys()
    for relative, (kind, mode, _, _, nlink, shared, target) in source_description.items():
        assert copied[relative][:2] == (kind, mode) or stat.S_ISLNK(kind), relative  # a symlink's mode is the system's
        if relative in times:
            assert copied[relative][2:4] == times[relative], relative
        assert copied[relative][4:] == (nlink, shared, target), relative
    for relative, (kind, *_) in source_description.items():
        if stat.S_ISREG(kind):
            assert (copy / relative).read_bytes() == (top / relative).read_bytes(), relative


@pytest.fixture
def source(tmp_path):
    top = tmp_path / "src"
    top.mkdir()
    times = sample_tree(top)
    description = describe(top)
    set_times(top, times)  # describing listed the directories, which may have moved their atimes
    return top, times, description


def test_a_copy_keeps_links_times_symlinks_fifos_and_empty_directories(source, tmp_path):
    top, times, description = source
    treecopy.copy_tree(top, tmp_path / "copy")
    assert_exact(top, description, times, tmp_path / "copy")
    lock = tmp_path / "copy" / "00000001" / "0123456789abcd.lck"
    assert lock.stat().st_ino == lock.with_name("0123456789abcd").stat().st_ino and lock.stat().st_nlink == 2
    assert stat.S_ISFIFO(os.lstat(tmp_path / "copy" / "fifo").st_mode)
    assert os.readlink(tmp_path / "copy" / "dangling") == "no/such/target"


def test_a_naive_copy_does_not_pass(source, tmp_path):
    """The check above can fail: a copy by shutil.copytree (symlinks kept) breaks the lock's link and the times."""
    top, times, description = source
    naive = tmp_path / "copy"
    shutil.copytree(top, naive, symlinks=True, ignore=lambda _, names: [n for n in names if n == "fifo"])
    os.mkfifo(naive / "fifo", 0o600)
    with pytest.raises(AssertionError):
        assert_exact(top, description, times, naive)


def test_an_entry_it_cannot_copy_is_named(tmp_path):
    top = tmp_path / "src"
    (top / "d").mkdir(parents=True)
    with pytest.raises(treecopy.CopyError, match="copy"):
        treecopy.copy_tree(top, tmp_path / "missing-parent" / "copy")
