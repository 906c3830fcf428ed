"""Normal queue schemas (SCHEMA-1..6) and the encoding of element fields (NORMAL-FIELD-*)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from . import table
from .errors import InvalidData, InvalidSchema

FIELD_NAME_RE = re.compile(r"[0-9a-zA-Z]+")  # SCHEMA-1 (ASCII only)
LOCKED = "locked"  # the lock directory inside an element (NORMAL-LAYOUT-1)
BASE_TYPES = ("binary", "string", "table")

Value = bytes | str | dict[str, str]


def is_field_name(name: str) -> bool:
    return FIELD_NAME_RE.fullmatch(name) is not None


class Field(NamedTuple):  # immutable; a NamedTuple spares importing dataclasses (fsops.Modes)
    name: str
    type: str  # one of BASE_TYPES
    optional: bool

    def encode(self, value: object) -> bytes:
        """The file content for ``value``; a value of the wrong type is InvalidData."""
        if self.type == "binary":
            if isinstance(value, (bytes, bytearray, memoryview)):
                return bytes(value)  # NORMAL-FIELD-1
            raise InvalidData(f"field {self.name}: binary data must be bytes, got {type(value).__name__}")
        if self.type == "string":
            if type(value) is not str:
                raise InvalidData(f"field {self.name}: string data must be str, got {type(value).__name__}")
            try:
                return value.encode("utf-8")  # NORMAL-FIELD-2
            except UnicodeEncodeError as exc:
                raise InvalidData(f"field {self.name}: text not encodable as UTF-8: {exc.reason}") from None
        return table.serialize(value, f"field {self.name}")

    def decode(self, content: bytes, where: str) -> Value:
        """The value stored as ``content``; undecodable content is InvalidData (SEC-3)."""
        if self.type == "binary":
            return content
        if self.type == "string":
            try:
                return content.decode("utf-8")
            except UnicodeDecodeError as exc:  # NORMAL-FIELD-3
                raise InvalidData(f"{where}: not valid UTF-8 at byte {exc.start}") from None
        return table.parse(content, where)


def parse_field(name: object, spec: object) -> Field:
    """SCHEMA-1, SCHEMA-2, SCHEMA-5: one ``name: type`` entry of a schema."""
    if type(name) is not str or not is_field_name(name) or name == LOCKED:
        raise InvalidSchema(f"invalid schema: field name {name!r} must match [0-9a-zA-Z]+ and not be 'locked'")
    if type(spec) is not str:
        raise InvalidSchema(f"invalid schema: field {name}: type must be a string, got {spec!r}")
    base = spec.rstrip("?*")
    flags = spec[len(base):]
    if base not in BASE_TYPES:
        raise InvalidSchema(f"invalid schema: field {name}: unknown type {spec!r} (binary, string or table)")
    # SCHEMA-5: we reject repeated flags and 'table*' (the by-reference flag makes no sense for tables).
    if len(set(flags)) != len(flags):
        raise InvalidSchema(f"invalid schema: field {name}: repeated flag in {spec!r}")
    if base == "table" and "*" in flags:
        raise InvalidSchema(f"invalid schema: field {name}: 'table*' is not allowed")
    return Field(name, base, "?" in flags)  # SCHEMA-2: '*' has no on-disk meaning


class Schema(NamedTuple):
    fields: tuple[Field, ...]
    names: frozenset[str] = frozenset()  # of the fields (set by parse)

    @classmethod
    def parse(cls, schema: object) -> Schema:
        """SCHEMA-1..5: a validated schema; any problem is InvalidSchema naming the reason (SCHEMA-4)."""
        if not isinstance(schema, Mapping):
            raise InvalidSchema(f"invalid schema: expected a mapping of field name to type, got {schema!r}")
        fields = tuple(parse_field(name, spec) for name, spec in schema.items())
        if all(f.optional for f in fields):  # SCHEMA-3 ({} included)
            raise InvalidSchema("invalid schema: at least one field must be mandatory")
        return cls(fields, frozenset(f.name for f in fields))

    def encode(self, data: object) -> list[tuple[str, bytes]]:
        """NORMAL-ADD-1: the (field, content) files for ``data``, checked before any fs change."""
        if type(data) is not dict and not isinstance(data, Mapping):  # the exact type first: the ABC check costs more
            raise InvalidData(f"element data must be a mapping of field name to value, got {type(data).__name__}")
        if not self.names.issuperset(data):
            unknown = [name for name in data if name not in self.names]
            raise InvalidData(f"unknown field(s) {', '.join(map(repr, unknown))}")
        files = []
        for field in self.fields:
            if field.name in data:
                files.append((field.name, field.encode(data[field.name])))
            elif not field.optional:
                raise InvalidData(f"missing mandatory field {field.name}")
        return files
