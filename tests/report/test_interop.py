"""The interop grid: producer x consumer and producer x purger, per queue type."""

from __future__ import annotations

from report_testutil import known, results, run

from dirqkit.report.interop import grid
from dirqkit.report.verdicts import Verdicts


def test_pairs_pass_know_or_fail_per_requirement():
    records = [
        run("a", {"producer": "ref", "consumer": "perl"}, "PASS"),
        run("a", {"producer": "perl", "consumer": "ref"}, "FAIL", violated=["SIMPLE-GET-1"]),
        run("b", {"producer": "ref", "consumer": "ref", "purger": "perl"}, "XFAIL", ("SIMPLE-PURGE-2",),
            violated=["SIMPLE-PURGE-2"], known=[known("perl", "SIMPLE-PURGE-2")]),
        run("b", {"producer": "ref", "consumer": "perl", "purger": "ref"}, "PASS", ("SIMPLE-PURGE-2",)),
        run("c", {"producer": "ref"}, "FAIL", ("SIMPLE-ADD-1",), violated=["SIMPLE-ADD-1"]),  # no pair: not interop
        run("d", {"producer": "ref", "consumer": "ref"}, "INCONCLUSIVE", queue_type="normal"),
    ]
    runs = results(*records)
    cells = grid(runs, Verdicts(runs))
    consumer = cells["simple"]["consumer"]
    assert consumer[("ref", "perl")].state == "ok"
    assert consumer[("perl", "ref")].state == "fails" and consumer[("perl", "ref")].broken == {"SIMPLE-GET-1": "fails"}
    # the purger's known deviation says nothing of the producer/consumer pair it ran with
    assert consumer[("ref", "ref")].state == "ok" and consumer[("ref", "ref")].runs == [2]
    purger = cells["simple"]["purger"]
    assert purger[("ref", "perl")].state == "known" and purger[("ref", "perl")].broken == {"SIMPLE-PURGE-2": "known"}
    assert purger[("ref", "ref")].state == "ok"
    assert cells["normal"]["consumer"][("ref", "ref")].state == "inconclusive"


def test_an_ambiguous_failure_fails_the_pair_and_says_so():
    runs = results(run("s", {"producer": "c", "consumer": "perl"}, "FAIL", ("SPEC-3",), violated=["SPEC-3"]))
    pair = grid(runs, Verdicts(runs))["simple"]["consumer"][("c", "perl")]
    assert pair.state == "fails" and pair.broken == {"SPEC-3": "ambiguous"}
