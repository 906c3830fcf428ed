"""Table serialization (TABLE-1..8), with property tests against an independent grammar."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirqref.errors import InvalidData
from dirqref.table import parse, serialize

# TABLE-1/2 written out independently of dirqref: every line is an escaped key, one TAB, an
# escaped value and LF; escaped text has no raw backslash, TAB or LF except \\, \t, \n.
ESCAPED = r"(?:[^\\\t\n]|\\[\\tn])*"
TABLE_RE = re.compile(rf"(?:{ESCAPED}\t{ESCAPED}\n)*")

texts = st.text()  # any code points but lone surrogates, tabs/newlines/backslashes included
tricky = st.text(alphabet=st.sampled_from(["\\", "\t", "\n", "\r", "\0", "t", "n", "é", "\U0001f600", "a"]))
tables = st.dictionaries(st.one_of(texts, tricky), st.one_of(texts, tricky))


def reference_unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "\\tn":
            out.append({"\\": "\\", "t": "\t", "n": "\n"}[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@given(tables)
def test_TABLE_1_TABLE_2_TABLE_5_TABLE_6_round_trip_and_grammar(table):
    content = serialize(table)
    text = content.decode("utf-8")
    assert TABLE_RE.fullmatch(text)
    lines = text.split("\n")[:-1] if text else []
    keys = [reference_unescape(line.split("\t")[0]) for line in lines]
    assert keys == sorted(table)  # ascending code point order
    assert {k: reference_unescape(line.split("\t")[1]) for k, line in zip(keys, lines, strict=True)} == table
    assert parse(content) == table


@given(st.binary())
def test_SEC_3_arbitrary_bytes_parse_or_fail_cleanly(content):
    try:
        result = parse(content)
    except InvalidData:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


def test_TABLE_2_only_three_characters_are_escaped():
    assert serialize({"a\\b": "c\td\ne\rf\0"}) == b"a\\\\b\tc\\td\\ne\rf\0\n"


def test_TABLE_1_keys_in_code_point_order():
    assert serialize({"b": "", "a": "", "B": "", "é": "", "\U0001f600": "", "": ""}) == (
        b"\t\nB\t\na\t\nb\t\n" + "é\t\n\U0001f600\t\n".encode()
    )


def test_TABLE_3_empty_table_is_empty_file():
    assert serialize({}) == b""
    assert parse(b"") == {}


@pytest.mark.parametrize("table", [{"k": 1}, {1: "v"}, {"k": None}, {"k": b"v"}, {"k": ["v"]}, [("k", "v")], "k\tv"])
def test_TABLE_4_non_text_is_invalid_data(table):
    with pytest.raises(InvalidData):
        serialize(table)


def test_TABLE_4_lone_surrogate_is_invalid_data():
    with pytest.raises(InvalidData, match="UTF-8"):
        serialize({"k": "\ud800"})


@pytest.mark.parametrize(
    "content",
    [b"no tab\n", b"a\tb\tc\n", b"a\tb\n\nc\td\n", b"\na\tb\n", b"\n\n\na\tb\n", b"a\tb\nnotab", b"\xff\tx\n"],
)
def test_TABLE_5_TABLE_7_malformed_lines_are_invalid_data(content):
    with pytest.raises(InvalidData):
        parse(content)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"a\\x\tb\\\n", {"a\\x": "b\\"}),  # unknown escape and trailing lone backslash kept
        (b"\\\\t\t\\\\\\n\n", {"\\t": "\\\n"}),  # left to right
        (b"k\\tk\tv\\nv\n", {"k\tk": "v\nv"}),
        (b"a\tb\r\n", {"a": "b\r"}),
    ],
)
def test_TABLE_6_unescaping(content, expected):
    assert parse(content) == expected


def test_TABLE_7_last_line_without_lf_and_trailing_empty_lines_are_accepted():
    assert parse(b"a\tb") == {"a": "b"}
    assert parse(b"a\tb\n\n\n") == {"a": "b"}


def test_TABLE_8_duplicate_keys_last_wins():
    assert parse(b"k\t1\nk\t2\n") == {"k": "2"}
