"""Check a live queue directory against SPEC.md, and repair what a purge would: ``dirqkit fsck``.

:class:`Fsck` opens TOP (following it if it is a symbolic link, as SEC-1
allows), lists it, detects the queue type unless told, then yields one
:class:`Finding` per problem: the requirement ID, the path relative to TOP and
a plain explanation. It walks the tree through directory descriptors opened
with ``O_NOFOLLOW``: no symbolic link inside the queue is ever followed, and
with ``repair`` it unlinks and removes only what a purge would (stale temps,
stale locks, stale ``temporary/`` and ``obsolete/`` entries, empty intermediate
directories that are not the greatest), all relative to those descriptors, so
it never writes outside the queue and never deletes an element.

Memory is bounded as for iteration (ITER-2): TOP's listing and one
intermediate directory's listing at a time; every check of an entry uses that
listing, one lstat when it needs a time, mode or inode, and, in a Normal
queue, the small listing of the element's own directory.
"""

from __future__ import annotations

import bisect
import errno
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Self

from dirqkit.trees.manifest import DIR_FLAGS, READ_FLAGS, symlink_escapes
from dirqref.errors import InvalidData
from dirqref.names import is_directory_name, is_element_name
from dirqref.schema import LOCKED, Field, Schema, is_field_name

NS_PER_SECOND = 1_000_000_000
TEMPORARY, OBSOLETE = "temporary", "obsolete"  # NORMAL-LAYOUT-1
TEMP_SUFFIX, LOCK_SUFFIX = ".tmp", ".lck"  # SIMPLE-LAYOUT-2
# Names a producer may have meant as a queue name: hex digits of about the right
# length, any case. They are reported as malformed (NAME-8, DIR-1), not as foreign.
DIR_LOOKALIKE = re.compile(r"[0-9a-fA-F]{6,10}")
ELEMENT_LOOKALIKE = re.compile(r"[0-9a-fA-F]{10,18}")
MAX_FIELD_NAMES = 64  # distinct field names counted when no schema is given
PROGRESS_EVERY = 4096  # entries between two progress callbacks inside one directory
REPAIRS = ("unlinked", "removed", "destroyed")  # what a repair reports when it changed the tree


class QueueUnreadable(Exception):
    """TOP does not exist, is not a directory, or cannot be listed (exit 2)."""


@dataclass(frozen=True)
class Finding:
    id: str  # the SPEC.md requirement the problem concerns
    path: str  # relative to TOP ("." is TOP)
    message: str
    repaired: str | None = None  # what the repair did, when it did something


@dataclass(frozen=True)
class Settings:
    queue_type: str | None = None  # None: detect it
    schema: Schema | None = None
    maxtemp: int = 300  # COMMON-8 defaults
    maxlock: int = 600
    umask: int | None = None  # check modes against it (COMMON-3)
    repair: bool = False


@dataclass
class Summary:
    directories: int = 0  # intermediate directories
    directories_done: int = 0
    entries: int = 0
    elements: int = 0
    locked: int = 0
    findings: int = 0
    repaired: int = 0
    field_files: dict[str, int] = field(default_factory=dict)  # Normal without schema: field -> elements


@dataclass
class Listing:
    """One directory's entry names, sorted, with their kinds.

    Only entries whose kind is not ``usual`` are kept in ``odd``, so that a
    directory of a million elements costs a million names, not a million records.
    """

    names: list[str]
    odd: dict[str, str]
    usual: str

    def kind(self, name: str) -> str:
        return self.odd.get(name, self.usual)

    def __contains__(self, name: str) -> bool:
        index = bisect.bisect_left(self.names, name)
        return index < len(self.names) and self.names[index] == name


def list_directory(dir_fd: int, usual: str) -> Listing:
    """The listing of the open directory ``dir_fd``; kinds come from d_type, else lstat (never following)."""
    names: list[str] = []
    odd: dict[str, str] = {}
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            names.append(entry.name)
            try:
                kind = ("symlink" if entry.is_symlink() else "dir" if entry.is_dir(follow_symlinks=False)
                        else "file" if entry.is_file(follow_symlinks=False) else "other")
            except FileNotFoundError:
                kind = "gone"  # RACE: removed between readdir and lstat
            if kind != usual:
                odd[entry.name] = kind
    names.sort()  # ITER-1 order, so findings come out in queue order
    return Listing(names, odd, usual)


