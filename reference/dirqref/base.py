"""What Simple and Normal queues share: TOP, options, listing, iteration, count, purge pieces."""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterator
from typing import ClassVar

from .errors import io_error
from .fsops import Modes, ensure_dir, make_tree
from .names import NameGenerator, check_identifier, is_directory_name, is_element_name
from .options import check_path, check_rndhex, check_seconds, check_umask

NS_PER_SECOND = 1_000_000_000


class TreeQueue:
    """A queue stored in a directory tree TOP/DDDDDDDD/EEEEEEEEEEEEEE."""

    element_is_directory: ClassVar[bool]  # ITER-4: Simple elements are files, Normal ones dirs

    path: str
    id: str

    def __init__(self, path: object, *, umask: object, rndhex: object, maxtemp: object, maxlock: object) -> None:
        self.path = check_path(path)
        self.umask = check_umask(umask)
        self.rndhex = check_rndhex(rndhex)
        self.maxtemp = check_seconds("maxtemp", maxtemp)  # COMMON-8
        self.maxlock = check_seconds("maxlock", maxlock)  # COMMON-8
        self._modes = Modes.from_umask(self.umask)
        self._new_name = NameGenerator(self.rndhex)
        self._last_element: tuple[object, str] = (object(), "")  # see _element_path
        try:
            make_tree(self.path, self._modes)  # COMMON-1
            top = os.stat(self.path)  # TOP itself may be a symlink (SEC-1)
        except OSError as exc:
            raise io_error("create queue directory", self.path, exc) from None
        self._device = top.st_dev
        self.id = f"{top.st_dev}:{top.st_ino}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def _element_path(self, name: object) -> str:
        """NAME-10: validate ``name`` before building its path.

        A consumer passes the same str object to lock, get and remove; the last (name, path)
        pair is kept so that object is validated once (a str is immutable, and the pair holds
        a reference to it, so the identity check cannot match another object).
        """
        last = self._last_element  # one tuple, read and replaced whole (thread-safe)
        if last[0] is name:
            return last[1]
        path = f"{self.path}/{check_identifier(name)}"
        self._last_element = (name, path)
        return path

    def _ensure_dir(self, path: str) -> None:
        try:
            ensure_dir(path, self._modes)
        except OSError as exc:
            raise io_error("mkdir", path, exc) from None

    # -- listing (DIR-2, ITER-1..5, SEC-2) ---------------------------------

    def _intermediate_dirs(self) -> list[str]:
        """Sorted names of the intermediate directories; symlinks are not descended into (SEC-2)."""
        try:
            with os.scandir(self.path) as entries:
                names = [e.name for e in entries if is_directory_name(e.name) and e.is_dir(follow_symlinks=False)]
        except OSError as exc:
            raise io_error("list", self.path, exc) from None
        names.sort()  # ITER-1
        return names

    def _element_names(self, directory: str) -> Iterator[str]:
        """Element names in one intermediate directory, unsorted, read lazily (ITER-2)."""
        path = f"{self.path}/{directory}"
        wanted_dir = self.element_is_directory
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    # NAME-8, ITER-3: .tmp, .lck and foreign names are never elements.
                    # ITER-4: neither are entries of the wrong type (lstat only when d_type is unknown).
                    if is_element_name(entry.name) and (
                        entry.is_dir(follow_symlinks=False) if wanted_dir else entry.is_file(follow_symlinks=False)
                    ):
                        yield entry.name
        except (FileNotFoundError, NotADirectoryError):
            return  # RACE: ITER-2, a directory purged meanwhile is empty
        except OSError as exc:
            raise io_error("list", path, exc) from None

    def __iter__(self) -> Iterator[str]:
        """ITER-1..3: element ids in ascending order, locked or not, one directory at a time."""
        for directory in self._intermediate_dirs():
            for name in sorted(self._element_names(directory)):
                yield f"{directory}/{name}"

    def count(self) -> int:
        """SIMPLE-COUNT-1, NORMAL-COUNT-1: the number of elements iteration would yield."""
        return sum(sum(1 for _ in self._element_names(d)) for d in self._intermediate_dirs())

    # -- purge pieces ------------------------------------------------------

    def _purge_limits(self, maxtemp: object, maxlock: object) -> tuple[int | None, int | None]:
        """SIMPLE-PURGE-1, NORMAL-PURGE-1: (temp, lock) mtime limits in ns; None = class disabled."""
        temp = self.maxtemp if maxtemp is None else check_seconds("maxtemp", maxtemp)
        lock = self.maxlock if maxlock is None else check_seconds("maxlock", maxlock)
        now = time.time_ns()  # COMMON-5: the purger's wall clock
        return (now - temp * NS_PER_SECOND if temp else None, now - lock * NS_PER_SECOND if lock else None)

    def _remove_empty_dirs(self, directories: list[str]) -> None:
        """SIMPLE-PURGE-5/6, NORMAL-PURGE-2: rmdir empty intermediate dirs but the greatest."""
        for directory in directories[:-1]:
            path = f"{self.path}/{directory}"
            try:
                os.rmdir(path)  # fails on any content, foreign entries included
            except OSError as exc:
                # RACE: ENOENT (another purger) or ENOTEMPTY/EEXIST (a producer added meanwhile).
                if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                    raise io_error("rmdir", path, exc) from None


def is_stale(path: str, limit: int) -> bool:
    """COMMON-5/6: lstat mtime strictly before ``limit`` (ns); a vanished entry is not stale."""
    try:
        return os.lstat(path).st_mtime_ns < limit
    except FileNotFoundError:
        return False  # RACE: removed meanwhile
    except OSError as exc:
        raise io_error("lstat", path, exc) from None


def is_directory(path: str) -> bool:
    """lstat says ``path`` is a directory (never following a symlink, SEC-1)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise io_error("lstat", path, exc) from None

