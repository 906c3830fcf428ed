"""Fixture trees baked ahead (an overlay's lower layer): one copy per run, claimed once."""

from __future__ import annotations

import pytest

from dirqkit.trees import baked
from dirqkit.trees.fixtures import find
from dirqkit.trees.manifest import FixtureError, capture


def test_each_claim_takes_another_copy_until_none_is_left(tmp_path):
    copies = baked.bake(tmp_path, "simple-stale-lock", 3600, 2)
    first, second = baked.claim(tmp_path, "simple-stale-lock", 3600), baked.claim(tmp_path, "simple-stale-lock", 3600)
    assert {first, second} == set(copies) and first != second
    expected = {e.name for e in find("simple-stale-lock").elements}
    assert {e.name for e in capture(first, queue_type="simple").elements} == expected
    with pytest.raises(FixtureError, match="no unused baked copy of fixture simple-stale-lock .age 3600. is left .2 baked."):
        baked.claim(tmp_path, "simple-stale-lock", 3600)
    with pytest.raises(FixtureError, match="0 baked"):
        baked.claim(tmp_path, "simple-stale-lock", 0)  # baked with another age: not the same tree
