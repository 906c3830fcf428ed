"""Helpers shared by the dirqref unit tests (imported by name: this directory is on sys.path)."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ID_RE = re.compile(r"[0-9a-f]{8}/[0-9a-f]{14}")

# Identifiers that NAME-10 rejects before building any path.
BAD_IDS = [
    "../../etc/passwd",
    "/etc/passwd",
    "00000000/zzzzzzzzzzzzzz",
    "00000000/0123456789abcdef",
    "00000000/0123456789abc",
    "0000000/0123456789abcd",
    "00000000/0123456789ABCD",
    "00000000\\0123456789abcd",
    "00000000/0123456789abcd\n",
    "00000000/0123456789abc\0",
    "00000000/../0123456789",
    "",
    None,
    b"00000000/0123456789abcd",
    123,
]


def snapshot(top: Path) -> dict[str, tuple[str, int, int, int, bytes]]:
    """Every entry under ``top`` with kind, mode, size, mtime and content (files)."""
    result = {}
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            if os.path.islink(path):
                kind, content = "link", os.readlink(path).encode()
            elif os.path.isdir(path):
                kind, content = "dir", b""
            else:
                kind, content = "file", Path(path).read_bytes()
            result[os.path.relpath(path, top)] = (kind, info.st_mode, info.st_size, info.st_mtime_ns, content)
    return result


def backdate(path: Path | str, seconds: float) -> None:
    """Set the mtime (and atime) of ``path`` itself ``seconds`` into the past."""
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def mtime_age(path: Path | str) -> float:
    return time.time() - os.lstat(path).st_mtime


@contextlib.contextmanager
def forbid_fs() -> Iterator[None]:
    """Within the block, every filesystem call dirqref could use fails the test."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"filesystem activity: {args!r}")

    names = ["open", "link", "unlink", "rename", "mkdir", "rmdir", "utime", "access",
             "stat", "lstat", "scandir", "listdir", "chmod", "fchmod"]
    with pytest.MonkeyPatch.context() as patch:
        for name in names:
            patch.setattr(os, name, forbidden)
        yield


@contextlib.contextmanager
def process_umask(mask: int) -> Iterator[None]:
    """Within the block the process umask is ``mask``."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)
