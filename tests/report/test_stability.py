"""Which runs varied between repetitions, and which of them a racy expectation accepts."""

from __future__ import annotations

from dirqkit.report.stability import report, varied


def record(case: str, outcome: str, **roles: str) -> dict:
    return {"case": case, "roles": roles, "implementations": [], "outcome": outcome}


def test_only_runs_whose_outcome_differed_or_went_missing_are_listed():
    first = [record("a", "PASS", consumer="ref"), record("b", "FAIL", consumer="perl"), record("c", "PASS", consumer="c")]
    second = [record("a", "PASS", consumer="ref"), record("b", "XFAIL", consumer="perl")]
    found = varied([first, second], lambda r: r["case"] == "b")
    assert [(v.label, v.outcomes, v.missing, v.racy) for v in found] == [
        ("b[consumer=perl]", {"FAIL": 1, "XFAIL": 1}, 0, True),
        ("c[consumer=c]", {"PASS": 1}, 1, False),
    ]
    text = report(2, found)
    assert "2 run(s) varied, 1 outside racy expectations" in text
    assert "UNSTABLE        c[consumer=c]: 1 PASS, 1 not run" in text


def test_the_same_outcome_every_time_is_stable():
    runs = [[record("a", "FAIL", producer="ref", consumer="perl")] for _ in range(3)]
    assert varied(runs, lambda r: False) == []
