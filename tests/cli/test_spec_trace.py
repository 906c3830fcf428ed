"""``dirqkit spec-trace``: requirement parsing and the case trace."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dirqkit.cli import main
from dirqkit.spec import default_spec_path, parse_spec

SPEC_HEAD = "# Test spec\n\nVersion: 9.9\n\n"


def write_spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "SPEC.md"
    path.write_text(SPEC_HEAD + body, encoding="utf-8")
    return path


def case_yaml(case_id: str, requirements: str) -> str:
    return (
        f"  - id: {case_id}\n    title: t\n    requirements: {requirements}\n"
        "    queue: {type: simple}\n    roles: {consumer: consumer}\n"
        "    steps:\n      - {role: consumer, op: count, expect: 0}\n"
    )


def write_cases(tmp_path: Path, text: str) -> Path:
    cases = tmp_path / "cases"
    cases.mkdir(exist_ok=True)
    (cases / "a.yaml").write_text(text, encoding="utf-8")
    return cases


GOOD_SPEC = (
    "- **NAME-1** `MUST` *producer*: names are hex.\n"
    "- **NAME-2** `SHOULD` *producer, consumer*: names increase.\n"
    "- **SIMPLE-LOCK-1** `MUST NOT` *consumer*: never steal a lock.\n"
    "Prose that mentions NAME-1 does not define it.\n"
)


def trace(tmp_path, spec, cases, *extra, capsys):
    code = main(["spec-trace", "--spec", str(spec), "--cases", str(cases), *extra])
    return code, capsys.readouterr()


def test_parse_levels_roles_and_lines(tmp_path):
    spec = parse_spec(write_spec(tmp_path, GOOD_SPEC))
    assert spec.version == "9.9"
    assert spec.problems == []
    assert list(spec.requirements) == ["NAME-1", "NAME-2", "SIMPLE-LOCK-1"]
    lock = spec.requirements["SIMPLE-LOCK-1"]
    assert (lock.level, lock.roles, lock.group, lock.is_must) == ("MUST NOT", ("consumer",), "SIMPLE-LOCK", True)
    assert spec.requirements["NAME-2"].roles == ("producer", "consumer")
    assert spec.requirements["NAME-2"].is_must is False
    assert spec.requirements["NAME-1"].line == 5


@pytest.mark.parametrize(
    "line, message",
    [
        ("- **NAME-1** `MUST` *producer*: a.\n- **NAME-1** `MAY` *producer*: b.\n", "NAME-1: duplicated (first defined on line 5)"),
        ("- **name-1** `MUST` *producer*: lower case id.\n", "malformed requirement line"),
        ("- **NAME-01** `MUST` *producer*: zero-padded number.\n", "malformed requirement line"),
        ("- **NAME-1** `MUSTN'T` *producer*: bad level.\n", "malformed requirement line"),
        ("- **NAME-1** `MUST` *writer*: bad role.\n", "unknown role(s) writer"),
    ],
)
def test_malformed_and_duplicated_ids_fail(tmp_path, capsys, line, message):
    spec = write_spec(tmp_path, line)
    cases = write_cases(tmp_path, "cases: []\n")
    code, out = trace(tmp_path, spec, cases, capsys=capsys)
    assert code == 1
    assert message in out.out


def test_trace_lists_citing_cases_and_passes(tmp_path, capsys):
    spec = write_spec(tmp_path, GOOD_SPEC)
    cases = write_cases(tmp_path, "cases:\n" + case_yaml("c1", "[NAME-1, SIMPLE-LOCK-1]") + case_yaml("c2", "[NAME-2]"))
    code, out = trace(tmp_path, spec, cases, "--strict", capsys=capsys)
    assert code == 0, out.out
    assert "2 of 2 MUST/MUST NOT cited by a case" in out.out
    assert "1 of 1 SHOULD/SHOULD NOT cited by a case, 0 marked untestable, 0 neither" in out.out
    assert out.out.splitlines()[0].split() == ["NAME-1", "MUST", "c1"]


def test_strict_fails_on_uncited_must_and_should(tmp_path, capsys):
    spec = write_spec(tmp_path, GOOD_SPEC)
    cases = write_cases(tmp_path, "cases:\n" + case_yaml("c1", "[NAME-1]"))
    assert trace(tmp_path, spec, cases, capsys=capsys)[0] == 0
    code, out = trace(tmp_path, spec, cases, "--strict", capsys=capsys)
    assert code == 1
    assert "SIMPLE-LOCK-1 (MUST) is cited by no case" in out.out
    assert "SPEC.md:6: NAME-2 (SHOULD) is cited by no case and not marked untestable" in out.out
    assert "0 of 1 SHOULD/SHOULD NOT cited by a case, 0 marked untestable, 1 neither" in out.out


def write_untestable(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "untestable.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_should_marked_untestable_passes_strict(tmp_path, capsys):
    spec = write_spec(tmp_path, GOOD_SPEC)
    cases = write_cases(tmp_path, "cases:\n" + case_yaml("c1", "[NAME-1, SIMPLE-LOCK-1]"))
    marks = write_untestable(tmp_path, "NAME-2: about the hosts, not the implementation\n")
    code, out = trace(tmp_path, spec, cases, "--strict", "--untestable", str(marks), capsys=capsys)
    assert code == 0, out.out
    assert "0 of 1 SHOULD/SHOULD NOT cited by a case, 1 marked untestable, 0 neither" in out.out
    assert out.out.splitlines()[1] == f"{'NAME-2':<22} {'SHOULD':<10} untestable: about the hosts, not the implementation"
    code, out = trace(tmp_path, spec, cases, "--json", "--untestable", str(marks), capsys=capsys)
    assert {r["id"]: r.get("untestable") for r in json.loads(out.out)["requirements"]}["NAME-2"] == "about the hosts, not the implementation"


@pytest.mark.parametrize("marks, cited, message", [
    ("NAME-1: x\n", "[NAME-1, NAME-2, SIMPLE-LOCK-1]", "marks NAME-1 (MUST) untestable; only SHOULD and SHOULD NOT rules may be"),
    ("NAME-9: x\n", "[NAME-1, NAME-2, SIMPLE-LOCK-1]", "marks NAME-9 untestable, which SPEC.md does not define"),
    ("NAME-2: x\n", "[NAME-1, NAME-2, SIMPLE-LOCK-1]", "marks NAME-2 untestable, but c1 cite(s) it"),
])
def test_bad_untestable_marks_fail(tmp_path, capsys, marks, cited, message):
    spec = write_spec(tmp_path, GOOD_SPEC)
    cases = write_cases(tmp_path, "cases:\n" + case_yaml("c1", cited))
    code, out = trace(tmp_path, spec, cases, "--untestable", str(write_untestable(tmp_path, marks)), capsys=capsys)
    assert code == 1
    assert message in out.out


@pytest.mark.parametrize("marks", ["- NAME-2\n", "NAME-2: ''\n", "[\n"])
def test_malformed_untestable_file_is_a_usage_error(tmp_path, capsys, marks):
    spec = write_spec(tmp_path, GOOD_SPEC)
    cases = write_cases(tmp_path, "cases:\n" + case_yaml("c1", "[NAME-1]"))
    code, out = trace(tmp_path, spec, cases, "--untestable", str(write_untestable(tmp_path, marks)), capsys=capsys)
    assert code == 2
    assert "untestable" in out.err and "Traceback" not in out.err


def test_unknown_citation_fails_with_place(tmp_path, capsys):
    spec = write_spec(tmp_path, GOOD_SPEC)
    cases = write_cases(tmp_path, "cases:\n" + case_yaml("c1", "[NAME-1]") + case_yaml("c2", "[NAME-99]"))
    code, out = trace(tmp_path, spec, cases, capsys=capsys)
    assert code == 1
    assert f"{cases / 'a.yaml'}:9: case c2 cites unknown requirement NAME-99" in out.out


def test_json_output(tmp_path, capsys):
    spec = write_spec(tmp_path, GOOD_SPEC)
    cases = write_cases(tmp_path, "cases:\n" + case_yaml("c1", "[NAME-2]"))
    code, out = trace(tmp_path, spec, cases, "--json", capsys=capsys)
    data = json.loads(out.out)
    assert code == 0
    assert data["version"] == "9.9"
    assert {r["id"]: r["cases"] for r in data["requirements"]} == {"NAME-1": [], "NAME-2": ["c1"], "SIMPLE-LOCK-1": []}


@pytest.mark.parametrize(
    "text, message",
    [
        ("cases: [\n", "a.yaml:2: not valid YAML"),
        ("- just a list\n", "a.yaml:1: a case file is a mapping"),
        ("cases:\n  - title: no id\n", "a.yaml:2: cases/0: 'id' is a required property"),
        ("cases:\n" + case_yaml("c1", "NAME-1"), "a.yaml:4: cases/0/requirements: 'NAME-1' is not of type 'array'"),
        ("cases:\n" + case_yaml("c1", "[]"), "a.yaml:4: cases/0/requirements: [] should be non-empty"),
        ("cases:\n" + case_yaml("c1", "[NAME-1]") + case_yaml("c1", "[NAME-1]"), "case id c1 already used at"),
        ("cases:\n" + case_yaml("c1", "[NAME-1]").replace("role: consumer, op", "role: thief, op"), "a.yaml:8: case c1: step names role 'thief'"),
        ("cases:\n" + case_yaml("c1", "[NAME-1]").replace("op: count, expect: 0", "op: lock, args: {name: $e}"), "$e is used before a step binds it"),
        ("cases:\n" + case_yaml("c1", "[NAME-1]").replace("op: count", "op: fly"), "a.yaml:8: cases/0/steps/0/op: 'fly' is not one of"),
    ],
)
def test_malformed_case_file_is_a_usage_error_naming_the_place(tmp_path, capsys, text, message):
    spec = write_spec(tmp_path, GOOD_SPEC)
    cases = write_cases(tmp_path, text)
    code, out = trace(tmp_path, spec, cases, capsys=capsys)
    assert code == 2
    assert message in out.err
    assert "Traceback" not in out.err


def test_missing_spec_is_a_usage_error(tmp_path, capsys):
    code, out = trace(tmp_path, tmp_path / "nope.md", tmp_path, capsys=capsys)
    assert code == 2
    assert "no such file" in out.err


def test_repository_spec_is_well_formed():
    spec = parse_spec(default_spec_path())
    assert spec.problems == []
    assert spec.version
    assert len(spec.requirements) > 100


def test_repository_cases_cite_every_must_and_should(capsys):
    """The kit's own cases cite every MUST and MUST NOT of SPEC.md, and every SHOULD not marked untestable
    (`dirqkit spec-trace --strict`)."""
    code = main(["spec-trace", "--strict"])
    out = capsys.readouterr().out
    assert code == 0, "\n".join(line for line in out.splitlines() if line.startswith("error:"))
    assert re.search(r"; (\d+) of \1 MUST/MUST NOT cited by a case;", out)
    assert re.search(r"marked untestable, 0 neither", out)


RACE_SPEC = GOOD_SPEC + (
    "- **NAME-3** `MUST` *producer*: a temp that vanished is fine (RACE-1: a purger).\n"
    "\n1. Step two: `ENOENT` is no error (RACE-2: another consumer).\n"
)


def raced_case(case_id: str, races: str) -> str:
    return case_yaml(case_id, "[NAME-1, NAME-3, SIMPLE-LOCK-1]").replace("    queue:", f"    races: {races}\n    queue:", 1)


def test_races_are_listed_with_the_cases_that_force_them(tmp_path, capsys):
    spec = write_spec(tmp_path, RACE_SPEC)
    cases = write_cases(tmp_path, "cases:\n" + raced_case("c1", "[RACE-1]"))
    code, out = trace(tmp_path, spec, cases, "--races", str(tmp_path / "none.yaml"), capsys=capsys)
    assert code == 0, out.out
    lines = {line.split()[0]: line for line in out.out.splitlines() if line.startswith("RACE-")}
    assert lines["RACE-1"].split()[-1] == "c1" and "NAME-3" in lines["RACE-1"]
    assert lines["RACE-2"].split()[-1] == "-"
    assert "2 races (RACE-n); 1 forced by a case, 0 marked unforceable, 1 neither" in out.out


def test_strict_fails_on_a_race_neither_forced_nor_marked_unforceable(tmp_path, capsys):
    spec = write_spec(tmp_path, RACE_SPEC)
    cases = write_cases(tmp_path, "cases:\n" + raced_case("c1", "[RACE-1]"))
    marks = tmp_path / "races.yaml"
    untestable = tmp_path / "untestable.yaml"  # the spec's SHOULD is not what this test is about
    untestable.write_text("NAME-2: about deployment\n", encoding="utf-8")
    strict = ("--strict", "--races", str(marks), "--untestable", str(untestable))
    code, out = trace(tmp_path, spec, cases, *strict, capsys=capsys)
    assert code == 1
    assert re.search(r"SPEC\.md:\d+: RACE-2 is forced by no case and not marked unforceable", out.out)
    marks.write_text("unforceable:\n  RACE-2: strace cannot stop it\n", encoding="utf-8")
    code, out = trace(tmp_path, spec, cases, *strict, capsys=capsys)
    assert code == 0, out.out
    assert "unforceable: strace cannot stop it" in out.out
    marks.write_text("unforceable:\n  RACE-2: ''\n", encoding="utf-8")
    code, out = trace(tmp_path, spec, cases, *strict, capsys=capsys)
    assert code == 2 and "each RACE-n to a reason" in out.err


def test_a_case_forcing_an_unknown_race_fails_with_its_place(tmp_path, capsys):
    spec = write_spec(tmp_path, RACE_SPEC)
    cases = write_cases(tmp_path, "cases:\n" + raced_case("c1", "[RACE-7]"))
    code, out = trace(tmp_path, spec, cases, "--races", str(tmp_path / "none.yaml"), capsys=capsys)
    assert code == 1
    assert re.search(r"a\.yaml:\d+: case c1 forces unknown race RACE-7", out.out)


def test_repository_cases_force_every_race(capsys):
    """Every RACE-n of SPEC.md is forced by a case or marked unforceable with a reason."""
    code = main(["spec-trace", "--strict"])
    out = capsys.readouterr().out
    assert code == 0, "\n".join(line for line in out.splitlines() if line.startswith("error:"))
    assert re.search(r"(\d+) races \(RACE-n\); \1 forced by a case", out)
