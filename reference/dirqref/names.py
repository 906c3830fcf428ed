"""Element names, intermediate directory names and element identifiers."""

from __future__ import annotations

import re
import threading
import time

from .errors import InvalidName

ELEMENT_RE = re.compile(r"[0-9a-f]{14}")  # NAME-8 (always used with fullmatch)
DIRECTORY_RE = re.compile(r"[0-9a-f]{8}")  # DIR-1, DIR-2
IDENTIFIER_RE = re.compile(r"[0-9a-f]{8}/[0-9a-f]{14}")  # NAME-9, NAME-10

is_element_name = ELEMENT_RE.fullmatch
is_directory_name = DIRECTORY_RE.fullmatch
_is_identifier = IDENTIFIER_RE.fullmatch


def check_identifier(name: object) -> str:
    """NAME-10: ``name`` if it is a valid "DDDDDDDD/EEEEEEEEEEEEEE" id, else InvalidName.

    Called before any path is built, so an invalid id causes no filesystem activity.
    """
    if type(name) is not str or _is_identifier(name) is None:
        raise InvalidName(f"invalid element name: {name!r}")
    return name


def directory_name(number: int) -> str:
    """DIR-1: the intermediate directory name for ``number`` (%08x)."""
    return "%08x" % number


class NameGenerator:
    """Element names of one queue object (NAME-1..4, NAME-7).

    Thread-safe: names handed out by one generator are strictly increasing.
    """

    def __init__(self, rndhex: int) -> None:
        self._format = "%08x%05x" + "%x" % rndhex  # NAME-1, NAME-4: the rndhex digit is constant
        self._last_us = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        # NAME-2, NAME-3: one wall-clock reading (never a monotonic clock), in µs.
        now_us = time.time_ns() // 1000
        with self._lock:
            if now_us <= self._last_us:
                now_us = self._last_us + 1  # NAME-7: previous time + 1 µs
            self._last_us = now_us
        return self._format % divmod(now_us, 1_000_000)  # NAME-1: (seconds, microseconds)
