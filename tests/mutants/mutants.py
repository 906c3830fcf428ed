"""Broken variants of dirqref: each one a plausible real bug, and the requirement it breaks.

A mutant is a textual edit of one dirqref source file. ``build`` writes a
patched copy of the package; a driver started with that copy first on
PYTHONPATH is the reference driver running the broken code.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import dirqref

SOURCE = Path(dirqref.__file__).resolve().parent


@dataclass(frozen=True)
class Mutant:
    name: str
    requirement: str  # what the bug breaks; the suite must kill it with a case citing this
    file: str
    old: str
    new: str
    why: str


MUTANTS = [
    Mutant("lock-ignores-eexist", "SIMPLE-LOCK-2", "simple.py",
           "            return refused(permissive, Locked(f\"element {name} is already locked\"))  # SIMPLE-LOCK-2",
           "            return True  # SIMPLE-LOCK-2",
           "a consumer treats 'already locked' as its own lock"),
    Mutant("lock-without-touch", "SIMPLE-LOCK-3", "simple.py",
           "            os.utime(path, follow_symlinks=False)  # SIMPLE-LOCK-3, COMMON-7",
           "            pass",
           "lock keeps the element's old mtime, so a fresh lock looks stale"),
    Mutant("unlock-permissive-by-default", "SIMPLE-UNLOCK-1", "simple.py",
           "    def unlock(self, name: str, permissive: bool = False) -> bool:\n        \"\"\"SIMPLE-UNLOCK-1: unlink E.lck.",
           "    def unlock(self, name: str, permissive: bool = True) -> bool:\n        \"\"\"SIMPLE-UNLOCK-1: unlink E.lck.",
           "unlock of an unlocked element silently returns false"),
    Mutant("remove-without-lock-check", "SIMPLE-REMOVE-1", "simple.py",
           "        if not os.access(locked, os.F_OK, follow_symlinks=False):",
           "        if False:",
           "remove deletes an element nobody locked (Perl's behaviour)"),
    Mutant("get-follows-symlinks", "SEC-1", "fsops.py",
           "READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC",
           "READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC",
           "get reads through a symlink planted in the queue"),
    Mutant("no-name-validation", "NAME-10", "names.py",
           "    if type(name) is not str or _is_identifier(name) is None:",
           "    if type(name) is not str:",
           "identifiers are joined into paths unchecked (../ traversal)"),
    Mutant("rndhex-modulo-16", "NAME-5", "options.py",
           "    return check_int(\"rndhex\", value, 0, 15)",
           "    return check_int(\"rndhex\", value, -(2**31), 2**31) % 16",
           "an out-of-range rndhex is reduced instead of refused (python-dirq, c-dirq)"),
    Mutant("names-not-increasing", "NAME-7", "names.py",
           "        return self._format % divmod(now_us, 1_000_000)",
           "        seconds, micros = divmod(now_us, 1_000_000)\n        return self._format % (seconds, 999_999 - micros)",
           "the microseconds field counts down, so names do not sort in add order"),
    Mutant("iteration-unsorted", "ITER-1", "base.py",
           "        names.sort()  # ITER-1",
           "        names.sort(reverse=True)",
           "intermediate directories are visited newest first"),
    Mutant("granularity-ignored", "SIMPLE-DIR-1", "simple.py",
           "        if self.granularity:\n            now -= now % self.granularity",
           "        pass",
           "the Simple intermediate directory is not rounded to the granularity"),
    Mutant("umask-ignored", "COMMON-3", "fsops.py",
           "            os.fchmod(fd, modes.file)",
           "            pass",
           "the umask option is stored but never applied (c-dirq)"),
    Mutant("purge-maxlock-is-maxtemp", "SIMPLE-PURGE-1", "base.py",
           "        lock = self.maxlock if maxlock is None else check_seconds(\"maxlock\", maxlock)",
           "        lock = temp if maxlock is None else check_seconds(\"maxlock\", maxlock)",
           "Simple purge's default stale-lock age is maxtemp (Perl 2.2)"),
    Mutant("purge-removes-newest-directory", "SIMPLE-PURGE-5", "base.py",
           "        for directory in directories[:-1]:",
           "        for directory in directories:",
           "purge also removes the newest intermediate directory"),
    Mutant("purge-deletes-foreign-files", "COMMON-2", "simple.py",
           "            limit = temp_limit if suffix == TEMPORARY_SUFFIX else lock_limit if suffix == LOCKED_SUFFIX else None",
           "            limit = temp_limit if suffix == TEMPORARY_SUFFIX else lock_limit",
           "purge treats any suffixed file as a stale lock"),
    Mutant("purge-follows-symlinks", "SEC-1", "simple.py",
           "                info = entry.stat(follow_symlinks=False)  # COMMON-6, SEC-1: lstat mtime",
           "                info = entry.stat(follow_symlinks=True)",
           "purge ages a symlink by its target's mtime"),
    Mutant("count-includes-temp", "SIMPLE-COUNT-1", "base.py",
           "        return sum(sum(1 for _ in self._element_names(d)) for d in self._intermediate_dirs())",
           "        return sum(len(os.listdir(f\"{self.path}/{d}\")) for d in self._intermediate_dirs())",
           "count counts every directory entry, temps and locks included"),
    Mutant("table-unescaped", "TABLE-2", "table.py",
           "    return text.replace(\"\\\\\", \"\\\\\\\\\").replace(\"\\t\", \"\\\\t\").replace(\"\\n\", \"\\\\n\")",
           "    return text",
           "table keys and values are written without escaping"),
    Mutant("table-keys-unsorted", "TABLE-1", "table.py",
           "    lines.sort()  # TABLE-1: str order is code point order",
           "    lines.reverse()",
           "table lines follow the caller's key order"),
    Mutant("table-reader-lenient", "TABLE-5", "table.py",
           "        if not tab or \"\\t\" in value:  # TABLE-5, TABLE-7: exactly one TAB (an empty line has none)\n            raise",
           "        if False:\n            raise",
           "a malformed table line is accepted"),
    Mutant("schema-accepts-locked", "SCHEMA-1", "schema.py",
           "    if type(name) is not str or not is_field_name(name) or name == LOCKED:",
           "    if type(name) is not str or not is_field_name(name):",
           "a field named 'locked' is accepted (python-dirq)"),
    Mutant("normal-empty-dir-not-reused", "NORMAL-DIR-4", "normal.py",
           "            if entries is not None and entries < self.maxelts:",
           "            if entries and entries < self.maxelts:",
           "an empty last intermediate directory is skipped (python-dirq)"),
    Mutant("normal-purge-young-temporary", "NORMAL-PURGE-3", "normal.py",
           "            if is_stale(path, limit):\n                self._destroy(path, strict=False)",
           "            self._destroy(path, strict=False)",
           "purge destroys temporary/ entries whatever their age (an add in progress)"),
    Mutant("normal-remove-without-lock-check", "NORMAL-REMOVE-1", "normal.py",
           "        if not is_directory(f\"{path}/{LOCKED}\"):\n            raise NotLocked",
           "        if False:\n            raise NotLocked",
           "get and remove work on elements nobody locked"),
    Mutant("set-remove-keeps-iterating", "SET-5", "queueset.py",
           "                del self._members[index]\n                self._version += 1  # SET-5\n",
           "                del self._members[index]\n",
           "removing a member leaves a running iteration as it was (python-dirq)"),
    # issue 17: SHOULD rules, sizes and bytes, escape edges, identity by TOP, link counts
    Mutant("error-message-without-name", "SPEC-4", "simple.py",
           "            raise NotLocked(f\"element {name} is not locked\") from None",
           "            raise NotLocked(\"element is not locked\") from None",
           "a get error says what went wrong but not which element"),
    Mutant("default-modes-ignore-process-umask", "COMMON-4", "fsops.py",
           "            return cls(None, 0o666, 0o777)  # COMMON-4: subject to the process umask",
           "            return cls(0o022, 0o644, 0o755)",
           "without the umask option, modes are forced to 0644/0755 whatever the process umask"),
    Mutant("table-duplicate-first-wins", "TABLE-8", "table.py",
           "        table[unescape(key)] = unescape(value)  # TABLE-8: last wins",
           "        table.setdefault(unescape(key), unescape(value))",
           "a key repeated in a table keeps its first value"),
    Mutant("table-unescape-sequential", "TABLE-6", "table.py",
           "    return _ESCAPE_RE.sub(lambda match: _UNESCAPES[match.group()], text) if \"\\\\\" in text else text",
           "    return text.replace(\"\\\\t\", \"\\t\").replace(\"\\\\n\", \"\\n\").replace(\"\\\\\\\\\", \"\\\\\")",
           "unescaping by successive replaces reads an escaped backslash before t as a TAB"),
    Mutant("string-accepts-lone-surrogate", "NORMAL-FIELD-2", "schema.py",
           "                return value.encode(\"utf-8\")  # NORMAL-FIELD-2",
           "                return value.encode(\"utf-8\", \"surrogatepass\")",
           "a lone surrogate is written as CESU-style bytes instead of being refused"),
    Mutant("simple-add-short-write", "SIMPLE-ADD-3", "simple.py",
           "                write_all(fd, data)  # SIMPLE-ADD-3",
           "                os.write(fd, data[:4096])",
           "add writes one 4096-byte block and closes: larger elements are cut"),
    Mutant("read-one-chunk", "SIMPLE-GET-1", "fsops.py",
           "    if len(data) < READ_CHUNK:\n        return data  # the common case: the whole file in one read",
           "    if True:\n        return data",
           "get reads one 65536-byte chunk only: larger elements come back cut"),
    Mutant("simple-add-strips-trailing-nul", "SIMPLE-LAYOUT-1", "simple.py",
           "                write_all(fd, data)  # SIMPLE-ADD-3",
           "                write_all(fd, bytes(data).rstrip(b\"\\0\"))",
           "C-string handling drops the trailing NUL bytes of an element"),
    Mutant("simple-get-reads-fifo", "SEC-6", "simple.py",
           "            if not stat.S_ISREG(os.fstat(fd).st_mode):\n                raise QueueIOError(",
           "            if False:\n                raise QueueIOError(",
           "get reads whatever E.lck is, a planted FIFO included"),
    Mutant("normal-get-reads-fifo", "SEC-6", "normal.py",
           "            if not stat.S_ISREG(os.fstat(fd).st_mode):",
           "            if False:",
           "get reads a field file whatever its type, a planted FIFO included"),
    Mutant("normal-locked-by-link-count", "NFS-3", "normal.py",
           "        if not is_directory(f\"{path}/{LOCKED}\"):\n            raise NotLocked",
           "        if os.lstat(path).st_nlink <= 2:\n            raise NotLocked",
           "an element counts as locked when its directory has a subdirectory (python-dirq)"),
    Mutant("normal-fullness-by-link-count", "NORMAL-DIR-2", "normal.py",
           "            return len(os.listdir(path))",
           "            return info.st_nlink - 2",
           "the entries of the insertion directory are counted from its link count"),
    Mutant("set-identity-by-object", "SET-3", "queueset.py",
           "        if any(member.id == queue.id for member in self._members):",
           "        if any(member is queue for member in self._members):",
           "a second queue object on a member's TOP is added to the set again"),
    Mutant("set-identity-by-path", "SET-3", "queueset.py",
           "        if any(member.id == queue.id for member in self._members):",
           "        if any(__import__(\"os\").path.normpath(member.path) == __import__(\"os\").path.normpath(queue.path) for member in self._members):",
           "members are told apart by their normalised path, not by TOP's device and inode"),
    Mutant("set-remove-by-object", "SET-3", "queueset.py",
           "            if member.id == queue.id:\n                del self._members[index]",
           "            if member is queue:\n                del self._members[index]",
           "removing another queue object of a member's TOP is refused"),
    Mutant("set-eager", "SET-6", "queueset.py",
           "    for name in queue:\n        yield name[-14:], index, name, queue",
           "    for name in list(queue):\n        yield name[-14:], index, name, queue",
           "the set reads each member's whole iteration when it starts"),
    # -- the mechanism: syscalls, flags and their order (syscalls cases) --------------------
    Mutant("temp-without-excl", "SIMPLE-ADD-1", "fsops.py",
           "CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC",
           "CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC",
           "the temp is opened with O_TRUNC instead of O_EXCL: two producers can share one file"),
    Mutant("link-before-close", "SIMPLE-ADD-3", "simple.py",
           "            try:\n                write_all(fd, data)  # SIMPLE-ADD-3\n            finally:\n                os.close(fd)\n"
           "        except OSError as exc:\n            unlink_quietly(temp)\n            raise io_error(\"write\", temp, exc) from None\n"
           "        try:\n            name = self._publish(temp, directory)\n",
           "            write_all(fd, data)  # SIMPLE-ADD-3\n"
           "        except OSError as exc:\n            unlink_quietly(temp)\n            raise io_error(\"write\", temp, exc) from None\n"
           "        try:\n            name = self._publish(temp, directory)\n            os.close(fd)\n",
           "the temp is published by link while still open, and closed afterwards"),
    Mutant("lock-utime-follows-symlinks", "SEC-1", "simple.py",
           "            os.utime(path, follow_symlinks=False)  # SIMPLE-LOCK-3, COMMON-7",
           "            os.utime(path)  # SIMPLE-LOCK-3, COMMON-7",
           "lock stamps the lock time through a symbolic link (utime instead of lutimes)"),
    Mutant("touch-follows-symlinks", "SIMPLE-TOUCH-1", "simple.py",
           "            os.utime(path, follow_symlinks=False)\n        except FileNotFoundError:\n            raise NotFound",
           "            os.utime(path)\n        except FileNotFoundError:\n            raise NotFound",
           "touch sets the time of a symbolic link's target"),
    Mutant("remove-lock-before-element", "SIMPLE-REMOVE-2", "simple.py",
           "        try:\n            os.unlink(path)\n        except FileNotFoundError:\n            raise NotFound(f\"no element {name}\") from None\n",
           "        unlink_quietly(locked)\n        try:\n            os.unlink(path)\n        except FileNotFoundError:\n            raise NotFound(f\"no element {name}\") from None\n",
           "remove unlinks E.lck before E, so another consumer can lock an element being removed"),
    Mutant("mkdir-recursive", "DIR-3", "base.py",
           "            ensure_dir(path, self._modes)\n        except OSError as exc:\n            raise io_error(\"mkdir\", path, exc)",
           "            make_tree(path, self._modes)\n        except OSError as exc:\n            raise io_error(\"mkdir\", path, exc)",
           "an intermediate directory is made like mkdir -p: a missing TOP is created again"),
    Mutant("normal-field-without-excl", "NORMAL-ADD-3", "fsops.py",
           "    fd = create_file(path, modes)\n",
           "    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, modes.file)\n",
           "Normal field files are created with O_TRUNC, not O_EXCL (python-dirq's text fields)"),
    Mutant("normal-lock-without-lstat", "NORMAL-LOCK-2", "normal.py",
           "            os.lstat(path)  # NORMAL-LOCK-2",
           "            pass  # NORMAL-LOCK-2",
           "lock trusts its mkdir and never checks that the element is still there"),
    # -- values fixed exactly under controlled time --------------------------------------------
    Mutant("granularity-off-by-one", "SIMPLE-DIR-1", "simple.py",
           "            now -= now % self.granularity",
           "            now -= (now - 1) % self.granularity",
           "the intermediate directory is rounded from the previous second"),
    Mutant("purge-zero-disables-both", "SIMPLE-PURGE-1", "simple.py",
           "        if temp_limit is not None or lock_limit is not None:",
           "        if temp_limit is not None and lock_limit is not None:",
           "a limit of 0 disables the purge of temps and locks alike"),
    # -- races not tolerated (races cases) ---------------------------------------------------
    Mutant("lock-utime-race-not-tolerated", "SIMPLE-LOCK-3", "simple.py",
           "            # RACE: another consumer locked and removed the element between our link and utime.\n"
           "            unlink_quietly(locked)\n            return refused(permissive, NotFound(f\"no element {name}\"))",
           "            raise QueueIOError(f\"cannot utime {path}: no such file\")",
           "lock reports an error when the element is removed between its link and its utime"),
    Mutant("temp-unlink-race-not-tolerated", "SIMPLE-ADD-5", "simple.py",
           "        except FileNotFoundError:\n            pass  # RACE: a purger took our temp for stale; the element is complete anyway\n",
           "",
           "add fails when a purger already removed its temp after the link"),
    Mutant("purge-rmdir-race-not-tolerated", "SIMPLE-PURGE-5", "base.py",
           "                if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):",
           "                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):",
           "purge fails when another purger removed an empty intermediate directory first"),
    Mutant("normal-rename-race-not-tolerated", "NORMAL-ADD-4", "normal.py",
           "                    if exc.errno == errno.ENOENT and os.path.lexists(temp):",
           "                    if False:",
           "add fails when its insertion directory is purged before the rename"),
]


def build(mutant: Mutant, destination: Path) -> Path:
    """Write dirqref with ``mutant`` applied under ``destination``; return the PYTHONPATH entry."""
    package = destination / "dirqref"
    shutil.copytree(SOURCE, package, ignore=shutil.ignore_patterns("__pycache__"))
    target = package / mutant.file
    text = target.read_text(encoding="utf-8")
    if text.count(mutant.old) != 1:
        raise ValueError(f"mutant {mutant.name}: the code it breaks is not (exactly once) in {mutant.file}")
    target.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")
    return destination


def driver_pythonpath(source: Path) -> str:
    """The PYTHONPATH of a reference driver running the mutant built at ``source``: the broken dirqref first,
    then this checkout's kit (not whatever dirqkit the interpreter has installed)."""
    return f"{source}{os.pathsep}{Path(__file__).resolve().parents[2] / 'conformance'}"
