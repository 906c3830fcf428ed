"""Element names and identifiers (NAME-1..10), with property tests."""

from __future__ import annotations

import re
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dirqref.names
from dirqref.errors import InvalidName
from dirqref.names import NameGenerator, check_identifier

NAME_RE = re.compile(r"[0-9a-f]{14}")
# 2001..2100: seconds stay 8 hex digits (NAME-2).
clock_ns = st.integers(min_value=1_000_000_000 * 10**9, max_value=4_000_000_000 * 10**9)


@given(st.lists(clock_ns, min_size=1, max_size=50), st.integers(0, 15))
def test_NAME_1_NAME_7_names_sort_in_creation_order_whatever_the_clock(readings, rndhex):
    generator = NameGenerator(rndhex)
    clock = iter(readings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dirqref.names.time, "time_ns", lambda: next(clock))
        names = [generator() for _ in readings]
    assert all(NAME_RE.fullmatch(name) and name[-1] == "%x" % rndhex for name in names)
    assert names == sorted(names) and len(set(names)) == len(names)
    # NAME-2/3: fields come from the reading, unless NAME-7 bumped it to previous + 1 µs.
    previous = 0
    for reading, name in zip(readings, names, strict=True):
        micros = int(name[:8], 16) * 1_000_000 + int(name[8:13], 16)
        assert micros == max(reading // 1000, previous + 1)
        assert int(name[8:13], 16) <= 999_999
        previous = micros


def test_NAME_7_real_clock_names_strictly_increase_across_threads():
    generator = NameGenerator(3)
    per_thread: list[list[str]] = [[] for _ in range(4)]

    def work(out: list[str]) -> None:
        out.extend(generator() for _ in range(2000))

    threads = [threading.Thread(target=work, args=(out,)) for out in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [name for out in per_thread for name in out]
    assert len(set(everything)) == len(everything)
    assert all(out == sorted(out) for out in per_thread)


@given(st.text(alphabet="0123456789abcdefABCDEF/.\n\0xz", max_size=25))
def test_NAME_9_NAME_10_identifier_accepted_iff_it_matches_the_abnf(candidate):
    valid = re.fullmatch(r"[0-9a-f]{8}/[0-9a-f]{14}", candidate) is not None
    try:
        assert check_identifier(candidate) == candidate and valid
    except InvalidName:
        assert not valid
