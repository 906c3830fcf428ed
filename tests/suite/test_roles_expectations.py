"""Role expansion into the matrix, and expected-failure files."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    assert loaded[0].source == f"{tmp_path / 'impl.yaml'}:4"  # the line of its '- case:', for the reports


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


def test_options_of_open_steps_count_as_used():
    """A case is skipped for an implementation without an option it opens a queue with, wherever it does."""
    steps = ({"role": "p", "op": "open", "args": {"options": {"umask": 0}}},
             {"parallel": [{"role": "p", "op": "open", "args": {"options": {"rndhex": 1}}}]},
             {"role": "p", "op": "count"})
    case = Case(id="c", title="t", requirements=("NAME-1",), queue={"type": "simple", "options": {"granularity": 1}},
                roles={"p": "producer"}, steps=steps, group="g", where="f:1")
    assert case.option_names() == {"granularity", "umask", "rndhex"}
