"""Conformance by requirement: attribution of failing runs, verdicts, the SPEC 3.3 summary."""

from __future__ import annotations

from report_testutil import known, results, run

from dirqkit.report.results import NOT_CLAIMED, UNAVAILABLE
from dirqkit.report.verdicts import Verdicts

PC = ("SIMPLE-ADD-1", "SIMPLE-GET-1")


def status(verdicts: Verdicts, impl: str, rid: str) -> str:
    return verdicts.table[(impl, rid)].status


def test_a_known_deviation_is_charged_to_its_implementation_with_reason_and_source():
    deviation = run("c", {"producer": "ref", "consumer": "perl"}, "XFAIL", PC, violated=["SIMPLE-GET-1"],
                    known=[known("perl", "SIMPLE-GET-1", "reads the wrong file")], expected_of=["perl"])
    verdicts = Verdicts(results(deviation, run("c", {"producer": "ref", "consumer": "ref"}, "PASS", PC)))
    assert status(verdicts, "perl", "SIMPLE-GET-1") == "deviates"
    charge = verdicts.table[("perl", "SIMPLE-GET-1")].charges[0]
    assert (charge.reason, charge.source, charge.capabilities) == ("reads the wrong file", "expectations/perl.yaml:7", ("consumer",))
    # the producer is not bound by SIMPLE-GET-1, and ref met everything it was involved in
    assert ("perl", "SIMPLE-ADD-1") not in verdicts.table
    assert status(verdicts, "ref", "SIMPLE-ADD-1") == "met" and status(verdicts, "ref", "SIMPLE-GET-1") == "met"


def test_a_new_failure_goes_to_the_only_implementation_in_a_bound_role():
    failed = run("c", {"producer": "perl", "consumer": "ref"}, "FAIL", PC, violated=["SIMPLE-ADD-1"])
    verdicts = Verdicts(results(failed))
    assert status(verdicts, "perl", "SIMPLE-ADD-1") == "fails"
    assert verdicts.table[("ref", "SIMPLE-GET-1")].status == "not-tested"  # its only run failed because of perl


def test_a_failure_binding_both_roles_goes_to_the_side_that_fails_with_every_partner():
    impls = ("ref", "perl", "c")
    records = []
    for producer in impls:
        for consumer in impls:
            bad = consumer == "c"
            records.append(run("k", {"producer": producer, "consumer": consumer}, "FAIL" if bad else "PASS", ("SPEC-3",),
                               violated=["SPEC-3"] if bad else []))
    verdicts = Verdicts(results(*records))
    assert status(verdicts, "c", "SPEC-3") == "fails"
    assert status(verdicts, "ref", "SPEC-3") == "met" and status(verdicts, "perl", "SPEC-3") == "met"


def test_a_failure_nothing_can_attribute_is_ambiguous_for_every_candidate():
    """Pinned roles: one run, both sides bound by the rule; neither can be told apart."""
    failed = run("k", {"producer": "perl", "consumer": "mine"}, "FAIL", ("SPEC-3",), violated=["SPEC-3"])
    verdicts = Verdicts(results(failed))
    assert status(verdicts, "perl", "SPEC-3") == "ambiguous" and status(verdicts, "mine", "SPEC-3") == "ambiguous"
    assert verdicts.table[("perl", "SPEC-3")].charges[0].candidates == ("mine", "perl")


def test_a_driver_that_broke_the_protocol_is_charged_on_every_cited_requirement():
    crashed = run("c", {"producer": "ref", "consumer": "c"}, "CRASH", PC, culprits=["c"])
    verdicts = Verdicts(results(crashed))
    assert status(verdicts, "c", "SIMPLE-GET-1") == "fails"
    assert verdicts.table[("ref", "SIMPLE-ADD-1")].status == "not-tested"


