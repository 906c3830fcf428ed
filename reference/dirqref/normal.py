"""QueueNormal: one directory per element, one file per field (NORMAL-*, SCHEMA-*)."""

from __future__ import annotations

import errno
import os
import stat

from .base import TreeQueue, is_directory, is_stale
from .errors import (
    DirqError,
    InvalidData,
    InvalidOption,
    InvalidSchema,
    Locked,
    NotFound,
    NotLocked,
    QueueIOError,
    io_error,
    refused,
)
from .fsops import READ_FLAGS, make_dir, read_fd, write_file
from .names import directory_name, is_element_name
from .options import check_int
from .schema import LOCKED, Schema, Value, is_field_name

TEMPORARY_DIR = "temporary"  # NORMAL-LAYOUT-1
OBSOLETE_DIR = "obsolete"  # NORMAL-LAYOUT-1
COLLISION = (errno.EEXIST, errno.ENOTEMPTY)


class QueueNormal(TreeQueue):
    """A directory queue whose elements are records of typed fields."""

    element_is_directory = True

    def __init__(
        self,
        path: object,
        schema: object = None,
        *,
        umask: int | None = None,
        rndhex: int | None = None,
        maxelts: int = 16000,
        maxtemp: int = 300,
        maxlock: int = 600,
        nlink: bool = False,
    ) -> None:
        self.schema = None if schema is None else Schema.parse(schema)  # SCHEMA-4, SCHEMA-6
        self.maxelts = check_int("maxelts", maxelts, 1)  # NORMAL-DIR-3
        if type(nlink) is not bool:
            raise InvalidOption(f"option nlink: expected a bool, got {nlink!r}")
        self.nlink = nlink  # NORMAL-DIR-2
        self._fill: tuple[str, int, int, int, int] = ("", 0, 0, 0, 0)  # see _entries
        self._greatest: tuple[tuple[int, ...], str | None] = ((), None)  # see _greatest_dir
        super().__init__(path, umask=umask, rndhex=rndhex, maxtemp=maxtemp, maxlock=maxlock)
        self._temporary = f"{self.path}/{TEMPORARY_DIR}"
        self._obsolete = f"{self.path}/{OBSOLETE_DIR}"
        self._ensure_dir(self._temporary)  # NORMAL-LAYOUT-2
        self._ensure_dir(self._obsolete)

    def _need_schema(self) -> Schema:
        if self.schema is None:  # SCHEMA-6
            raise InvalidSchema(f"queue {self.path} has no schema: add and get need one")
        return self.schema

    # -- producer ----------------------------------------------------------

    def add(self, data: dict[str, Value]) -> str:
        """Add a record and return its id (NORMAL-ADD-1..6)."""
        files = self._need_schema().encode(data)  # NORMAL-ADD-1: before any fs change
        temp = self._make_temp()
        try:
            for field, content in files:
                path = f"{temp}/{field}"
                try:
                    write_file(path, content, self._modes)  # NORMAL-ADD-3
                except OSError as exc:
                    raise io_error("write", path, exc) from None
            return self._publish(temp)
        except BaseException:
            try:
                self._destroy(temp, strict=False)  # NORMAL-ADD-6
            except DirqError:
                pass  # best effort: purge removes what is left after maxtemp
            raise

    def _make_temp(self) -> str:
        """NORMAL-ADD-2: a fresh directory temporary/N."""
        while True:
            temp = f"{self._temporary}/{self._new_name()}"
            try:
                make_dir(temp, self._modes)
                return temp
            except FileExistsError:
                continue  # NAME-6: collision, new name
            except OSError as exc:
                raise io_error("mkdir", temp, exc) from None

    def _publish(self, temp: str) -> str:
        """NORMAL-ADD-4/5: rename the complete temp dir to a fresh name in the insertion dir."""
        while True:
            directory, entries = self._insertion_dir()
            while True:
                name = f"{directory}/{self._new_name()}"
                target = f"{self.path}/{name}"
                try:
                    os.rename(temp, target)
                except OSError as exc:
                    if exc.errno in COLLISION:
                        continue  # NAME-6: collision, new name
                    if exc.errno == errno.ENOENT and os.path.lexists(temp):
                        # RACE: the insertion dir was purged meanwhile; recompute it from a fresh
                        # listing (a purge in the same timestamp tick may leave TOP's stat as cached).
                        self._greatest = ((), None)
                        break
                    raise io_error("rename", temp, exc) from None
                if entries is not None:
                    self._remember_fill(directory, entries + 1)
                return name

    def _insertion_dir(self) -> tuple[str, int | None]:
        """NORMAL-DIR-1, NORMAL-DIR-4: the greatest intermediate dir unless full, else the next.

        Returns the directory and its entry count when known.
        """
        directory = self._greatest_dir()
        if directory is None:
            directory = directory_name(0)
        else:
            entries = self._entries(directory)
            if entries is not None and entries < self.maxelts:
                return directory, entries  # NORMAL-DIR-5: concurrent producers may overshoot
            directory = directory_name(int(directory, 16) + 1)
        path = f"{self.path}/{directory}"
        self._ensure_dir(path)  # DIR-3
        # SEC-2: e.g. a symlink planted under the next name. RACE: a purger may remove the new, still
        # empty directory when another producer made a greater one; the rename's ENOENT retries.
        if os.path.lexists(path) and not is_directory(path):
            raise QueueIOError(f"cannot add to {path}: not a directory")
        return directory, None

    def _greatest_dir(self) -> str | None:
        """NORMAL-DIR-1: the greatest intermediate directory, None when there is none.

        Listing TOP costs O(directories) per add, so the answer is kept with TOP's stat taken
        before the listing (inode, mtime, size, link count; creating or removing an intermediate
        directory changes the mtime and the link count) and reused while that stat is unchanged.
        RACE: with coarse filesystem timestamps, changes in the same clock tick as the last one
        before our stat that leave size and link count as they were (a directory created and
        another removed) are missed; adds then go to a directory that is no longer the greatest
        until it is full or TOP changes again (the order is FIFO-ish anyway, NORMAL-DIR-5). A
        cached directory purged meanwhile makes the rename fail with ENOENT; _publish forgets it.
        """
        try:
            info = os.stat(self.path)  # TOP itself may be a symlink (SEC-1)
        except OSError as exc:
            raise io_error("stat", self.path, exc) from None
        key = (info.st_ino, info.st_mtime_ns, info.st_size, info.st_nlink)
        cached = self._greatest  # one tuple, read and replaced whole (thread-safe)
        if cached[0] == key:
            return cached[1]
        directories = self._intermediate_dirs()
        greatest = directories[-1] if directories else None
        self._greatest = (key, greatest)
        return greatest

    def _entries(self, directory: str) -> int | None:
        """NORMAL-DIR-2: readdir entries of an intermediate dir (nlink-2 only when configured).

        A readdir count costs O(entries), so the count this object left after its last add is
        reused while the directory's inode, mtime and size are unchanged (nobody added or removed
        since), and while it says "not full": a full verdict is always re-counted. With coarse
        filesystem timestamps (Linux < 6.13) a change in the same clock tick may be missed; that
        can only make producers overshoot maxelts (NORMAL-DIR-5), and the next visible change
        re-counts.
        """
        path = f"{self.path}/{directory}"
        try:
            info = os.lstat(path)
            if self.nlink:
                return info.st_nlink - 2
            fill = self._fill
            if fill[:4] == (directory, info.st_ino, info.st_mtime_ns, info.st_size) and fill[4] < self.maxelts:
                return fill[4]
            return len(os.listdir(path))
        except (FileNotFoundError, NotADirectoryError):
            return None  # RACE: purged meanwhile
        except OSError as exc:
            raise io_error("list", path, exc) from None

    def _remember_fill(self, directory: str, entries: int) -> None:
        """Record ``directory``'s entry count right after our own rename into it (see _entries)."""
        if self.nlink:
            return
        try:
            info = os.lstat(f"{self.path}/{directory}")
        except OSError:
            return  # only a cache: the next add counts
        self._fill = (directory, info.st_ino, info.st_mtime_ns, info.st_size, entries)

    # -- consumer ----------------------------------------------------------

    def lock(self, name: str, permissive: bool = True) -> bool:
        """NORMAL-LOCK-1..3: mkdir E/locked (which also stamps E's mtime)."""
        path = self._element_path(name)
        locked = f"{path}/{LOCKED}"
        try:
            make_dir(locked, self._modes)
        except FileExistsError:
            return refused(permissive, Locked(f"element {name} is already locked"))
        except (FileNotFoundError, NotADirectoryError):
            return refused(permissive, NotFound(f"no element {name}"))
        except OSError as exc:
            raise io_error("mkdir", locked, exc) from None
        try:
            os.lstat(path)  # NORMAL-LOCK-2
        except FileNotFoundError:
            # RACE: another consumer locked and removed the element meanwhile.
            return refused(permissive, NotFound(f"no element {name}"))
        except OSError as exc:
            raise io_error("lstat", path, exc) from None
        return True

    def unlock(self, name: str, permissive: bool = False) -> bool:
        """NORMAL-UNLOCK-1: rmdir E/locked."""
        locked = f"{self._element_path(name)}/{LOCKED}"
        try:
            os.rmdir(locked)
        except (FileNotFoundError, NotADirectoryError):
            return refused(permissive, NotLocked(f"element {name} is not locked"))
        except OSError as exc:
            raise io_error("rmdir", locked, exc) from None
        return True

    def touch(self, name: str) -> None:
        """NORMAL-TOUCH-1: set the element directory's mtime to now."""
        path = self._element_path(name)  # NAME-10 (touch included)
        try:
            os.utime(path, follow_symlinks=False)
        except FileNotFoundError:
            raise NotFound(f"no element {name}") from None
        except OSError as exc:
            raise io_error("utime", path, exc) from None

    def _check_locked(self, name: str) -> str:
        """NORMAL-GET-1, NORMAL-REMOVE-1: the element path if E/locked is a directory."""
        path = self._element_path(name)
        if not is_directory(f"{path}/{LOCKED}"):
            raise NotLocked(f"element {name} is not locked")
        return path

    def get(self, name: str) -> dict[str, Value]:
        """NORMAL-GET-1/2: the fields of a locked element, decoded per schema."""
        schema = self._need_schema()
        path = self._check_locked(name)
        record: dict[str, Value] = {}
        for field in schema.fields:
            content = self._read_field(f"{path}/{field.name}")
            if content is not None:
                record[field.name] = field.decode(content, f"{name}/{field.name}")
            elif not field.optional:
                raise InvalidData(f"element {name}: missing mandatory field {field.name}")
        return record

    @staticmethod
    def _read_field(path: str) -> bytes | None:
        """NORMAL-GET-2, SEC-1: a field file's bytes, None if absent; must be a regular file.

        O_NOFOLLOW + fstat check the file actually read (equivalent to lstat, without its race).
        """
        try:
            fd = os.open(path, READ_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidData(f"{path}: is a symbolic link") from None
            raise io_error("open", path, exc) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InvalidData(f"{path}: not a regular file")
            return read_fd(fd)
        except OSError as exc:
            raise io_error("read", path, exc) from None
        finally:
            os.close(fd)

    def get_path(self, name: str) -> str:
        """NORMAL-GET-3: the element directory's path."""
        return self._element_path(name)

    def remove(self, name: str) -> None:
        """NORMAL-REMOVE-1..3: move a locked element to obsolete/, then delete it."""
        path = self._check_locked(name)
        while True:
            obsolete = f"{self._obsolete}/{self._new_name()}"
            try:
                os.rename(path, obsolete)
                break
            except OSError as exc:
                if exc.errno in COLLISION:
                    continue  # NAME-6: collision, new name
                if exc.errno == errno.ENOENT and not os.path.lexists(path):
                    raise NotFound(f"no element {name}") from None  # RACE: removed by another
                raise io_error("rename", path, exc) from None
        self._destroy(obsolete, strict=True)

    def _destroy(self, path: str, strict: bool) -> None:
        """Delete an element-shaped directory: its field files, then locked/, then itself.

        NORMAL-REMOVE-3, COMMON-2: foreign entries are never deleted; with ``strict`` they are
        an error (nothing deleted), otherwise (purge, add cleanup) they are left with their dir.
        """
        try:
            with os.scandir(path) as entries:
                listing = [(e.name, e.path, e.is_dir(follow_symlinks=False)) for e in entries]
        except FileNotFoundError:
            return  # RACE: another purger got it first
        except OSError as exc:
            raise io_error("list", path, exc) from None
        foreign = [n for n, _, is_dir in listing if n != LOCKED and (is_dir or not is_field_name(n))]
        if strict and foreign:
            raise QueueIOError(f"cannot remove {path}: unexpected entries {', '.join(sorted(foreign))}")
        for entry_name, entry_path, _ in listing:
            if entry_name not in foreign and entry_name != LOCKED:
                try:
                    os.unlink(entry_path)
                except FileNotFoundError:
                    pass  # RACE: another purger
                except OSError as exc:
                    raise io_error("unlink", entry_path, exc) from None
        while not self._remove_dirs(path, strict):
            pass  # RACE: a racing lock made locked/ again after we removed it (NORMAL-REMOVE-4)

    @staticmethod
    def _remove_dirs(path: str, strict: bool) -> bool:
        """Remove ``path/locked`` then ``path``; False when ``locked`` came back in between."""
        for directory in (f"{path}/{LOCKED}", path):
            try:
                os.rmdir(directory)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    continue  # RACE: another purger
                if exc.errno in COLLISION and directory == path and os.path.isdir(f"{path}/{LOCKED}"):
                    return False
                if strict or exc.errno not in COLLISION:  # not strict: foreign entries stay
                    raise io_error("rmdir", directory, exc) from None
        return True

    # -- purger ------------------------------------------------------------

    def purge(self, maxtemp: int | None = None, maxlock: int | None = None) -> None:
        """NORMAL-PURGE-1..5."""
        temp_limit, lock_limit = self._purge_limits(maxtemp, maxlock)  # NORMAL-PURGE-1
        directories = self._intermediate_dirs()
        self._remove_empty_dirs(directories)  # NORMAL-PURGE-2
        if temp_limit is not None:
            for volatile in (self._temporary, self._obsolete):
                self._purge_volatile(volatile, temp_limit)
        if lock_limit is not None:
            for directory in directories:
                for element in self._element_names(directory):
                    path = f"{self.path}/{directory}/{element}"
                    if is_stale(path, lock_limit):
                        self._unlock_stale(path)

    def _purge_volatile(self, volatile: str, limit: int) -> None:
        """NORMAL-PURGE-3: destroy element-shaped dirs of temporary/ or obsolete/ older than maxtemp."""
        try:
            with os.scandir(volatile) as entries:
                stale = [e.path for e in entries if is_element_name(e.name) and e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return
        except OSError as exc:
            raise io_error("list", volatile, exc) from None
        for path in stale:
            if is_stale(path, limit):
                self._destroy(path, strict=False)

    @staticmethod
    def _unlock_stale(path: str) -> None:
        """NORMAL-PURGE-4: unlock an element whose lock time (its mtime) is stale."""
        locked = f"{path}/{LOCKED}"
        try:
            os.rmdir(locked)
        except OSError as exc:
            # RACE: ENOENT: not locked, or unlocked/removed meanwhile. ENOTDIR/ENOTEMPTY: not a
            # lock we made (COMMON-2: left alone). A consumer may relock between our lstat and
            # rmdir; its fresh lock is then lost, as in every implementation of this design.
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, *COLLISION):
                raise io_error("rmdir", locked, exc) from None