def _age(info: os.stat_result, now_ns: int) -> str:
    return f"{max(0, now_ns - info.st_mtime_ns) / NS_PER_SECOND:.0f} s old"


class Fsck:
    """One check of the queue at ``top``; use as a context manager, then iterate :meth:`findings`."""

    def __init__(self, top: str, settings: Settings, progress: Callable[[Summary], None] | None = None) -> None:
        self.top, self.settings, self.progress = top, settings, progress
        self.summary = Summary()
        self.now_ns = time.time_ns()  # COMMON-5: "now" is read once, as a purge does
        try:
            self.top_fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # TOP may be a symlink (SEC-1)
        except FileNotFoundError:
            raise QueueUnreadable(f"{top}: no such directory") from None
        except NotADirectoryError:
            raise QueueUnreadable(f"{top}: not a directory") from None
        except OSError as exc:
            raise QueueUnreadable(f"{top}: cannot open: {exc.strerror}") from None
        try:
            self.top_listing = list_directory(self.top_fd, "dir")  # ITER-6: an unlistable TOP is an error
        except OSError as exc:
            os.close(self.top_fd)
            raise QueueUnreadable(f"{top}: cannot list: {exc.strerror}") from None
        self.directories = [n for n in self.top_listing.names if is_directory_name(n) and self.top_listing.kind(n) == "dir"]
        self.summary.directories = len(self.directories)
        self.detected = settings.queue_type is None
        self.queue_type = settings.queue_type or self._detect_type()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.top_fd)

    # -- the walk -------------------------------------------------------------

    def findings(self) -> Iterator[Finding]:
        """Every finding, TOP first, then (Normal) temporary/ and obsolete/, then each intermediate directory."""
        info = os.fstat(self.top_fd)
        if info.st_mode & stat.S_IWOTH:
            yield self._found("SEC-4", ".", "TOP is writable by every user: anyone can add, lock, read and remove elements")
        for name in self.top_listing.names:
            yield from self._top_entry(name, self.top_listing.kind(name))
        if self.queue_type == "normal":
            for name in (TEMPORARY, OBSOLETE):
                if name not in self.top_listing:
                    yield self._found("NORMAL-LAYOUT-1", name, f"missing: every Normal queue has {name}/; "
                                      "the next open creates it (NORMAL-LAYOUT-2)")
                elif self.top_listing.kind(name) == "dir":
                    yield from self._in_subdirectory(self.top_fd, name, name, partial(self._pending_entries, dir_name=name))
        for index, name in enumerate(self.directories):
            greatest = index == len(self.directories) - 1
            yield from self._in_subdirectory(self.top_fd, name, name, partial(self._intermediate, dir_path=name, greatest=greatest))
            self.summary.directories_done += 1
            self._tick()

    def _in_subdirectory(self, parent_fd: int, name: str, path: str, check: Callable[[int], Iterator[Finding]]) -> Iterator[Finding]:
        """Open directory ``name`` of ``parent_fd`` without following a symlink and run ``check`` on it."""
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                yield self._found("ITER-2", path, f"cannot be opened ({exc.strerror}): consumers fail with io here")
            return  # else RACE: removed, or replaced by a non-directory, since it was listed
        try:
            yield from check(fd)
        except OSError as exc:  # EACCES, EIO, ... on a listing or an lstat inside
            yield self._found("ITER-2", path, f"cannot be checked ({exc.strerror}): consumers fail with io here")
        finally:
            os.close(fd)

    def _top_entry(self, name: str, kind: str) -> Iterator[Finding]:
        """DIR-1, DIR-2, COMMON-2, SEC-1, SEC-2: an entry of TOP."""
        if kind == "symlink":
            yield self._symlink(self.top_fd, name, name, intermediate=is_directory_name(name) is not None)
        elif is_directory_name(name):
            if kind not in ("dir", "gone"):
                yield self._found("DIR-2", name, f"named like an intermediate directory but is a {kind}: "
                                  "conforming implementations skip it, others fail when they list it")
        elif self.queue_type == "normal" and name in (TEMPORARY, OBSOLETE):
            if kind not in ("dir", "gone"):
                yield self._found("NORMAL-LAYOUT-1", name, f"must be a directory, is a {kind}: adds (temporary) or removes (obsolete) fail")
        elif DIR_LOOKALIKE.fullmatch(name):
            yield self._found("DIR-1", name, "looks like an intermediate directory but is not 8 lowercase hex digits: "
                              "every implementation ignores it and everything in it (DIR-2)")
        elif kind != "gone":
            yield self._foreign(name, "")

    def _intermediate(self, dir_fd: int, dir_path: str, greatest: bool) -> Iterator[Finding]:
        """One intermediate directory: its mode, its entries, and whether a purge would remove it."""
        yield from self._mode_check(os.fstat(dir_fd), dir_path, directory=True)
        listing = list_directory(dir_fd, "file" if self.queue_type == "simple" else "dir")
        check = self._simple_entry if self.queue_type == "simple" else self._normal_entry
        removed = 0
        for count, name in enumerate(listing.names, 1):
            self.summary.entries += 1
            for finding in check(dir_fd, dir_path, name, listing):
                removed += finding.repaired in REPAIRS and finding.path == f"{dir_path}/{name}"
                yield finding
            if count % PROGRESS_EVERY == 0:
                self._tick()
        if removed == len(listing.names) and not greatest:
            rule = "SIMPLE-PURGE-5" if self.queue_type == "simple" else "NORMAL-PURGE-2"
            repaired = self._repair(lambda: os.rmdir(dir_path, dir_fd=self.top_fd), "removed")
            yield self._found(rule, dir_path, "empty intermediate directory that is not the greatest: a purge removes it", repaired)

    # -- Simple ------------------------------------------------------------------

    def _simple_entry(self, dir_fd: int, dir_path: str, name: str, listing: Listing) -> Iterator[Finding]:
        """NAME-8, ITER-4, SIMPLE-LAYOUT-2, SIMPLE-PURGE-2..4, CRASH-4: one entry of a Simple intermediate directory."""
        path, kind = f"{dir_path}/{name}", listing.kind(name)
        if kind == "gone":
            return  # RACE: removed since it was listed
        if kind == "symlink":
            yield self._symlink(dir_fd, name, path)
            return
        stem, suffix = (name[:-4], name[-4:]) if name.endswith((TEMP_SUFFIX, LOCK_SUFFIX)) else (name, "")
        if is_element_name(name):
            if kind != "file":
                yield self._found("ITER-4", path, f"named like an element but is a {kind}: never delivered")
                return
            self.summary.elements += 1
            if self.settings.umask is not None:
                info = self._lstat(dir_fd, name)
                if info is not None:
                    yield from self._mode_check(info, path, directory=False, note=" (unless it was added with add_path, SIMPLE-ADDPATH-2)")
        elif suffix and is_element_name(stem):
            if kind != "file":
                yield self._foreign(path, f" (a {kind} named like a {'temp' if suffix == TEMP_SUFFIX else 'lock'}; SIMPLE-PURGE-4)")
                return
            info = self._lstat(dir_fd, name)
            if info is not None:
                check = self._simple_temp if suffix == TEMP_SUFFIX else self._simple_lock
                yield from check(dir_fd, path, name, stem, info, listing)
        elif ELEMENT_LOOKALIKE.fullmatch(stem):
            what = {TEMP_SUFFIX: "a temp", LOCK_SUFFIX: "a lock"}.get(suffix, "an element")
            yield self._found("NAME-8", path, f"looks like {what} but {stem!r} is not 14 lowercase hex digits: "
                              "never delivered, locked or purged")
        else:
            yield self._foreign(path, "")

    def _simple_temp(self, dir_fd: int, path: str, name: str, stem: str, info: os.stat_result, listing: Listing) -> Iterator[Finding]:
        yield from self._mode_check(info, path, directory=False)
        if self._stale(info, self.settings.maxtemp):  # SIMPLE-PURGE-2, CRASH-1, CRASH-2
            repaired = self._repair(lambda: os.unlink(name, dir_fd=dir_fd), "unlinked")
            yield self._found("SIMPLE-PURGE-2", path, f"stale temp ({_age(info, self.now_ns)}, maxtemp {self.settings.maxtemp} s): "
                              "an add that never finished; a purge unlinks it", repaired)

    def _simple_lock(self, dir_fd: int, path: str, name: str, stem: str, info: os.stat_result, listing: Listing) -> Iterator[Finding]:
        stale = self._stale(info, self.settings.maxlock)  # the lock's time is the element inode's mtime
        repaired = self._repair(lambda: os.unlink(name, dir_fd=dir_fd), "unlinked") if stale else None
        element = self._lstat(dir_fd, stem) if stem in listing and listing.kind(stem) == "file" else None
        if element is None:
            yield self._found("CRASH-4", path, "lock without its element: a remove killed between its two unlinks; "
                              f"a purge unlinks it once older than maxlock ({_age(info, self.now_ns)})", repaired)
        elif (element.st_dev, element.st_ino) != (info.st_dev, info.st_ino):
            yield self._found("SIMPLE-LAYOUT-2", path, "not a hard link to its element: the element counts as locked, "
                              "but get reads this other file", repaired)
        else:
            self.summary.locked += 1
            if stale:
                yield self._found("SIMPLE-PURGE-3", path, f"stale lock ({_age(info, self.now_ns)}, maxlock {self.settings.maxlock} s): "
                                  "its holder is presumed dead; a purge releases it and the element is delivered again (CRASH-3)", repaired)

    # -- Normal ------------------------------------------------------------------

    def _normal_entry(self, dir_fd: int, dir_path: str, name: str, listing: Listing) -> Iterator[Finding]:
        """NAME-8, ITER-4, COMMON-2: one entry of a Normal intermediate directory."""
        path, kind = f"{dir_path}/{name}", listing.kind(name)
        if kind == "gone":
            return
        if kind == "symlink":
            yield self._symlink(dir_fd, name, path)
        elif is_element_name(name):
            if kind == "dir":
                yield from self._in_subdirectory(dir_fd, name, path, partial(self._normal_element, path=path))
            else:
                yield self._found("ITER-4", path, f"named like an element but is a {kind}: never delivered")
        elif ELEMENT_LOOKALIKE.fullmatch(name):
            yield self._found("NAME-8", path, "looks like an element but is not 14 lowercase hex digits: never delivered")
        else:
            yield self._foreign(path, " (it also counts toward maxelts, NORMAL-DIR-2)")

    def _normal_element(self, fd: int, path: str) -> Iterator[Finding]:
        """NORMAL-LAYOUT-1, NORMAL-LOCK-1, NORMAL-GET-2, NORMAL-REMOVE-3, NORMAL-PURGE-4, SCHEMA-3: one element directory."""
        self.summary.elements += 1
        info = os.fstat(fd)  # its mtime is the lock time (NORMAL-LOCK-3)
        yield from self._mode_check(info, path, directory=True)
        listing = list_directory(fd, "file")
        present = []
        for name in listing.names:
            kind, inner = listing.kind(name), f"{path}/{name}"
            if kind == "symlink":
                yield self._symlink(fd, name, inner)
            elif name == LOCKED:
                if kind == "dir":
                    yield from self._normal_lock(fd, inner, info)
                elif kind != "gone":
                    yield self._found("NORMAL-LOCK-1", inner, f"'locked' is a {kind}, not a directory: every lock fails "
                                      "and get refuses the element, so it is never delivered")
            elif is_field_name(name) and kind == "file":
                present.append(name)
                if self.settings.umask is not None:
                    field_info = self._lstat(fd, name)
                    if field_info is not None:
                        yield from self._mode_check(field_info, inner, directory=False)
            elif kind == "dir":
                yield self._found("NORMAL-REMOVE-3", inner, "a directory inside an element: remove fails with io and deletes nothing")
            elif is_field_name(name) and kind != "gone":
                yield self._found("NORMAL-GET-2", inner, f"field file is a {kind}: get fails with invalid_data")
            elif kind != "gone":
                yield self._found("NORMAL-REMOVE-3", inner, "foreign entry inside an element: remove fails with io and deletes nothing")
        schema = self.settings.schema
        if schema is None:
            self._count_fields(present)
            if not present:
                yield self._found("SCHEMA-3", path, "element directory without any field file: every schema has a mandatory field, so get fails")
            return
        for field_spec in schema.fields:
            if field_spec.name in present:
                yield from self._field_content(fd, f"{path}/{field_spec.name}", field_spec)
            elif not field_spec.optional:
                yield self._found("NORMAL-GET-2", f"{path}/{field_spec.name}", f"mandatory field {field_spec.name} missing: get fails with invalid_data")

    def _normal_lock(self, fd: int, path: str, element: os.stat_result) -> Iterator[Finding]:
        self.summary.locked += 1
        lock = self._lstat(fd, LOCKED)
        if lock is not None:
            yield from self._mode_check(lock, path, directory=True)
        if self._stale(element, self.settings.maxlock):  # NORMAL-PURGE-4, CRASH-3
            repaired = self._repair(lambda: os.rmdir(LOCKED, dir_fd=fd), "removed")
            yield self._found("NORMAL-PURGE-4", path, f"stale lock (element {_age(element, self.now_ns)}, maxlock {self.settings.maxlock} s): "
                              "its holder is presumed dead; a purge releases it and the element is delivered again (CRASH-3)", repaired)

    def _field_content(self, fd: int, path: str, field_spec: Field) -> Iterator[Finding]:
        """NORMAL-FIELD-3, TABLE-5: the field file decodes per its schema type (binary always does)."""
        if field_spec.type == "binary":
            return
        try:
            file_fd = os.open(field_spec.name, READ_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            return  # RACE: removed meanwhile
        with os.fdopen(file_fd, "rb") as stream:
            if not stat.S_ISREG(os.fstat(file_fd).st_mode):
                return  # RACE: replaced by a FIFO or device since it was listed (SEC-6: never read one)
            content = stream.read()
        try:
            field_spec.decode(content, path)
        except InvalidData as exc:
            rule = "NORMAL-FIELD-3" if field_spec.type == "string" else "TABLE-5"
            yield self._found(rule, path, f"{str(exc).removeprefix(path + ': ')}: get fails with invalid_data")

    def _count_fields(self, names: list[str]) -> None:
        counts = self.summary.field_files
        for name in names:
            if name in counts or len(counts) < MAX_FIELD_NAMES:
                counts[name] = counts.get(name, 0) + 1

    def _pending_entries(self, fd: int, dir_name: str) -> Iterator[Finding]:
        """NORMAL-PURGE-3, NORMAL-PURGE-6, CRASH-1, CRASH-4: the entries of temporary/ or obsolete/."""
        yield from self._mode_check(os.fstat(fd), dir_name, directory=True)
        listing = list_directory(fd, "dir")
        for name in listing.names:
            path, kind = f"{dir_name}/{name}", listing.kind(name)
            if kind == "symlink":
                yield self._symlink(fd, name, path)
            elif is_element_name(name) and kind == "dir":
                yield from self._in_subdirectory(fd, name, path, partial(self._pending, fd, dir_name=dir_name, name=name))
            elif ELEMENT_LOOKALIKE.fullmatch(name):
                yield self._found("NAME-8", path, "looks like an element but is not 14 lowercase hex digits: purge never removes it")
            elif kind != "gone":
                yield self._foreign(path, "")

    def _pending(self, parent_fd: int, fd: int, dir_name: str, name: str) -> Iterator[Finding]:
        """One ``temporary/N`` or ``obsolete/N``: foreign content, and staleness per maxtemp."""
        path, info = f"{dir_name}/{name}", os.fstat(fd)
        yield from self._mode_check(info, path, directory=True)
        listing = list_directory(fd, "file")
        foreign = 0
        for inner in listing.names:
            kind = listing.kind(inner)
            if kind == "symlink":
                yield self._symlink(fd, inner, f"{path}/{inner}")
                foreign += 1
            elif not ((is_field_name(inner) and kind == "file") or (inner == LOCKED and kind == "dir") or kind == "gone"):
                foreign += 1
                yield self._found("NORMAL-PURGE-6", f"{path}/{inner}", f"foreign entry: purge never removes it, so {path} stays")
        if self._stale(info, self.settings.maxtemp):
            repaired = self._repair(lambda: self._destroy(parent_fd, fd, name, listing), "destroyed") if not foreign else None
            if foreign and self.settings.repair:
                repaired = "kept: foreign entries remain"
            what = "an add" if dir_name == TEMPORARY else "a remove"
            rule = "NORMAL-PURGE-3" if dir_name == TEMPORARY else "CRASH-4"
            yield self._found(rule, path, f"stale ({_age(info, self.now_ns)}, maxtemp {self.settings.maxtemp} s): "
                              f"{what} that never finished; a purge destroys it", repaired)

    @staticmethod
    def _destroy(parent_fd: int, fd: int, name: str, listing: Listing) -> None:
        """NORMAL-PURGE-3: unlink the field files, remove ``locked``, then the directory itself."""
        for inner in listing.names:
            try:
                if inner == LOCKED and listing.kind(inner) == "dir":
                    os.rmdir(inner, dir_fd=fd)
                elif is_field_name(inner) and listing.kind(inner) == "file":
                    os.unlink(inner, dir_fd=fd)
            except FileNotFoundError:
                pass  # RACE: another purger
        os.rmdir(name, dir_fd=parent_fd)

    # -- shared checks -------------------------------------------------------------

    def _found(self, rule: str, path: str, message: str, repaired: str | None = None) -> Finding:
        self.summary.findings += 1
        self.summary.repaired += repaired in REPAIRS
        return Finding(rule, path, message, repaired)

    def _foreign(self, path: str, note: str) -> Finding:
        return self._found("COMMON-2", path, f"foreign entry{note}: ignored by every implementation and never removed; "
                           "fine if an operator put it there")

    def _symlink(self, dir_fd: int, name: str, path: str, intermediate: bool = False) -> Finding:
        """SEC-1, SEC-2: a symbolic link inside the queue (reported, never followed)."""
        try:
            target = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            target = "?"  # RACE: replaced since it was listed
        if intermediate:
            return self._found("SEC-2", path, f"intermediate directory is a symbolic link to {target!r}: conforming "
                               "implementations do not descend into it; others read and purge what it points to")
        if symlink_escapes(path, target):
            return self._found("SEC-2", path, f"symbolic link to {target!r}, outside the queue: implementations that "
                               "follow links would read, stamp or remove a file outside TOP")
        return self._found("SEC-1", path, f"symbolic link to {target!r}: conforming implementations never follow it "
                           "and do not treat it as an element, lock or field")

    def _mode_check(self, info: os.stat_result, path: str, *, directory: bool, note: str = "") -> Iterator[Finding]:
        """COMMON-3: with the umask option, files are created 0666 & ~umask and directories 0777 & ~umask."""
        umask = self.settings.umask
        if umask is None:
            return
        wanted = (0o777 if directory else 0o666) & ~umask
        actual = stat.S_IMODE(info.st_mode) & 0o777  # a setgid bit inherited from TOP is not a contradiction
        if actual != wanted:
            yield self._found("COMMON-3", path, f"mode {actual:04o}, but umask {umask:04o} gives {wanted:04o}{note}")

    def _stale(self, info: os.stat_result, limit: int) -> bool:
        """COMMON-5, COMMON-6, COMMON-8: lstat mtime strictly before now - limit; a limit of 0 disables."""
        return limit > 0 and info.st_mtime_ns < self.now_ns - limit * NS_PER_SECOND

    @staticmethod
    def _lstat(dir_fd: int, name: str) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None  # RACE: removed since it was listed

    def _repair(self, action: Callable[[], None], done: str) -> str | None:
        """Run a purge action when repairing; ENOENT, ENOTEMPTY and EEXIST are lost races (as in purge)."""
        if not self.settings.repair:
            return None
        try:
            action()
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return "already gone"  # RACE: another purger or consumer
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return "kept: not empty"  # RACE: a producer added to it meanwhile
            return f"failed: {exc.strerror}"
        return done

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(self.summary)

    # -- queue type ------------------------------------------------------------------

    def _detect_type(self) -> str:
        """Normal when TOP has temporary/ or obsolete/, or the first element found is a directory; else Simple."""
        if any(n in self.top_listing and self.top_listing.kind(n) == "dir" for n in (TEMPORARY, OBSOLETE)):
            return "normal"
        for name in self.directories:
            try:
                fd = os.open(name, DIR_FLAGS, dir_fd=self.top_fd)
            except OSError:
                continue  # RACE or unreadable: the walk reports it
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        if is_element_name(entry.name) and not entry.is_symlink():
                            return "normal" if entry.is_dir(follow_symlinks=False) else "simple"
            finally:
                os.close(fd)
        return "simple"
