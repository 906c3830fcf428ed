"""Driver protocol v1: the vocabulary both sides share (see PROTOCOL.md).

Only constants and pure functions live here, so the kit side
(``dirqkit.drivers.client``) and the Python driver side
(``dirqkit.drivers.server``) import the same definitions.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Mapping
from typing import Any

PROTOCOL_VERSION = 1

# SPEC-3 vocabulary plus "internal" (the driver itself failed or got a bad request).
ERROR_KINDS = (
    "invalid_name", "invalid_schema", "invalid_data", "invalid_option", "not_found",
    "not_locked", "locked", "unsupported", "io", "internal",
)
EFFECTS = ("none", "unknown")

QUEUE_TYPES = ("simple", "normal", "null", "set")
ROLES = ("producer", "consumer", "purger")

OPS = (
    "hello", "open", "add", "add_path", "lock", "unlock", "touch", "get", "get_path",
    "remove", "count", "list", "purge", "set_list", "set_add", "set_remove", "set_first", "set_next",
    "produce", "consume", "close", "shutdown",
)


# The compact history of the batch ops (PROTOCOL.md 2.4): a driver whose hello lists this
# feature answers a produce/consume request carrying ``"history": "compact"`` with rows.
COMPACT_HISTORY = "compact-history"
BATCH_OPS = ("produce", "consume")


class BadRequest(Exception):
    """A request the driver cannot carry out as sent (missing or ill-typed argument)."""


class BadHistory(ValueError):
    """A batch result whose history is not well-formed; the message names the row."""


def payload(seed: str, index: int, size: int) -> bytes:
    """The ``index``-th payload of a ``produce`` batch: ``size`` ASCII hex digits.

    The bytes are the hex SHA-256 digests of ``"{seed}:{index}:{k}"`` for
    k = 0, 1, ... concatenated and cut to ``size``: deterministic, readable as
    text and as bytes, and distinct for distinct (seed, index) when size >= 16.
    """
    return _large_payload(seed, index, size) if size >= LARGE_PAYLOAD else _make_payload(seed, index, size)


# A driver is reused across cases, and the data cases produce the same large payloads (1 and 16 MiB,
# the same seeds) in every run: the last few are kept rather than made again (0.2 s per 16 MiB).
LARGE_PAYLOAD = 1 << 20


@functools.lru_cache(maxsize=2)
def _large_payload(seed: str, index: int, size: int) -> bytes:
    return _make_payload(seed, index, size)


def _make_payload(seed: str, index: int, size: int) -> bytes:
    chunks = []
    for k in range((size + 63) // 64):
        chunks.append(hashlib.sha256(f"{seed}:{index}:{k}".encode()).hexdigest())
    return "".join(chunks)[:size].encode("ascii")


def digest(data: bytes) -> str:
    """How histories name a payload: its lowercase hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def b64decode(text: object, where: str) -> bytes:
    """Strict base64 (standard alphabet, padded), or BadRequest naming ``where``."""
    if not isinstance(text, str):
        raise BadRequest(f"{where} must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{where} is not valid base64") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_fields(wire: object) -> dict[str, Any]:
    """Typed Normal fields -> Python values: string -> str, table -> dict, binary -> bytes."""
    if not isinstance(wire, dict):
        raise BadRequest("data of a normal queue must be an object of typed fields")
    values: dict[str, Any] = {}
    for name, field in wire.items():
        where = f"data.{name}"
        kind = field.get("type") if isinstance(field, dict) else None
        if kind == "binary":
            values[name] = b64decode(field.get("base64"), f"{where}.base64")
        elif kind == "string" and isinstance(field.get("value"), str):
            values[name] = field["value"]
        elif kind == "table" and isinstance(field.get("value"), dict):
            values[name] = dict(field["value"])  # values as sent: the implementation must reject non-text (TABLE-4)
        else:
            raise BadRequest(f"{where} must be {{type: string|table, value}} or {{type: binary, base64}}")
    return values


