"""Helpers shared by the driver tests (a unique module name: conftest.py names clash across test dirs)."""

import os
import sys
from pathlib import Path

BROKEN = Path(__file__).with_name("broken_driver.py")
REF = [sys.executable, "-m", "dirqkit.drivers.ref"]


def running(pid: int) -> bool:
    """Is there a live (not zombie) process with this pid?"""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def reaped(pid: int) -> bool:
    """Our child ``pid`` is gone entirely: neither running nor a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
