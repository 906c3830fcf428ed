"""The history checker: clean histories pass, and every crafted bad history fails with its requirement."""

from __future__ import annotations

import pytest

from dirqkit.concurrency.checker import HistoryError, Verdict, check, run_step
from dirqkit.concurrency.scene import ScenarioFailed, Scene

US = 1_000_000
NAME_A, NAME_B = "6b0b6d00/6b0b6d0a000001", "6b0b6d00/6b0b6d0a000002"


class Clock:
    """Increasing history times, in microseconds."""

    def __init__(self) -> None:
        self.now = 1_800_000_000 * US

    def __call__(self, step: float = 0.001) -> int:
        self.now += int(step * US)
        return self.now


def add(clock: Clock, index: int, sha: str, name: str | None, outcome: str = "ok") -> list[dict]:
    done = {"type": outcome, "op": "add", "index": index, "time": clock()}
    if name is not None:
        done["name"] = name
    if outcome != "ok":
        done["error"] = {"kind": "io", "message": "boom", "effect": "none" if outcome == "fail" else "unknown"}
    return [{"type": "invoke", "op": "add", "index": index, "sha256": sha, "time": clock()}, done]


def consume(clock: Clock, name: str, sha: str, *, hold: float = 0.0, remove: str = "ok", kind: str = "not_locked") -> list[dict]:
    events = [
        {"type": "invoke", "op": "lock", "name": name, "time": clock()},
        {"type": "ok", "op": "lock", "name": name, "time": clock()},
        {"type": "invoke", "op": "get", "name": name, "time": clock()},
        {"type": "ok", "op": "get", "name": name, "sha256": sha, "time": clock()},
        {"type": "invoke", "op": "remove", "name": name, "time": clock(hold or 0.001)},
    ]
    done = {"type": remove, "op": "remove", "name": name, "time": clock()}
    if remove != "ok":
        done["error"] = {"kind": kind, "message": "lock gone", "effect": "none"}
    return [*events, done]


def purge(clock: Clock, maxlock: int) -> list[dict]:
    return [{"type": "invoke", "op": "purge", "maxtemp": maxlock, "maxlock": maxlock, "time": clock()},
            {"type": "ok", "op": "purge", "time": clock()}]


def age(clock: Clock, seconds: float) -> list[dict]:
    return [{"type": "invoke", "op": "age", "time": clock()}, {"type": "ok", "op": "age", "seconds": seconds, "time": clock()}]


def starting_at(events: list[dict], start: int) -> list[dict]:
    """``events`` moved in time so that the first one happens at ``start``."""
    delta = start - events[0]["time"]
    return [{**event, "time": event["time"] + delta} for event in events]


def requirements(verdict: Verdict) -> list[tuple[str, str]]:
    return [(v.requirement, v.element) for v in verdict.violations]


def test_a_clean_history_passes_with_its_figures():
    clock = Clock()
    producer = add(clock, 0, "s0", NAME_A) + add(clock, 1, "s1", NAME_B)
    consumer = consume(clock, NAME_A, "s0") + consume(clock, NAME_B, "s1")
    verdict = check([("p", producer), ("c", consumer)])
    assert verdict.ok, verdict.report()
    assert verdict.stats["adds_acknowledged"] == 2 and verdict.stats["consumed"] == 2 and verdict.stats["deliveries"] == 2


def test_a_lost_element_names_conc_3_and_the_element():
    clock = Clock()
    verdict = check([("p", add(clock, 0, "s0", NAME_A) + add(clock, 1, "s1", NAME_B)), ("c", consume(clock, NAME_A, "s0"))])
    assert requirements(verdict) == [("CONC-3", NAME_B)]
    assert "lost" in verdict.violations[0].message and "p #1" in verdict.violations[0].message


def test_a_torn_payload_names_conc_1():
    clock = Clock()
    verdict = check([("p", add(clock, 0, "s0", NAME_A)), ("c", consume(clock, NAME_A, "different"))])
    assert requirements(verdict) == [("CONC-1", NAME_A)]
    assert "torn" in verdict.violations[0].message


def test_an_element_nobody_added_is_unexpected():
    clock = Clock()
    verdict = check([("p", add(clock, 0, "s0", NAME_A)), ("c", consume(clock, NAME_A, "s0") + consume(clock, NAME_B, "s9"))])
    assert requirements(verdict) == [("CONC-1", NAME_B)]
    assert "unexpected" in verdict.violations[0].message


def test_a_second_copy_of_an_added_payload_is_unexpected():
    clock = Clock()
    verdict = check([("p", add(clock, 0, "s0", NAME_A)), ("c", consume(clock, NAME_A, "s0") + consume(clock, NAME_B, "s0"))])
    assert requirements(verdict) == [("CONC-1", NAME_B)]
    assert f"second copy of {NAME_A}" in verdict.violations[0].message


