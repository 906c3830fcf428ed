"""Role expansion into the matrix, and expected-failure files."""

from __future__ import annotations

from pathlib import Path

import pytest

from dirqkit.report.results import Record, RunResults
from dirqkit.suite import expectations
from dirqkit.suite.caseload import Case
from dirqkit.suite.roles import Assignment, assignments


def make_case(roles: dict[str, str]) -> Case:
    return Case(id="c", title="t", requirements=("NAME-1",), queue={"type": "simple"}, roles=roles,
                steps=({"role": next(iter(roles)), "op": "count"},), group="g", where="f:1")


def test_two_roles_three_implementations_give_nine_pairs():
    runs = assignments(make_case({"producer": "producer", "consumer": "consumer"}), ["ref", "python-dirq", "perl"], {})
    assert len(runs) == 9
    assert len({r.label for r in runs}) == 9
    assert runs[0].label == "producer=ref,consumer=ref"
    assert runs[-1].label == "producer=perl,consumer=perl"


def test_pins_by_role_name_and_by_capability():
    case = make_case({"producer": "producer", "consumer": "consumer", "rival": "consumer"})
    by_capability = assignments(case, ["ref", "mine"], {"consumer": "mine"})
    assert [r.roles for r in by_capability] == [
        {"producer": "ref", "consumer": "mine", "rival": "mine"},
        {"producer": "mine", "consumer": "mine", "rival": "mine"},
    ]
    by_name = assignments(case, ["ref", "mine"], {"rival": "ref", "producer": "perl"})
    assert {r.roles["producer"] for r in by_name} == {"perl"}
    assert {r.roles["rival"] for r in by_name} == {"ref"}
    assert len(by_name) == 2


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "impl.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_expectation_matches_only_its_roles(tmp_path):
    loaded = expectations.load_all(write(tmp_path, """
implementation: python-dirq
expected_failures:
  - case: c
    roles: {purger: python-dirq}
    requirement: COMMON-2
    reason: deletes foreign files
"""))
    hit = Assignment((("producer", "ref"), ("purger", "python-dirq")))
    miss = Assignment((("producer", "python-dirq"), ("purger", "ref")))
    assert expectations.find(loaded, "c", hit).requirements == {"COMMON-2"}
    assert expectations.find(loaded, "c", miss) is None
    assert expectations.find(loaded, "other", hit) is None


def test_expectations_of_one_run_combine(tmp_path):
    """Entries of several roles (and files) matching one run add up; one racy entry makes the run non-strict."""
    loaded = expectations.load_all(write(tmp_path, """
implementation: python-dirq
expected_failures:
  - {case: c, roles: {a: python-dirq}, requirement: NORMAL-COUNT-1, reason: counts temps}
  - {case: c, roles: {b: python-dirq}, requirement: CRASH-5, reason: purge fails, racy: true}
"""))
    both = expectations.find(loaded, "c", Assignment((("a", "python-dirq"), ("b", "python-dirq"))))
    assert both.requirements == {"NORMAL-COUNT-1", "CRASH-5"} and not both.strict
    assert both.uncovered(("CRASH-5", "CONC-1", "NORMAL-COUNT-1")) == ["CONC-1"]
    one = expectations.find(loaded, "c", Assignment((("a", "python-dirq"), ("b", "ref"))))
    assert one.requirements == {"NORMAL-COUNT-1"} and one.strict
    assert one.uncovered(("CRASH-5",)) == ["CRASH-5"]


def test_an_entry_limited_to_filesystems_matches_only_there(tmp_path):
    loaded = expectations.load_all(write(tmp_path, """
implementation: python-dirq
expected_failures:
  - {case: c, roles: {consumer: python-dirq}, requirement: NFS-3, reason: link counts, filesystems: [btrfs, overlay]}
  - {case: c, roles: {consumer: python-dirq}, requirement: NORMAL-DIR-2, reason: everywhere}
"""))
    run = Assignment((("consumer", "python-dirq"),))
    assert expectations.find(loaded, "c", run, "btrfs").requirements == {"NFS-3", "NORMAL-DIR-2"}
    assert expectations.find(loaded, "c", run, "ext4").requirements == {"NORMAL-DIR-2"}
    assert expectations.find(loaded, "c", run, None).requirements == {"NORMAL-DIR-2"}
    assert "(python-dirq, on btrfs/overlay)" in expectations.find(loaded, "c", run, "overlay").reason


@pytest.mark.parametrize("text, message", [
    ("implementation: x\nexpected_failures:\n  - case: c\n    requirement: R-1\n    reason: r\n", "'roles' must map"),
    ("implementation: x\nexpected_failures:\n  - case: c\n    roles: {a: x}\n    reason: r\n", "'requirement' must be"),
    ("implementation: x\nexpected_failures:\n  - {case: c, roles: {a: x}, requirement: R-1, reason: r, extra: 1}\n", "an entry has"),
    ("implementation: x\nexpected_failures:\n  - {case: c, roles: {a: x}, requirement: R-1, reason: r, racy: 1}\n", "'racy' must be"),
    ("implementation: x\nexpected_failures:\n  - {case: c, roles: {a: x}, requirement: R-1, reason: r, filesystems: btrfs}\n", "'filesystems' must be"),
    ("implementation: x\nexpected_failures:\n  - {case: c, roles: {a: x}, requirement: R-1, reason: r, filesystems: []}\n", "'filesystems' must be"),
    ("expected_failures: []\n", "needs 'implementation'"),
    ("implementation: [\n", "cannot read"),
])
def test_bad_expectation_files_name_the_place(tmp_path, text, message):
    with pytest.raises(expectations.ExpectationsError, match="impl.yaml") as info:
        expectations.load_all(write(tmp_path, text))
    assert message in str(info.value)


