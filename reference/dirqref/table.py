"""The table field format: text map <-> UTF-8 bytes (TABLE-1..8)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import InvalidData

_UNESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n"}
_ESCAPE_RE = re.compile(r"\\[\\tn]")  # TABLE-6: only these three, scanned left to right


def escape(text: str) -> str:
    """TABLE-2: '\\' -> '\\\\', TAB -> '\\t', LF -> '\\n'; nothing else."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def unescape(text: str) -> str:
    """TABLE-6: undo escape(); any other backslash sequence is kept literally."""
    return _ESCAPE_RE.sub(lambda match: _UNESCAPES[match.group()], text) if "\\" in text else text


def serialize(table: object, where: str = "table") -> bytes:
    """TABLE-1..4: one ``key TAB value LF`` line per entry in code point order of keys."""
    if not isinstance(table, Mapping):
        raise InvalidData(f"{where}: a table must be a mapping, got {type(table).__name__}")
    lines = []
    for key, value in table.items():
        if type(key) is not str or type(value) is not str:  # TABLE-4
            raise InvalidData(f"{where}: table keys and values must be text, got {key!r}: {value!r}")
        lines.append((key, f"{escape(key)}\t{escape(value)}\n"))
    lines.sort()  # TABLE-1: str order is code point order
    try:
        return "".join(line for _, line in lines).encode("utf-8")  # TABLE-3: empty table -> b""
    except UnicodeEncodeError as exc:
        raise InvalidData(f"{where}: text not encodable as UTF-8: {exc.reason}") from None


def parse(content: bytes, where: str = "table") -> dict[str, str]:
    """TABLE-5..8: the table stored in ``content``; malformed content is InvalidData (SEC-3)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidData(f"{where}: not valid UTF-8 at byte {exc.start}") from None
    lines = text.split("\n")  # TABLE-5: a final LF ends the last line
    while lines and not lines[-1]:
        lines.pop()  # TABLE-7: empty lines after the last entry are ignored
    table: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        key, tab, value = line.partition("\t")
        if not tab or "\t" in value:  # TABLE-5, TABLE-7: exactly one TAB (an empty line has none)
            raise InvalidData(f"{where}: line {number} does not hold exactly one TAB: {line!r}")
        table[unescape(key)] = unescape(value)  # TABLE-8: last wins
    return table
