"""What the kit itself does to and checks on a queue tree during a case.

Case paths are relative to the queue (TOP) or the scratch directory (WORK);
``fs`` actions prepare situations a driver cannot (backdated mtimes, foreign
files, symlinks) and ``tree`` expectations check the on-disk result. Nothing
here follows a symlink or leaves the case's own directories.
"""

from __future__ import annotations

import base64
import errno
import glob
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

GLOB_CHARS = frozenset("*?[")
# ``fresh``: modified less than this long ago. Half the shortest age the kit backdates to in generated
# cases (an hour), and far beyond how long any step takes: "just set" and "backdated" never meet.
FRESH_SECONDS = 1800


class TreeMismatch(Exception):
    """A ``tree`` expectation that the on-disk queue does not meet."""


class CasePathError(Exception):
    """A case path that would leave the case's directories."""


def resolve(top: Path, work: Path, relpath: str) -> Path:
    """Map a case path to a real one: ``WORK/...`` goes to the scratch dir, the rest under TOP."""
    base, rel = (work, relpath[5:]) if relpath.startswith("WORK/") else (top, relpath)
    parts = Path(rel).parts
    if not rel or Path(rel).is_absolute() or ".." in parts:
        raise CasePathError(f"case path {relpath!r} must be relative and stay inside the queue")
    return base / rel


def expand(top: Path, work: Path, pattern: str) -> list[Path]:
    """A literal path, or the sorted matches of a glob pattern (never following symlinks)."""
    path = resolve(top, work, pattern)
    if not GLOB_CHARS & set(pattern):
        return [path]
    base = work if pattern.startswith("WORK/") else top
    rel = pattern[5:] if base is work else pattern
    return [base / m for m in sorted(glob.glob(rel, root_dir=base))]


def data_bytes(spec: dict[str, str]) -> bytes:
    """A case's data literal: ``{text: ...}`` (UTF-8) or ``{base64: ...}``."""
    if "text" in spec:
        return spec["text"].encode("utf-8")
    return base64.b64decode(spec["base64"], validate=True)


