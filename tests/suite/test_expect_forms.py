"""The forms a step's ``expect:`` takes (CASES.md), judged on op results."""

from __future__ import annotations

import pytest

from dirqkit.suite.engine import matches


@pytest.mark.parametrize(("result", "met"), [
    (["00000001/00000002000001", "00000001/00000001000001"], True),  # any order
    (["00000001/00000001000001", "00000001/00000002000001"], True),
    (["00000001/00000001000001"], False),  # one missing
    (["00000001/00000001000001", "00000001/00000002000001", "00000001/00000002000001"], False),  # one twice
    (["00000001/00000001000001", "00000001/00000003000001"], False),  # another one
    ("00000001/00000001000001", False),  # not a list
])
def test_items_is_a_list_of_exactly_these_in_any_order(result, met):
    assert matches({"items": ["00000001/00000001000001", "00000001/00000002000001"]}, result) is met


def test_a_plain_list_keeps_its_order():
    assert matches(["a", "b"], ["a", "b"])
    assert not matches(["a", "b"], ["b", "a"])