def record(roles, outcome, message="step 2: expected true, got false\nmore"):
    return {"case": "c", "roles": roles, "outcome": outcome, "requirements": ["NAME-1"], "requirement": None, "message": message}


def test_draft_blames_the_pair_that_always_fails():
    drafts = expectations.draft([
        record({"producer": "ref", "purger": "perl"}, "FAIL"),
        record({"producer": "python-dirq", "purger": "perl"}, "FAIL"),
        record({"producer": "python-dirq", "purger": "ref"}, "PASS"),
        record({"producer": "ref", "purger": "ref"}, "PASS"),
    ])
    assert set(drafts) == {"perl"}  # python-dirq also produced in a failing run, but passes with ref purging
    perl = expectations.yaml.safe_load(drafts["perl"])
    assert perl["implementation"] == "perl"
    assert perl["expected_failures"] == [{"case": "c", "roles": {"purger": "perl"}, "requirement": "NAME-1",
                                          "reason": "TODO: step 2: expected true, got false"}]


def test_draft_falls_back_to_all_roles_of_an_unexplained_failure():
    drafts = expectations.draft([
        record({"producer": "perl", "consumer": "python-dirq"}, "FAIL"),
        record({"producer": "perl", "consumer": "ref"}, "PASS"),
        record({"producer": "ref", "consumer": "python-dirq"}, "PASS"),
    ])
    assert [e["roles"] for e in expectations.yaml.safe_load(drafts["perl"])["expected_failures"]] == [{"producer": "perl"}]
    assert [e["roles"] for e in expectations.yaml.safe_load(drafts["python-dirq"])["expected_failures"]] == [{"consumer": "python-dirq"}]


def test_draft_has_one_entry_per_broken_requirement():
    failed = record({"a": "python-dirq", "b": "ref"}, "FAIL") | {"violated": ["NORMAL-COUNT-1", "CRASH-5"]}
    entries = expectations.yaml.safe_load(expectations.draft([failed])["python-dirq"])["expected_failures"]
    assert [(e["roles"], e["requirement"]) for e in entries] == [({"a": "python-dirq"}, "NORMAL-COUNT-1"),
                                                                ({"a": "python-dirq"}, "CRASH-5")]


def test_should_deviations_are_reported_apart():
    """SPEC 1.2: broken SHOULD rules are listed on their own, expected or not; MUST failures are not."""
    def run(case, outcome, violated):
        return Record(case=case, title="t", group="g", requirements=violated, roles={"a": "perl"}, where="f:1",
                      outcome=outcome, violated=violated)

    results = RunResults({"SIMPLE-ADD-7": "SHOULD", "SIMPLE-ADD-1": "MUST", "NAME-7": "SHOULD"})
    for each in (run("x", "XFAIL", ["SIMPLE-ADD-7"]), run("y", "FAIL", ["SIMPLE-ADD-1", "NAME-7"]),
                 run("z", "PASS", []), run("w", "FAIL", ["SIMPLE-ADD-1"])):
        results.add(each)
    assert {rid: [r.case for r in rs] for rid, rs in results.should_deviations().items()} == {"NAME-7": ["y"], "SIMPLE-ADD-7": ["x"]}
    text = results.matrix_markdown()
    assert "- NAME-7: 1 run(s): y[a=perl]" in text and "- SIMPLE-ADD-7: 1 run(s): x[a=perl]" in text
    assert results.to_json()["should_deviations"] == {"NAME-7": ["y[a=perl]"], "SIMPLE-ADD-7": ["x[a=perl]"]}
    assert RunResults({"SIMPLE-ADD-1": "MUST"}).should_markdown() == ""


def test_expected_failure_counts_only_for_the_implementation_it_blames():
    results = RunResults()
    results.add(Record(case="c", title="t", group="g", requirements=["SIMPLE-ADD-7"], roles={"a": "perl", "b": "ref"},
                       where="f:1", outcome="XFAIL", expected_of=["perl"]))
    results.add(Record(case="d", title="t", group="g", requirements=["SIMPLE-ADD-1"], roles={"a": "perl", "b": "ref"},
                       where="f:1", outcome="PASS"))
    row = results.matrix()["SIMPLE-ADD"]
    assert row["perl"].text() == "2/2 (1 known)" and row["ref"].text() == "1/1"


def test_options_of_open_steps_count_as_used():
    """A case is skipped for an implementation without an option it opens a queue with, wherever it does."""
    steps = ({"role": "p", "op": "open", "args": {"options": {"umask": 0}}},
             {"parallel": [{"role": "p", "op": "open", "args": {"options": {"rndhex": 1}}}]},
             {"role": "p", "op": "count"})
    case = Case(id="c", title="t", requirements=("NAME-1",), queue={"type": "simple", "options": {"granularity": 1}},
                roles={"p": "producer"}, steps=steps, group="g", where="f:1")
    assert case.option_names() == {"granularity", "umask", "rndhex"}
