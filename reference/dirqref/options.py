"""Validation of queue options: integers in a range, else InvalidOption."""

from __future__ import annotations

import os
import random

from .errors import DirqError, InvalidOption


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


def check_path(value: object, what: str = "option path", error: type[DirqError] = InvalidOption) -> str:
    """``value`` as a non-empty str path, else ``error`` naming ``what``."""
    try:
        path = os.fspath(value)  # type: ignore[call-overload]
    except TypeError:
        raise error(f"{what}: expected a path, got {value!r}") from None
    if not isinstance(path, str) or not path or "\0" in path:
        raise error(f"{what}: expected a non-empty str path, got {value!r}")
    return path