def encode_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Python values of a Normal element -> typed fields (the inverse of decode_fields)."""
    wire: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, (bytes, bytearray)):
            wire[name] = {"type": "binary", "base64": b64encode(bytes(value))}
        elif isinstance(value, str):
            wire[name] = {"type": "string", "value": value}
        elif isinstance(value, dict):
            wire[name] = {"type": "table", "value": value}
        else:
            raise TypeError(f"field {name} has a value of type {type(value).__name__}")
    return wire


def history_events(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The history of a batch result as events (PROTOCOL.md 2.3), whichever form the driver sent.

    ``history`` (events) is returned as it is; compact ``adds`` (produce) and
    ``locks`` (consume) rows are expanded, their time deltas added up from ``t0``.
    """
    if "history" in result:
        return result["history"]  # type: ignore[no-any-return]
    form = "adds" if "adds" in result else "locks" if "locks" in result else None
    if form is None:
        raise BadHistory("a batch result needs history, adds or locks")
    rows, t0 = result[form], result.get("t0")
    if not isinstance(rows, list) or not isinstance(t0, int) or isinstance(t0, bool):
        raise BadHistory(f"a compact history needs a list of {form} and an integer t0")
    expand = _add_events if form == "adds" else _lock_events
    events: list[dict[str, Any]] = []
    clock = _Clock(t0)
    for position, row in enumerate(rows):
        if not isinstance(row, list):
            raise BadHistory(f"{form} row {position}: not an array: {row!r:.200}")
        try:
            expand(events, position, row, clock)
        except (IndexError, TypeError) as exc:
            raise BadHistory(f"{form} row {position}: malformed ({exc}): {row!r:.200}") from None
    return events


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Clock:
    """Adds up a compact history's time deltas."""

    def __init__(self, t0: int) -> None:
        self.time = t0

    def at(self, delta: object) -> int:
        if not _is_int(delta):
            raise TypeError(f"time delta {delta!r} is not an integer")
        self.time += delta  # type: ignore[operator]
        return self.time


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} {value!r:.80} is not a string")
    return value


def _ended(op: str, where: dict[str, Any], error: object, time: int) -> dict[str, Any]:
    """The completion of a step that raised: fail, or info when its effect is unknown."""
    if not isinstance(error, dict):
        raise TypeError(f"{error!r:.80} is neither a name nor an error object")
    return {"type": "info" if error.get("effect") == "unknown" else "fail", "op": op, **where, "error": error, "time": time}


def _add_events(events: list[dict[str, Any]], index: int, row: list[Any], clock: _Clock) -> None:
    """``[sha256, dt invoke, dt end, name | error]``; the row's position is the payload index."""
    if len(row) != 4:
        raise IndexError(f"{len(row)} items, not 4")
    sha = _text(row[0], "sha256")
    events.append({"type": "invoke", "op": "add", "index": index, "sha256": sha, "time": clock.at(row[1])})
    end = clock.at(row[2])
    if isinstance(row[3], str):
        events.append({"type": "ok", "op": "add", "index": index, "name": row[3], "time": end})
    else:
        events.append(_ended("add", {"index": index}, row[3], end))


# How long a consume row is when it ends after each step (PROTOCOL.md 2.4).
_LOCK_FALSE, _LOCK_ERROR, _GET_ERROR, _CONSUMED, _REMOVE_ERROR = 3, 4, 6, 8, 9


def _lock_events(events: list[dict[str, Any]], position: int, row: list[Any], clock: _Clock) -> None:
    """``[name, dt, dt, dt, dt, sha256, dt, dt]`` cut short by a false lock or an error; ``[null, dt, error]``."""
    size = len(row)
    if row[0] is None:  # the iteration failed
        if size != 3:
            raise IndexError(f"{size} items, not 3")
        events.append(_ended("list", {}, row[2], clock.at(row[1])))
        return
    if size not in (_LOCK_FALSE, _LOCK_ERROR, _GET_ERROR, _CONSUMED, _REMOVE_ERROR):
        raise IndexError(f"{size} items")
    name = _text(row[0], "name")
    events.append({"type": "invoke", "op": "lock", "name": name, "time": clock.at(row[1])})
    end = clock.at(row[2])
    if size == _LOCK_FALSE:
        events.append({"type": "fail", "op": "lock", "name": name, "time": end})
        return
    if size == _LOCK_ERROR:
        events.append(_ended("lock", {"name": name}, row[3], end))
        return
    events.append({"type": "ok", "op": "lock", "name": name, "time": end})
    events.append({"type": "invoke", "op": "get", "name": name, "time": clock.at(row[3])})
    end = clock.at(row[4])
    if size == _GET_ERROR:
        events.append(_ended("get", {"name": name}, row[5], end))
        return
    events.append({"type": "ok", "op": "get", "name": name, "sha256": _text(row[5], "sha256"), "time": end})
    events.append({"type": "invoke", "op": "remove", "name": name, "time": clock.at(row[6])})
    end = clock.at(row[7])
    if size == _REMOVE_ERROR:
        events.append(_ended("remove", {"name": name}, row[8], end))
    else:
        events.append({"type": "ok", "op": "remove", "name": name, "time": end})
