"""Driver protocol v1: the vocabulary both sides share (see PROTOCOL.md).

Only constants and pure functions live here, so the kit side
(``dirqkit.drivers.client``) and the Python driver side
(``dirqkit.drivers.server``) import the same definitions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
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


class BadRequest(Exception):
    """A request the driver cannot carry out as sent (missing or ill-typed argument)."""


def payload(seed: str, index: int, size: int) -> bytes:
    """The ``index``-th payload of a ``produce`` batch: ``size`` ASCII hex digits.

    The bytes are the hex SHA-256 digests of ``"{seed}:{index}:{k}"`` for
    k = 0, 1, ... concatenated and cut to ``size``: deterministic, readable as
    text and as bytes, and distinct for distinct (seed, index) when size >= 16.
    """
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