def test_an_add_of_unknown_outcome_may_show_up_once():
    clock = Clock()
    producer = add(clock, 0, "s0", None)[:1]  # the producer died during the add: its outcome is unknown
    assert check([("p", producer), ("c", consume(clock, NAME_A, "s0"))]).ok
    twice = check([("p", producer), ("c", consume(clock, NAME_A, "s0") + consume(clock, NAME_B, "s0"))])
    assert ("CONC-1", NAME_B) in requirements(twice)


def test_a_sequential_second_delivery_without_purge_is_conc_3():
    clock = Clock()
    verdict = check([("p", add(clock, 0, "s0", NAME_A)), ("c1", consume(clock, NAME_A, "s0")), ("c2", consume(clock, NAME_A, "s0"))])
    assert requirements(verdict) == [("CONC-3", NAME_A)]
    assert "delivered twice" in verdict.violations[0].message


def test_overlapping_lock_holders_are_conc_2():
    clock = Clock()
    first = consume(clock, NAME_A, "s0", hold=1.0)  # holds from t+0.002 to t+1.0
    second = starting_at(consume(Clock(), NAME_A, "s0"), first[1]["time"] + 1000)  # locked early in that hold
    verdict = check([("p", add(Clock(), 0, "s0", NAME_A)), ("c1", first), ("c2", second)])
    assert ("CONC-2", NAME_A) in requirements(verdict)
    assert "two holders at once" in verdict.violations[0].message


def test_a_purge_that_found_the_lock_stale_makes_the_duplicate_legitimate():
    clock = Clock()
    producer = add(clock, 0, "s0", NAME_A)
    first = consume(clock, NAME_A, "s0", hold=3.0)  # held 3 s, longer than maxlock 1
    purger = starting_at(purge(Clock(), 1), first[1]["time"] + 2 * US)  # 2 s into the hold: the lock is 2 s old
    second = starting_at(consume(Clock(), NAME_A, "s0"), purger[1]["time"] + 1000)  # while the first still holds
    verdict = check([("p", producer), ("c1", first), ("purger", purger), ("c2", second)])
    assert verdict.ok, verdict.report()
    assert verdict.stats["duplicates_after_purge"] == 1


def test_a_purge_whose_maxlock_the_lock_never_reached_excuses_nothing():
    clock = Clock()
    first = consume(clock, NAME_A, "s0", hold=3.0)
    purger = starting_at(purge(Clock(), 10), first[1]["time"] + 2 * US)  # maxlock 10: a 2 s old lock is not stale
    second = starting_at(consume(Clock(), NAME_A, "s0"), purger[1]["time"] + 1000)
    verdict = check([("p", add(Clock(), 0, "s0", NAME_A)), ("c1", first), ("purger", purger), ("c2", second)])
    assert ("CONC-2", NAME_A) in requirements(verdict)


def test_a_lock_the_kit_backdated_is_stale_for_the_next_purge():
    clock = Clock()
    producer = add(clock, 0, "s0", NAME_A)
    first = consume(clock, NAME_A, "s0", hold=0.05)
    ager = starting_at(age(Clock(), 60), first[1]["time"] + 1000)  # during the hold: ageing, then a purge
    purger = starting_at(purge(Clock(), 30), ager[1]["time"] + 1000)
    second = starting_at(consume(Clock(), NAME_A, "s0"), purger[1]["time"] + 1000)
    verdict = check([("p", producer), ("c1", first), ("ager", ager), ("purger", purger), ("c2", second)])
    assert verdict.ok, verdict.report()
    without_ageing = check([("p", producer), ("c1", first), ("purger", purger), ("c2", second)])
    assert ("CONC-2", NAME_A) in requirements(without_ageing)


def test_a_purge_before_the_lock_was_taken_excuses_nothing():
    clock = Clock()
    purger = purge(clock, 1)
    first = consume(clock, NAME_A, "s0", hold=3.0)
    second = consume(clock, NAME_A, "s0")
    verdict = check([("p", add(Clock(), 0, "s0", NAME_A)), ("purger", purger), ("c1", first), ("c2", second)])
    assert ("CONC-3", NAME_A) in requirements(verdict)


def test_a_lost_lock_is_legitimate_only_after_a_purge():
    clock = Clock()
    lost_lock = consume(clock, NAME_A, "s0", hold=3.0, remove="fail")
    bare = check([("p", add(Clock(), 0, "s0", NAME_A)), ("c", lost_lock)])
    assert requirements(bare) == [("CONC-2", NAME_A)]
    purger = starting_at(purge(Clock(), 1), lost_lock[1]["time"] + 2 * US)
    excused = check([("p", add(Clock(), 0, "s0", NAME_A)), ("c", lost_lock), ("purger", purger)])
    assert excused.ok, excused.report()
    assert excused.stats["errors_after_purge"] == 1


