"""Compact batch histories (PROTOCOL.md 2.4) read as the events they stand for; malformed rows name their place."""

import pytest

from dirqkit.drivers.protocol import BadHistory, history_events

SHA = "ab" * 32
IO = {"kind": "io", "message": "disk on fire", "effect": "unknown"}
GONE = {"kind": "not_found", "message": "gone", "effect": "none"}


def kinds(events):
    return [(e["type"], e["op"], e["time"]) for e in events]


def test_add_rows_carry_index_sha_and_outcome():
    events = history_events({"count": 1, "t0": 1000, "adds": [[SHA, 1, 2, "n/1"], [SHA, 3, 4, IO]]})
    assert kinds(events) == [("invoke", "add", 1001), ("ok", "add", 1003), ("invoke", "add", 1006), ("info", "add", 1010)]
    assert [e["index"] for e in events] == [0, 0, 1, 1] and events[0]["sha256"] == SHA
    assert events[1]["name"] == "n/1" and events[3]["error"] == IO


def test_lock_rows_of_every_length():
    rows = [
        ["a", 1, 1],  # lock returned false
        ["b", 1, 1, GONE],  # lock raised
        ["c", 1, 1, 1, 1, IO],  # get raised
        ["d", 1, 1, 1, 1, SHA, 1, 1],  # consumed
        ["e", 1, 1, 1, 1, SHA, 1, 1, GONE],  # remove raised
        [None, 5, IO],  # iteration failed
    ]
    events = history_events({"count": 1, "t0": 0, "locks": rows})
    steps = [(e["type"], e["op"], e.get("name")) for e in events]
    assert steps == [
        ("invoke", "lock", "a"), ("fail", "lock", "a"),
        ("invoke", "lock", "b"), ("fail", "lock", "b"),
        ("invoke", "lock", "c"), ("ok", "lock", "c"), ("invoke", "get", "c"), ("info", "get", "c"),
        *[(t, op, "d") for op in ("lock", "get", "remove") for t in ("invoke", "ok")],
        *[(t, op, "e") for op in ("lock", "get") for t in ("invoke", "ok")], ("invoke", "remove", "e"), ("fail", "remove", "e"),
        ("info", "list", None),
    ]
    assert "error" not in events[1] and events[3]["error"] == GONE
    assert [e["sha256"] for e in events if e["op"] == "get" and e["type"] == "ok"] == [SHA, SHA]
    assert events[-1]["time"] == 2 + 2 + 4 + 6 + 6 + 5  # every delta added up


def test_the_events_form_is_taken_as_it_is():
    history = [{"type": "invoke", "op": "add", "index": 0, "sha256": SHA, "time": 5}]
    assert history_events({"count": 0, "history": history}) is history


@pytest.mark.parametrize(("result", "where"), [
    ({"count": 0}, "needs history, adds or locks"),
    ({"count": 0, "adds": []}, "integer t0"),
    ({"count": 0, "t0": 0, "adds": [[SHA, 1, 2, "n"], [SHA, 1, "2", "n"]]}, "adds row 1"),
    ({"count": 0, "t0": 0, "adds": [[SHA, 1, 2]]}, "adds row 0"),
    ({"count": 0, "t0": 0, "adds": [[SHA, 1, 2, 7]]}, "adds row 0"),
    ({"count": 0, "t0": 0, "locks": [["a", 1, 1, 1, 1]]}, "locks row 0"),
    ({"count": 0, "t0": 0, "locks": [["a", 1, 1], "a"]}, "locks row 1: not an array"),
    ({"count": 0, "t0": 0, "locks": [[None, 1, "x"]]}, "locks row 0"),
    ({"count": 0, "t0": 0, "locks": [[3, 1, 1]]}, "locks row 0"),
])
def test_malformed_rows_are_named(result, where):
    with pytest.raises(BadHistory, match=where):
        history_events(result)
