"""QueueSimple: one regular file per element (SIMPLE-*)."""

from __future__ import annotations

import errno
import os
import stat
import time

from .base import TreeQueue, is_directory
from .errors import InvalidData, Locked, NotFound, NotLocked, QueueIOError, io_error, refused
from .fsops import READ_FLAGS, create_file, read_fd, unlink_quietly, write_all
from .names import directory_name, is_element_name
from .options import check_int, check_path

TEMPORARY_SUFFIX = ".tmp"  # SIMPLE-LAYOUT-2
LOCKED_SUFFIX = ".lck"  # SIMPLE-LAYOUT-2


class QueueSimple(TreeQueue):
    """A directory queue whose elements are byte strings."""

    element_is_directory = False

    def __init__(
        self,
        path: object,
        *,
        umask: int | None = None,
        rndhex: int | None = None,
        granularity: int = 60,
        maxtemp: int = 300,
        maxlock: int = 600,
    ) -> None:
        self.granularity = check_int("granularity", granularity, 0)  # SIMPLE-DIR-2
        self._add_dir_cache = (-1, "")  # (start of the period, its directory), see _add_dir
        super().__init__(path, umask=umask, rndhex=rndhex, maxtemp=maxtemp, maxlock=maxlock)

    def _add_dir(self) -> str:
        """SIMPLE-DIR-1: intermediate directory for an add starting now."""
        now = time.time_ns() // 1_000_000_000
        if self.granularity:
            now -= now % self.granularity
        cached = self._add_dir_cache  # one tuple, read and replaced whole (thread-safe)
        if cached[0] == now:
            return cached[1]
        directory = directory_name(now)
        # SEC-2: never add through a symlink (or other non-directory) planted at TOP/D.
        # Checked once per D and queue object; a later swap is a race we do not cover.
        path = f"{self.path}/{directory}"
        if os.path.lexists(path) and not is_directory(path):
            raise QueueIOError(f"cannot add to {path}: not a directory")
        self._add_dir_cache = (now, directory)
        return directory

    # -- producer ----------------------------------------------------------

    def add(self, data: bytes) -> str:
        """Add ``data`` as a new element and return its id (SIMPLE-ADD-1..6)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidData(f"Simple queue data must be bytes, got {type(data).__name__}")
        directory = self._add_dir()  # SIMPLE-DIR-3: once per add
        dir_path = f"{self.path}/{directory}"
        while True:
            temp = f"{dir_path}/{self._new_name()}{TEMPORARY_SUFFIX}"
            try:
                fd = create_file(temp, self._modes)  # SIMPLE-ADD-1
                break
            except FileExistsError:
                continue  # SIMPLE-ADD-1: name collision, new name
            except FileNotFoundError:
                self._ensure_dir(dir_path)  # SIMPLE-ADD-2, RACE: D missing or purged
            except OSError as exc:
                raise io_error("create", temp, exc) from None
        try:
            try:
                write_all(fd, data)  # SIMPLE-ADD-3
            finally:
                os.close(fd)
        except OSError as exc:
            unlink_quietly(temp)
            raise io_error("write", temp, exc) from None
        try:
            name = self._publish(temp, directory)
        except BaseException:
            unlink_quietly(temp)
            raise
        try:
            os.unlink(temp)  # SIMPLE-ADD-5
        except FileNotFoundError:
            pass  # RACE: a purger took our temp for stale; the element is complete anyway
        except OSError as exc:
            raise io_error("unlink", temp, exc) from None
        return name

    def add_path(self, path: str) -> str:
        """Move the regular file ``path`` into the queue as an element (SIMPLE-ADDPATH-1/2)."""
        source = check_path(path, "add_path", InvalidData)
        try:
            info = os.lstat(source)
        except FileNotFoundError:
            raise NotFound(f"cannot add {source}: no such file") from None
        except OSError as exc:
            raise io_error("lstat", source, exc) from None
        if not stat.S_ISREG(info.st_mode):
            raise InvalidData(f"cannot add {source}: not a regular file")
        if info.st_dev != self._device:
            raise InvalidData(f"cannot add {source}: not on the queue's filesystem")
        directory = self._add_dir()
        self._ensure_dir(f"{self.path}/{directory}")
        name = self._publish(source, directory)  # SIMPLE-ADDPATH-2: the element is source's inode
        try:
            os.unlink(source)
        except OSError as exc:
            raise io_error("unlink", source, exc) from None
        return name

    def _publish(self, source: str, directory: str) -> str:
        """SIMPLE-ADD-4: hard-link ``source`` under a fresh name in ``directory`` (never rename)."""
        dir_path = f"{self.path}/{directory}"
        while True:
            name = self._new_name()
            target = f"{dir_path}/{name}"
            try:
                os.link(source, target)
                return f"{directory}/{name}"
            except FileExistsError:
                continue  # NAME-6: collision, new name
            except FileNotFoundError:
                if not os.path.lexists(source):
                    raise QueueIOError(f"cannot link {source}: it vanished") from None
                self._ensure_dir(dir_path)  # RACE: D purged meanwhile
            except OSError as exc:
                raise io_error("link", source, exc) from None

    # -- consumer ----------------------------------------------------------

    def lock(self, name: str, permissive: bool = True) -> bool:
        """SIMPLE-LOCK-1..4: link E to E.lck and stamp the lock time."""
        path = self._element_path(name)
        locked = path + LOCKED_SUFFIX
        try:
            os.link(path, locked)  # SIMPLE-LOCK-1
        except FileExistsError:
            return refused(permissive, Locked(f"element {name} is already locked"))  # SIMPLE-LOCK-2
        except FileNotFoundError:
            return refused(permissive, NotFound(f"no element {name}"))  # SIMPLE-LOCK-2
        except OSError as exc:
            raise io_error("link", path, exc) from None
        try:
            os.utime(path, follow_symlinks=False)  # SIMPLE-LOCK-3, COMMON-7
        except FileNotFoundError:
            # RACE: another consumer locked and removed the element between our link and utime.
            unlink_quietly(locked)
            return refused(permissive, NotFound(f"no element {name}"))
        except OSError as exc:
            raise io_error("utime", path, exc) from None
        return True

    def unlock(self, name: str, permissive: bool = False) -> bool:
        """SIMPLE-UNLOCK-1: unlink E.lck."""
        locked = self._element_path(name) + LOCKED_SUFFIX
        try:
            os.unlink(locked)
        except FileNotFoundError:
            return refused(permissive, NotLocked(f"element {name} is not locked"))
        except OSError as exc:
            raise io_error("unlink", locked, exc) from None
        return True

    def touch(self, name: str) -> None:
        """SIMPLE-TOUCH-1: set the element's mtime (and so its lock time) to now."""
        path = self._element_path(name)
        try:
            os.utime(path, follow_symlinks=False)
        except FileNotFoundError:
            raise NotFound(f"no element {name}") from None
        except OSError as exc:
            raise io_error("utime", path, exc) from None

    def get(self, name: str) -> bytes:
        """SIMPLE-GET-1: the bytes of a locked element, read through E.lck without following symlinks."""
        locked = self._element_path(name) + LOCKED_SUFFIX
        try:
            fd = os.open(locked, READ_FLAGS)
        except FileNotFoundError:
            raise NotLocked(f"element {name} is not locked") from None
        except OSError as exc:
            raise io_error("open", locked, exc) from None
        try:
            # SEC-6: O_NONBLOCK (READ_FLAGS) keeps a FIFO planted as E.lck from hanging the open;
            # anything but a regular file is then refused, not read.
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise QueueIOError(f"cannot read {locked}: not a regular file", errno.EINVAL)
            return read_fd(fd)
        except OSError as exc:
            raise io_error("read", locked, exc) from None
        finally:
            os.close(fd)

    def get_path(self, name: str) -> str:
        """SIMPLE-GET-2: path of E.lck, valid while locked; the caller must not modify it."""
        return self._element_path(name) + LOCKED_SUFFIX

    def remove(self, name: str) -> None:
        """SIMPLE-REMOVE-1/2: remove a locked element: unlink E, then E.lck."""
        path = self._element_path(name)
        locked = path + LOCKED_SUFFIX
        # SIMPLE-REMOVE-1: not locked -> not_locked, element untouched. (access is a cheap
        # lstat-like existence check; an unreadable directory also reads as "not locked".)
        if not os.access(locked, os.F_OK, follow_symlinks=False):
            raise NotLocked(f"element {name} is not locked")
        try:
            os.unlink(path)
        except FileNotFoundError:
            raise NotFound(f"no element {name}") from None
        except OSError as exc:
            raise io_error("unlink", path, exc) from None
        try:
            os.unlink(locked)
        except FileNotFoundError:
            pass  # RACE: a purger removed the orphan lock already (CRASH-4)
        except OSError as exc:
            raise io_error("unlink", locked, exc) from None

    # -- purger ------------------------------------------------------------

    def purge(self, maxtemp: int | None = None, maxlock: int | None = None) -> None:
        """SIMPLE-PURGE-1..6: drop stale .tmp and .lck files, then empty intermediate dirs."""
        temp_limit, lock_limit = self._purge_limits(maxtemp, maxlock)
        directories = self._intermediate_dirs()
        if temp_limit is not None or lock_limit is not None:
            for directory in directories:
                self._purge_files(directory, temp_limit, lock_limit)
        self._remove_empty_dirs(directories)

    def _purge_files(self, directory: str, temp_limit: int | None, lock_limit: int | None) -> None:
        dir_path = f"{self.path}/{directory}"
        try:
            with os.scandir(dir_path) as entries:
                volatile = [e for e in entries if len(e.name) == 18 and is_element_name(e.name[:14])]
        except (FileNotFoundError, NotADirectoryError):
            return  # RACE: purged by another purger
        except OSError as exc:
            raise io_error("list", dir_path, exc) from None
        for entry in volatile:
            suffix = entry.name[14:]
            limit = temp_limit if suffix == TEMPORARY_SUFFIX else lock_limit if suffix == LOCKED_SUFFIX else None
            if limit is None:
                continue  # SIMPLE-PURGE-4, COMMON-2: not ours to purge, or class disabled
            try:
                info = entry.stat(follow_symlinks=False)  # COMMON-6, SEC-1: lstat mtime
            except FileNotFoundError:
                continue  # RACE: removed meanwhile
            except OSError as exc:
                raise io_error("lstat", entry.path, exc) from None
            if stat.S_ISDIR(info.st_mode) or info.st_mtime_ns >= limit:
                continue  # COMMON-5: stale iff mtime < now - max; a directory is foreign
            try:
                os.unlink(entry.path)  # SIMPLE-PURGE-2, SIMPLE-PURGE-3
            except FileNotFoundError:
                pass  # RACE: unlocked, removed or purged meanwhile
            except OSError as exc:
                raise io_error("unlink", entry.path, exc) from None