def test_killed_consume_batches_excuse_at_most_their_limit():
    clock = Clock()
    producer = add(clock, 0, "s0", NAME_A) + add(clock, 1, "s1", NAME_B)
    killed = [{"type": "info", "op": "consume", "limit": 1, "time": clock()}]
    assert check([("p", producer), ("c", killed + consume(clock, NAME_A, "s0"))]).ok
    verdict = check([("p", producer), ("c", killed)])
    assert sorted(requirements(verdict)) == [("CONC-3", NAME_A), ("CONC-3", NAME_B)]
    assert "explain at most 1" in verdict.violations[0].message


@pytest.mark.parametrize(("events", "expected"), [
    (lambda c: add(c, 0, "s0", None, outcome="fail"), ("CONC-6", "add #0")),
    (lambda c: [{"type": "fail", "op": "list", "error": {"kind": "io", "message": "gone"}, "time": c()}], ("ITER-2", "iteration")),
    (lambda c: [{"type": "invoke", "op": "lock", "name": NAME_A, "time": c()},
                {"type": "fail", "op": "lock", "name": NAME_A, "error": {"kind": "not_found", "message": "x"}, "time": c()}],
     ("CONC-6", NAME_A)),
    (lambda c: [{"type": "invoke", "op": "purge", "time": c()},
                {"type": "fail", "op": "purge", "error": {"kind": "io", "message": "ENOTEMPTY"}, "time": c()}], ("CONC-6", "purge")),
])
def test_errors_a_race_must_not_cause(events, expected):
    verdict = check([("x", events(Clock()))])
    assert requirements(verdict) == [expected]


def test_two_adds_returning_one_name_break_name_6():
    clock = Clock()
    verdict = check([("p1", add(clock, 0, "s0", NAME_A)), ("p2", add(clock, 0, "s1", NAME_A)), ("c", consume(clock, NAME_A, "s0"))])
    assert ("NAME-6", NAME_A) in requirements(verdict)


@pytest.mark.parametrize("bad", [
    [{"type": "ok", "op": "add", "time": 1}],  # completion without invoke
    [{"type": "begin", "op": "add", "time": 1}],
    [{"type": "ok", "op": "get", "name": NAME_A, "sha256": "x", "time": 1}],  # get without lock
    [{"type": "ok", "op": "teleport", "time": 1}],
    [{"type": "invoke", "op": "add", "time": 1}],  # no index, no digest
    "not a list",
])
def test_a_malformed_history_is_refused_with_its_source(bad):
    with pytest.raises(HistoryError, match="src"):
        check([("src", bad)])


def test_a_purge_during_a_lock_may_have_seen_the_time_the_kit_backdated_the_element_to():
    """SPEC 8.2 case 3: link, then a purge reads the element's old (aged) time, then the stamp."""
    clock = Clock()
    producer = add(clock, 0, "s0", NAME_A)
    earlier = consume(clock, NAME_A, "s0", hold=0.05)
    ager = starting_at(age(Clock(), 60), earlier[1]["time"] + 1000)  # ages the element while earlier holds it
    slow = consume(Clock(), NAME_A, "s0")  # its lock operation spans a purge
    slow = starting_at(slow, earlier[-1]["time"] + 1000)
    purger = starting_at(purge(Clock(), 30), slow[0]["time"] + 10)
    slow[1]["time"] = purger[1]["time"] + 5000  # the lock returns after the purge and after the rival locked
    rival = starting_at(consume(Clock(), NAME_A, "s0"), purger[1]["time"] + 1000)
    history = [("p", producer), ("c1", earlier), ("ager", ager), ("purger", purger), ("slow", slow), ("rival", rival)]
    assert check(history).ok, check(history).report()
    without_ageing = [source for source in history if source[0] != "ager"]
    assert not check(without_ageing).ok


def _scene(tmp_path, bindings):
    return Scene(case_id="c", requirements=("CONC-1",), queue={"type": "simple"}, actors={}, handles={}, top=tmp_path,
                 work=tmp_path, log=[], open_args=lambda overrides: {}, resolve=lambda value: bindings[value.lstrip("$")])


def test_the_check_step_reads_compact_rows_and_events_alike(tmp_path):
    clock = Clock()
    produced = {"count": 1, "t0": clock(), "adds": [["a" * 64, 10, 10, NAME_A]]}  # compact (PROTOCOL.md 2.4)
    torn = {"count": 1, "t0": clock(), "locks": [[NAME_A, 1, 1, 1, 1, "b" * 64, 1, 1]]}
    events = {"count": 1, "history": consume(clock, NAME_A, "a" * 64)}
    run_step(_scene(tmp_path, {"p": produced, "c": events}), {"histories": ["$p", "$c"]})
    with pytest.raises(ScenarioFailed, match="torn") as failed:
        run_step(_scene(tmp_path, {"p": produced, "c": torn}), {"histories": ["$p", "$c"]})
    assert failed.value.violated == ("CONC-1",)
    with pytest.raises(ScenarioFailed, match="locks row 0") as failed:
        run_step(_scene(tmp_path, {"p": produced, "c": {"count": 0, "t0": 0, "locks": [[NAME_A, 1]]}}), {"histories": ["$p", "$c"]})
    assert failed.value.cite_step
