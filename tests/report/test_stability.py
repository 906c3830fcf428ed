"""Which runs varied between repetitions, and which of them a racy expectation accepts."""

from __future__ import annotations

from dirqkit.report.stability import report, varied


def record(case: str, outcome: str, **roles: str) -> dict:
    return {"case": case, "roles": roles, "implementations": [], "outcome": outcome}


def test_only_runs_whose_outcome_differed_or_went_missing_are_listed():
    first = [record("a", "PASS", consumer="ref"), record("b", "PASS", consumer="perl"), record("c", "PASS", consumer="c")]
    second = [record("a", "PASS", consumer="ref"), record("b", "XFAIL", consumer="perl")]
    found = varied([first, second], lambda r: r["case"] == "b")
    assert [(v.label, v.outcomes, v.missing, v.racy) for v in found] == [
        ("b[consumer=perl]", {"PASS": 1, "XFAIL": 1}, 0, True),
        ("c[consumer=c]", {"PASS": 1}, 1, False),
    ]
    text = report(2, found)
    assert "2 run(s) varied, 1 outside racy expectations" in text
    assert "UNSTABLE        c[consumer=c]: 1 PASS, 1 not run" in text


def test_the_same_outcome_every_time_is_stable():
    runs = [[record("a", "FAIL", producer="ref", consumer="perl")] for _ in range(3)]
    assert varied(runs, lambda r: False) == []


def test_a_racy_expectation_accepts_only_pass_or_xfail():
    # A FAIL names a requirement no expectation lists: the racy entry of the run does not cover it.
    runs = [[record("b", outcome, a="perl", b="python-dirq")] for outcome in ("PASS", "XFAIL", "FAIL")]
    (found,) = varied(runs, lambda r: True)
    assert found.outcomes == {"PASS": 1, "XFAIL": 1, "FAIL": 1} and not found.racy
    assert "1 outside racy expectations" in report(3, [found])
    (inconclusive,) = varied([[record("b", "PASS", a="perl")], [record("b", "INCONCLUSIVE", a="perl")]], lambda r: True)
    assert not inconclusive.racy
