"""Small filesystem helpers: exact creation modes, tolerant mkdir, whole-file reads.

They raise OSError; the queue classes turn errors into DirqError with the place.
"""

from __future__ import annotations

import errno
import os
from typing import NamedTuple

CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC  # SIMPLE-ADD-1, NORMAL-ADD-3
# SEC-1: never follow a symlink; O_NONBLOCK so that a FIFO planted in the tree cannot hang a read.
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_CHUNK = 1 << 16


class Modes(NamedTuple):  # not a dataclass: the dataclasses module costs every driver start-up a sixth
    """Creation modes for files and directories (COMMON-3, COMMON-4).

    With an umask option the modes are exact: they are set with fchmod after
    creation, so the process-wide umask is neither used nor changed (thread-safe).
    """

    umask: int | None
    file: int
    directory: int

    @classmethod
    def from_umask(cls, umask: int | None) -> Modes:
        if umask is None:
            return cls(None, 0o666, 0o777)  # COMMON-4: subject to the process umask
        return cls(umask, 0o666 & ~umask, 0o777 & ~umask)  # COMMON-3


def create_file(path: str, modes: Modes) -> int:
    """Create ``path`` exclusively (EEXIST raises FileExistsError) and return the write fd."""
    fd = os.open(path, CREATE_FLAGS, modes.file)
    if modes.umask is not None:
        try:
            os.fchmod(fd, modes.file)
        except OSError:
            os.close(fd)
            raise
    return fd


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write every byte of ``data`` to ``fd`` (os.write may write less than asked)."""
    written = os.write(fd, data)
    if written < len(data):
        view = memoryview(data)
        while written < len(view):
            written += os.write(fd, view[written:])


def write_file(path: str, data: bytes, modes: Modes) -> None:
    """Create ``path`` exclusively, write ``data``, close."""
    fd = create_file(path, modes)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


def read_fd(fd: int) -> bytes:
    """Every byte of the regular file open at ``fd``, up to end of file.

    POSIX: a read from a regular file returns less than asked only at end of file or when a
    signal interrupts it after some bytes, which local filesystems never do (their reads are
    not interruptible); so a short read ends the file without one more read returning b"".
    Elements are never written after publication (SIMPLE-ADD-6, NORMAL-ADD-5).
    """
    data = os.read(fd, READ_CHUNK)
    if len(data) < READ_CHUNK:
        return data  # the common case: the whole file in one read
    chunks = [data]
    while len(chunk := os.read(fd, READ_CHUNK)) == READ_CHUNK:
        chunks.append(chunk)
    chunks.append(chunk)
    return b"".join(chunks)


def make_dir(path: str, modes: Modes) -> None:
    """mkdir ``path`` with the queue's directory mode (EEXIST raises FileExistsError)."""
    os.mkdir(path, modes.directory)
    if modes.umask is not None:
        # RACE: the new directory may be replaced by a symlink before we chmod it;
        # O_NOFOLLOW makes sure we never chmod outside the tree (SEC-2).
        fd = os.open(path, DIR_FLAGS)
        try:
            os.fchmod(fd, modes.directory)
        finally:
            os.close(fd)


def ensure_dir(path: str, modes: Modes) -> None:
    """mkdir ``path``; an existing entry is fine (DIR-3, RACE: concurrent creators)."""
    try:
        make_dir(path, modes)
    except FileExistsError:
        pass


def make_tree(path: str, modes: Modes) -> None:
    """COMMON-1: create ``path`` and its missing ancestors; an existing non-directory fails."""
    try:
        make_dir(path, modes)
    except FileNotFoundError:
        parent = os.path.dirname(os.path.normpath(path))
        if not parent or parent == path:
            raise
        make_tree(parent, modes)
        ensure_dir(path, modes)
    except FileExistsError:
        pass
    if not os.path.isdir(path):  # TOP itself may be a symlink to a directory (SEC-1)
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)


def unlink_quietly(path: str) -> None:
    """Best-effort unlink (cleanup after an error that is reported anyway)."""
    try:
        os.unlink(path)
    except OSError:
        pass