class FifoFeeder:
    """A FIFO planted in the tree, and a writer that answers every reader that opens it.

    A reader that opens it as it would a regular file (blocking) is not left
    hanging: the feeder opens the other end as soon as a reader exists, writes
    ``FIFO_DATA`` and closes, so the reader gets those bytes and end of file,
    and the case sees what it did instead of a timeout (SEC-6). The feeder
    polls for readers (O_NONBLOCK open, ENXIO while there is none) until
    ``stop``.
    """

    POLL = 0.002

    def __init__(self, path: Path) -> None:
        self.path, self._stop = path, threading.Event()
        os.mkfifo(path, 0o666)
        self._thread = threading.Thread(target=self._feed, name=f"fifo-feeder {path.name}", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # gone (removed with its element): nothing left to feed
                    return
                self._stop.wait(self.POLL)
                continue
            try:
                os.write(fd, FIFO_DATA)
            except OSError:
                pass  # the reader closed first (it refused to read a FIFO)
            finally:
                os.close(fd)
            self._stop.wait(self.POLL)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


FIFO_DATA = b"written into a FIFO by the kit\n"


def apply_fs(top: Path, work: Path, action: dict[str, Any]) -> FifoFeeder | None:
    """Run one ``fs`` step; a ``fifo`` step returns its feeder, which the caller stops at the end of the case."""
    if "fifo" in action:
        path = resolve(top, work, action["fifo"])
        path.parent.mkdir(parents=True, exist_ok=True)
        return FifoFeeder(path)
    if "backdate" in action:
        when = time.time() - float(action.get("seconds", 3600))
        for pattern in action["backdate"]:
            for path in expand(top, work, pattern):
                os.utime(path, (when, when), follow_symlinks=False)
    elif "write" in action:
        path = resolve(top, work, action["write"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data_bytes({k: action[k] for k in ("text", "base64") if k in action} or {"text": ""}))
    elif "mkdir" in action:
        resolve(top, work, action["mkdir"]).mkdir(parents=True, exist_ok=True)
    elif "symlink" in action:
        os.symlink(action["target"], resolve(top, work, action["symlink"]))
    elif "remove" in action:
        for path in expand(top, work, action["remove"]):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
    elif "rename" in action:  # "." is TOP itself: a queue whose TOP vanished, and came back
        os.rename(resolve(top, work, action["rename"]), resolve(top, work, action["to"]))
    elif "chmod" in action:
        for path in expand(top, work, action["chmod"]):
            os.chmod(path, int(action["mode"], 8))
    else:
        raise CasePathError(f"fs step {action!r} names no action")
    return None


def _kind(path: Path) -> str:
    mode = os.lstat(path).st_mode
    return "symlink" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode) else "fifo" if stat.S_ISFIFO(mode) else "file"


def check_tree(top: Path, work: Path, expectation: dict[str, Any]) -> None:
    """Raise TreeMismatch naming the first expectation the tree does not meet."""
    for pattern in expectation.get("present", []):
        matches = [p for p in expand(top, work, pattern) if os.path.lexists(p)]
        if not matches:
            raise TreeMismatch(f"expected {pattern} to exist; it does not")
    for pattern in expectation.get("absent", []):
        matches = [p for p in expand(top, work, pattern) if os.path.lexists(p)]
        if matches:
            shown = ", ".join(str(p.relative_to(top)) if p.is_relative_to(top) else str(p) for p in matches[:5])
            raise TreeMismatch(f"expected nothing at {pattern}; found {shown}")
    for pattern, wanted in expectation.get("count", {}).items():
        found = sum(1 for p in expand(top, work, pattern) if os.path.lexists(p))
        if found != wanted:
            raise TreeMismatch(f"expected {wanted} entries matching {pattern}; found {found}")
    for relpath, data in expectation.get("content", {}).items():
        path = resolve(top, work, relpath)
        try:
            actual = path.read_bytes() if _kind(path) == "file" else None
        except FileNotFoundError:
            raise TreeMismatch(f"expected {relpath} to hold {data}; it does not exist") from None
        if actual != data_bytes(data):
            raise TreeMismatch(f"expected {relpath} to hold {data}; it holds {actual[:80]!r}" if actual is not None
                               else f"expected {relpath} to be a file")
    for relpath, mode in expectation.get("mode", {}).items():
        actual_mode = stat.S_IMODE(os.lstat(resolve(top, work, relpath)).st_mode)
        if actual_mode != int(mode, 8):
            raise TreeMismatch(f"expected {relpath} to have mode {mode}; it has {actual_mode:04o}")
    for key, fresh in (("fresh", True), ("old", False)):
        for pattern in expectation.get(key, []):
            for path in expand(top, work, pattern):
                age = time.time() - os.lstat(path).st_mtime if os.path.lexists(path) else None
                if age is None or (age < FRESH_SECONDS) != fresh:
                    where = path.relative_to(top) if path.is_relative_to(top) else path
                    wanted = "to have been modified just now" if fresh else "to keep its old time"
                    raise TreeMismatch(f"expected {where} {wanted}; it " +
                                       ("does not exist" if age is None else f"was modified {age:.0f} s ago"))
    for relpath, kind in expectation.get("kind", {}).items():
        path = resolve(top, work, relpath)
        actual_kind = _kind(path) if os.path.lexists(path) else "nothing"
        if actual_kind != kind:
            raise TreeMismatch(f"expected {relpath} to be a {kind}; it is {actual_kind}")


def listing(top: Path, limit: int = 200) -> list[str]:
    """A short ``ls -R``-like view of the tree for failure reports."""
    lines = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            st = os.lstat(path)
            kind = _kind(path)
            lines.append(f"{kind[0]} {stat.S_IMODE(st.st_mode):04o} n{st.st_nlink} {int(time.time() - st.st_mtime):>6}s ago  {path.relative_to(top)}")
            if len(lines) >= limit:
                return lines + ["..."]
    return lines
