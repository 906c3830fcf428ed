"""Filesystem syscalls of a driver, traced and tampered with by ``strace`` (crash and fault steps).

A :class:`Tracer` attaches ``strace`` to a running driver, so that its
start-up does not count, traces the syscalls that touch files (``TRACED``)
and may inject one thing into the n-th call of one of them: an error
(``NAME:error=ENOSPC:when=N``) or a hold on entry (``NAME:delay_enter=US:when=N``,
released early by :meth:`Tracer.release` once the kit has seen the call held,
:meth:`Tracer.held`, and has copied the tree or played a race meanwhile). :func:`parse_trace`
reads what it wrote. Each syscall has a class: its family (``FAMILIES``, or
``OBSERVED`` for the calls only a syscall profile traces), except that an open
which creates and writes nothing is ``list``.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FAMILIES: dict[str, tuple[str, ...]] = {
    "open": ("open", "openat", "creat"),
    "write": ("write", "pwrite64", "writev"),
    "link": ("link", "linkat", "symlink", "symlinkat"),
    "unlink": ("unlink", "unlinkat"),
    "rename": ("rename", "renameat", "renameat2"),
    "mkdir": ("mkdir", "mkdirat"),
    "rmdir": ("rmdir",),
    "utime": ("utime", "utimes", "utimensat", "futimesat"),
    "chmod": ("chmod", "fchmod", "fchmodat"),
    "truncate": ("truncate", "ftruncate"),
    "sync": ("fsync", "fdatasync"),
}
# Calls that change nothing but show how the others are made (profiles trace them too; crashes do not).
OBSERVED: dict[str, tuple[str, ...]] = {
    "close": ("close",),
    "stat": ("stat", "lstat", "newfstatat", "statx", "fstat"),
}
TRACED = tuple(name for names in FAMILIES.values() for name in names)
PROFILED = TRACED + tuple(name for names in OBSERVED.values() for name in names)
FAMILY_OF = {name: family for family, names in (FAMILIES | OBSERVED).items() for name in names}
WRITE_FLAGS = re.compile(r"O_(?:WRONLY|RDWR|CREAT|TRUNC)")
READ_ONLY_OPEN = "list"  # the class of an open that creates and writes nothing (listing a directory, reading a file)
# With -f every line starts with the thread id; a call that another thread's line interrupts is split
# into "NAME(ARGS <unfinished ...>" and "<... NAME resumed>ARGS) = RESULT" (multithreaded runtimes).
THREAD = r"^(?:\[pid\s+(?P<tid>\d+)\]\s+|(?P<tid2>\d+)\s+)?"
LINE_RE = re.compile(THREAD + r"(?P<name>\w+)\((?P<args>.*)\)\s+=\s+(?P<result>.*)$")
UNFINISHED_RE = re.compile(THREAD + r"(?P<name>\w+)\((?P<args>.*?),? <unfinished \.\.\.>$")
RESUMED_RE = re.compile(THREAD + r"<\.\.\. (?P<name>\w+) resumed>\s*,?\s*(?P<args>.*)\)\s+=\s+(?P<result>.*)$")
# A call strace was holding when it detached (Tracer.release), and the entry of a call held right now.
DETACHED_RE = re.compile(THREAD + r"(?P<name>\w+)\((?P<args>.*) <detached \.\.\.>$")
HELD_RE = re.compile(THREAD + r"(?P<name>\w+)\((?P<args>.*)$")
HELD = "(HELD)"  # the result of a call held back for a race (the kit released it; its result was not traced)
STATE_DIR = re.compile(r"/s\d{4}/")  # the crash explorer's per-run directories
# element and directory names, descriptors, and times (utime with explicit seconds)
GENERATED = re.compile(r"\b[0-9a-f]{14}\b|\b[0-9a-f]{8}\b|\b\d+(?=<)|\b\d{9,}\b")
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
DESCRIPTOR = re.compile(r"^\d+<(?P<path>/[^>]*)>")  # "4</path/of/file>"; pipes show as "1<pipe:[...]>"
ATTACH_TIMEOUT = 10.0


class TraceError(Exception):
    """strace is missing or cannot attach; names the reason."""


@dataclass(frozen=True)
class Syscall:
    name: str
    args: str
    result: str  # "?" when the process died in it
    thread: str = ""  # the thread id strace printed ("" when it printed none)

    @property
    def failed(self) -> bool:
        return self.result.startswith("-1 ")

    @property
    def klass(self) -> str:
        """Its family (FAMILIES), or ``list`` for an open that cannot change the tree."""
        family = FAMILY_OF[self.name]
        return READ_ONLY_OPEN if family == "open" and not WRITE_FLAGS.search(self.args) else family

    @property
    def paths(self) -> list[str]:
        """The quoted string arguments (the drivers pass absolute paths), unescaped as far as paths need."""
        return [text.replace('\\"', '"').replace("\\\\", "\\") for text in QUOTED.findall(self.args)]

    @property
    def full_paths(self) -> list[str]:
        """``paths``, with a path relative to a directory descriptor (``openat(5</d>, "x", ...)``) made absolute."""
        base = self.descriptor_path
        return [p if p.startswith("/") or base is None else f"{base}/{p}" for p in self.paths]

    @property
    def descriptor_path(self) -> str | None:
        """The file behind the first argument when it is a descriptor strace decorated with a path (``-y``)."""
        match = DESCRIPTOR.match(self.args)
        return match["path"] if match else None

    def same_as(self, other: Syscall) -> bool:
        """The same call in another run: equal up to the state directory, generated names and descriptors."""
        return self.name == other.name and _normal_args(self.args) == _normal_args(other.args)

    def short(self, limit: int = 120, result: bool = True) -> str:
        text = f"{self.name}({self.args})" + (f" = {self.result}" if result else "")
        return text if len(text) <= limit else text[: limit - 3] + "..."


def _normal_args(args: str) -> str:
    return GENERATED.sub("N", STATE_DIR.sub("/S/", args))


def parse_trace(text: str) -> list[Syscall]:
    """strace output -> syscalls, in the order they were entered (exit notices and signals are skipped).

    A split call is joined, in the place of its first half; one that never resumed has the
    result ``?`` (its process died in it)."""
    calls: list[Syscall | None] = []
    pending: dict[tuple[str, str], tuple[int, str]] = {}  # (thread, name) -> (place in calls, args so far)
    for line in text.splitlines():
        line = line.strip()
        if match := LINE_RE.match(line):
            calls.append(Syscall(match["name"], match["args"], match["result"].strip(), _thread(match)))
        elif match := UNFINISHED_RE.match(line):
            pending[(_thread(match), match["name"])] = (len(calls), match["args"])
            calls.append(None)
        elif (match := RESUMED_RE.match(line)) and (_thread(match), match["name"]) in pending:
            place, args = pending.pop((_thread(match), match["name"]))
            rest = match["args"]
            calls[place] = Syscall(match["name"], f"{args}, {rest}" if args and rest else args + rest,
                                   match["result"].strip(), _thread(match))
        elif match := DETACHED_RE.match(line):
            calls.append(Syscall(match["name"], match["args"], HELD, _thread(match)))
    for (thread, name), (place, args) in pending.items():
        calls[place] = Syscall(name, args, "?", thread)
    return [call for call in calls if call is not None]


def _thread(match: re.Match[str]) -> str:
    return match["tid"] or match["tid2"] or ""


def nth_of(calls: list[Syscall], index: int) -> int:
    """Which invocation of its syscall ``calls[index]`` is, as ``-e inject=...:when=N`` counts: strace
    counts per thread, so only the calls of the same thread (a runtime's helper threads open files too)."""
    call = calls[index]
    return sum(1 for c in calls[: index + 1] if c.name == call.name and c.thread == call.thread)


class Tracer:
    """strace attached to one running driver, tracing TRACED, maybe injecting into one syscall."""

    def __init__(self, pid: int, output: Path, inject: str | None, traced: tuple[str, ...] = TRACED) -> None:
        if shutil.which("strace") is None:
            raise TraceError("strace is not installed (Debian package strace)")
        self.output = output
        argv = ["strace", "-f", "-y", "-s", "512", "-o", str(output), "-e", "trace=" + ",".join("?" + n for n in traced)]
        if inject:
            argv += ["-e", "inject=" + inject]
        self.proc = subprocess.Popen([*argv, "-p", str(pid)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert self.proc.stderr is not None
        deadline, seen = time.monotonic() + ATTACH_TIMEOUT, b""
        while b"attached" not in seen:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stderr], [], [], max(0.0, remaining))
            chunk = os.read(self.proc.stderr.fileno(), 4096) if ready else b""
            if not chunk:
                self.finish()
                raise TraceError(f"strace did not attach to {pid}: {seen.decode(errors='replace').strip() or 'no message'}")
            seen += chunk

    def held(self, name: str, nth: int) -> Syscall | None:
        """The ``nth`` call ``name`` if the traced process has entered it and not left it (so a
        ``delay_enter`` injected into it holds it now): strace wrote its entry last, with no result."""
        try:
            text = self.output.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        if not text or text.endswith("\n"):
            return None
        done, last = text.rsplit("\n", 1) if "\n" in text else ("", text)
        match = HELD_RE.match(last.strip())
        thread = match and _thread(match)  # strace counts the nth call per thread
        if match is None or match["name"] != name or sum(c.name == name and c.thread == thread for c in parse_trace(done)) != nth - 1:
            return None
        return Syscall(match["name"], match["args"], HELD)

    def release(self) -> None:
        """Detach, which lets a held call go on at once (its result and later calls are not traced)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=ATTACH_TIMEOUT)

    def finish(self) -> list[Syscall]:
        """Detach (or wait until the traced process died) and return its syscalls."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # strace detaches and exits
        self.proc.wait(timeout=ATTACH_TIMEOUT)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        try:
            return parse_trace(self.output.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            return []


@cache
def tracing_unavailable() -> str | None:
    """Why strace cannot attach to a driver here (None: it can); probed once, on a process of our own."""
    if shutil.which("strace") is None:
        return "strace is not installed (Debian package strace)"
    target = subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL)
    try:
        with tempfile.TemporaryDirectory(prefix="dirqkit-probe-") as scratch:
            Tracer(target.pid, Path(scratch) / "trace.txt", None).finish()
    except TraceError as exc:
        return f"cannot trace drivers ({exc}); needs ptrace permission: root, or kernel.yama.ptrace_scope=0"
    finally:
        target.kill()
        target.wait()
    return None