def test_skips_are_not_applicable_or_not_tested_and_inconclusive_is_never_charged():
    records = [
        run("n", {}, "SKIP", ("NORMAL-GET-3",), queue_type="normal", implementations=["c"], skip_kind=NOT_CLAIMED,
            message="c does not support normal queues"),
        run("s", {}, "SKIP", ("SIMPLE-GET-1",), implementations=["perl"], skip_kind=UNAVAILABLE, message="perl unavailable: no"),
        run("i", {"consumer": "ref"}, "INCONCLUSIVE", ("SIMPLE-PURGE-2",), message="could not backdate"),
    ]
    verdicts = Verdicts(results(*records))
    assert status(verdicts, "c", "NORMAL-GET-3") == "not-applicable"
    assert status(verdicts, "perl", "SIMPLE-GET-1") == "not-tested"
    assert verdicts.table[("perl", "SIMPLE-GET-1")].notes == ["perl unavailable: no"]
    assert status(verdicts, "ref", "SIMPLE-PURGE-2") == "not-tested"
    assert not any(v.charges for v in verdicts.table.values())


def test_summary_in_spec_terms_counts_must_and_should_deviations_per_claimed_type_and_role():
    records = [
        run("a", {"producer": "perl"}, "XFAIL", ("SIMPLE-ADD-1",), known=[known("perl", "SIMPLE-ADD-1")]),
        run("b", {"producer": "perl"}, "FAIL", ("SIMPLE-ADD-7",), violated=["SIMPLE-ADD-7"]),
        run("c", {"producer": "ref", "consumer": "perl"}, "PASS", PC),
        run("d", {"producer": "ref"}, "PASS", ("SIMPLE-ADD-1",)),
    ]
    info = {"perl": {"available": True, "queue_types": ["simple"], "roles": ["producer", "consumer"]},
            "ref": {"available": True, "queue_types": ["simple"], "roles": ["producer", "consumer"]},
            "c": {"available": False, "reason": "no libdirq", "enable": "set DIRQKIT_LIBDIRQ"}}
    summary = Verdicts(results(*records, info=info)).summary()
    perl = {(r["queue_type"], r["role"]): r for r in summary["perl"]}
    assert perl[("simple", "producer")]["text"] == "1 MUST deviation, 1 SHOULD deviation (1 new)"
    assert perl[("simple", "producer")]["must"] == ["SIMPLE-ADD-1"] and perl[("simple", "producer")]["new"] == ["SIMPLE-ADD-7"]
    assert perl[("simple", "consumer")]["text"] == "conforms"
    assert [r["text"] for r in summary["ref"]] == ["conforms", "not tested"]  # ref never consumed here
    assert summary["c"] == []


def test_an_expected_failure_counts_only_for_the_implementation_it_blames_in_the_group_matrix():
    from dirqkit.report.matrix import matrix

    rows = matrix(results(
        run("c", {"producer": "perl", "consumer": "ref"}, "XFAIL", ("SIMPLE-ADD-7",), expected_of=["perl"]),
        run("d", {"producer": "perl", "consumer": "ref"}, "PASS", ("SIMPLE-ADD-1",)),
    ))["SIMPLE-ADD"]
    assert rows["perl"].text() == "1/2, 1 known" and rows["perl"].state == "known"  # never shown as a pass
    assert rows["ref"].text() == "1/1" and rows["ref"].state == "ok"


def test_a_producer_whose_elements_no_consumer_reads_is_charged_although_the_rule_binds_consumers():
    records = [run("g", {"producer": p, "consumer": c}, "FAIL" if p == "perl" else "PASS", PC,
                   violated=["SIMPLE-GET-1"] if p == "perl" else [])
               for p in ("ref", "perl") for c in ("ref", "perl")]
    verdicts = Verdicts(results(*records))
    assert status(verdicts, "perl", "SIMPLE-GET-1") == "fails"
    assert verdicts.table[("perl", "SIMPLE-GET-1")].charges[0].capabilities == ("producer",)
    assert status(verdicts, "ref", "SIMPLE-GET-1") == "met"


def test_a_failure_naming_no_requirement_is_ambiguous_between_its_implementations():
    """Every cited requirement is charged, so the roles they bind cannot single anyone out."""
    failed = run("s", {"a": "c", "b": "perl"}, "FAIL", ("SIMPLE-ADD-1", "SIMPLE-GET-1"))
    failed.capabilities = {"a": "producer", "b": "consumer"}
    verdicts = Verdicts(results(failed))
    assert {status(verdicts, i, r) for i in ("c", "perl") for r in ("SIMPLE-ADD-1", "SIMPLE-GET-1")} == {"ambiguous"}
