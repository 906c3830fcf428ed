"""Helpers shared by the interop tests (dirqref and python-dirq on one queue)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings

FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def consume_all(reader: Any, expected: dict[str, Any]) -> None:
    """``reader`` iterates ``expected``'s names in order and delivers each element as added (bytes or fields)."""
    assert list(reader) == sorted(expected)
    assert reader.count() == len(expected)
    for name in reader:
        assert reader.lock(name)
        assert reader.get(name) == expected[name]
        reader.remove(name)
    assert reader.count() == 0
