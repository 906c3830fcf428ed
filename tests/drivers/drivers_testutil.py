"""Helpers shared by the driver tests (a unique module name: conftest.py names clash across test dirs)."""

import os
import sys
from pathlib import Path

BROKEN = Path(__file__).with_name("broken_driver.py")
REF = [sys.executable, "-m", "dirqkit.drivers.ref"]


def stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (state first); FileNotFoundError when gone."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def running(pid: int) -> bool:
    """Is there a live (not zombie) process with this pid?"""
    try:
        return stat_fields(pid)[0] != "Z"
    except FileNotFoundError:
        return False


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every descendant of pid, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(stat_fields(int(entry))[1])
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    parents[int(entry)] = (parent, cmdline.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                continue
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, (parent, _) in parents.items() if parent in frontier}
        found += [(child, parents[child][1]) for child in frontier]
    return found


def cpu_ticks(pid: int) -> int:
    """Clock ticks of CPU (user + system) the process has used."""
    fields = stat_fields(pid)
    return int(fields[11]) + int(fields[12])


def reaped(pid: int) -> bool:
    """Our child ``pid`` is gone entirely: neither running nor a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
