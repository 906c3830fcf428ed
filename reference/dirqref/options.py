"""Validation of queue options: integers in a range, else InvalidOption."""

from __future__ import annotations

import os
import random

from .errors import InvalidOption


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` if it is an integer (not a bool) in ``low..high``, else InvalidOption."""
    if type(value) is not int or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise InvalidOption(f"option {name}: expected an integer {bound}, got {value!r}")
    return value


def check_seconds(name: str, value: object) -> int:
    """COMMON-8: maxtemp/maxlock are non-negative integers of seconds (0 disables)."""
    return check_int(name, value, 0)


def check_umask(value: object) -> int | None:
    """COMMON-3: an umask option is an integer 0..0o777 (None: no option)."""
    return None if value is None else check_int("umask", value, 0, 0o777)


def check_rndhex(value: object) -> int:
    """NAME-4/NAME-5: rndhex is 0..15, never reduced modulo 16; default random per object."""
    if value is None:
        return random.randrange(16)
    return check_int("rndhex", value, 0, 15)


def check_path(value: object) -> str:
    """The queue's TOP directory as a non-empty str path."""
    try:
        path = os.fspath(value)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidOption(f"option path: expected a path, got {value!r}") from None
    if not isinstance(path, str) or not path or "\0" in path:
        raise InvalidOption(f"option path: expected a non-empty str path, got {value!r}")
    return path
