"""``dirqkit compare OLD NEW``: regressions, improvements, exit codes."""

from __future__ import annotations

from pathlib import Path

from dirqkit.cli import main
from dirqkit.report import formats
from dirqkit.report.results import Record, RunResults
from dirqkit.spec import Requirement

REQS = {"SIMPLE-GET-1": Requirement("SIMPLE-GET-1", "MUST", ("consumer",), "t", 1),
        "SIMPLE-ADD-1": Requirement("SIMPLE-ADD-1", "MUST", ("producer",), "t", 2)}


def results_file(path: Path, outcomes: dict[tuple[str, str], str]) -> Path:
    """One producer/consumer case citing both requirements; a failing run breaks SIMPLE-GET-1."""
    results = RunResults(REQS)
    for (producer, consumer), outcome in outcomes.items():
        failed = outcome in ("FAIL", "XFAIL")
        results.add(Record(case="get", title="t", group="simple", requirements=["SIMPLE-ADD-1", "SIMPLE-GET-1"],
                           roles={"producer": producer, "consumer": consumer}, where="f:1", outcome=outcome,
                           violated=["SIMPLE-GET-1"] if failed else [], queue_type="simple",
                           capabilities={"producer": "producer", "consumer": "consumer"},
                           known=[{"implementation": consumer, "requirement": "SIMPLE-GET-1", "reason": "r", "source": "s:1"}]
                           if outcome == "XFAIL" else []))
    formats.write(results, "json", path)
    return path


def test_new_failure_and_broken_pair_are_regressions_exit_1(tmp_path, capsys):
    old = results_file(tmp_path / "old.json", {("ref", "ref"): "PASS", ("ref", "mine"): "PASS"})
    new = results_file(tmp_path / "new.json", {("ref", "ref"): "PASS", ("ref", "mine"): "FAIL"})
    assert main(["compare", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "mine SIMPLE-GET-1: met -> fails" in out
    assert "interop simple:ref -> consumer:mine: ok -> fails, now breaks SIMPLE-GET-1" in out
    assert main(["compare", str(new), str(old)]) == 0  # the other way round: only better
    out = capsys.readouterr().out
    assert "worse: 0" in out and "mine SIMPLE-GET-1: fails -> met" in out


def test_a_deviation_on_a_new_requirement_is_a_regression_and_an_unavailable_one_is_not(tmp_path, capsys):
    old = results_file(tmp_path / "old.json", {("ref", "ref"): "PASS"})
    new = results_file(tmp_path / "new.json", {("ref", "ref"): "PASS", ("ref", "mine"): "XFAIL"})
    assert main(["compare", str(old), str(new)]) == 1
    assert "mine SIMPLE-GET-1: absent -> deviates" in capsys.readouterr().out
    assert main(["compare", str(new), str(old)]) == 0
    assert "no longer tested: 2" in capsys.readouterr().out  # mine's verdict and its pair: neither worse nor better


def test_unreadable_input_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    good = results_file(tmp_path / "good.json", {("ref", "ref"): "PASS"})
    assert main(["compare", str(tmp_path / "bad.json"), str(good)]) == 2
    assert f"{tmp_path / 'bad.json'}: cannot read results" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing.json"), str(good)]) == 2
