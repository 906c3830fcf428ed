"""tools/bench/bench_matrix.py: one timed ``dirqkit run`` and the outcome comparison of two reports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench" / "bench_matrix.py"
spec = importlib.util.spec_from_file_location("bench_matrix", TOOL)
bench_matrix = importlib.util.module_from_spec(spec)
sys.modules["bench_matrix"] = bench_matrix
spec.loader.exec_module(bench_matrix)


def test_one_run_reports_the_runs_their_outcomes_and_the_cpu_of_the_whole_tree(tmp_path):
    figures = bench_matrix.one_run(["--impl", "ref", "--case", "simple-add-get-text", "-j", "0"], tmp_path, 0)
    assert figures["exit"] == 0, figures
    assert figures["runs"] == len(figures["outcome_of"]) > 0
    assert figures["outcomes"] == {"PASS": figures["runs"]}
    assert all(key.startswith("simple-add-get-text[") for key in figures["outcome_of"])
    assert 0 < figures["cpu_s"] and 0 < figures["wall_s"]


def test_a_run_that_cannot_start_is_a_kit_error_not_figures(tmp_path):
    figures = bench_matrix.one_run(["--no-such-option"], tmp_path, 0)
    assert figures["exit"] == 2
    assert "no-such-option" in figures["kit_error"]
    assert "runs" not in figures


def test_differences_name_each_run_whose_outcome_changed_or_that_ran_only_once():
    earlier = {"a[x=ref]": "PASS", "b[x=ref]": "XFAIL", "c[x=ref]": "PASS"}
    later = {"a[x=ref]": "PASS", "b[x=ref]": "FAIL", "d[x=ref]": "SKIP"}
    assert bench_matrix.differences(earlier, later) == [
        "b[x=ref]: XFAIL -> FAIL", "c[x=ref]: PASS -> -", "d[x=ref]: - -> SKIP"]
    assert bench_matrix.differences(earlier, earlier) == []


def test_versus_pairs_each_repetition_with_the_extra_arguments_taking_turns_first(monkeypatch, capsys):
    calls = []

    def one_run(run_args, scratch, index):
        calls.append(run_args)
        wall = 40.0 if "--no-pin" in run_args else 50.0
        return {"exit": 0, "wall_s": wall, "cpu_s": wall * 1.5, "runs": 1, "outcomes": {"PASS": 1}, "outcome_of": {"a[x=ref]": "PASS"},
                "load_average_at_start": [0.0], "load_average_at_end": [0.0]}

    monkeypatch.setattr(bench_matrix, "one_run", one_run)
    monkeypatch.setattr(sys, "argv", ["bench_matrix.py", "--repeat", "3", "--versus=--no-pin", "--", "--impl", "ref"])
    assert bench_matrix.main() == 0
    assert calls == [["--impl", "ref"], ["--impl", "ref", "--no-pin"], ["--impl", "ref", "--no-pin"], ["--impl", "ref"],
                     ["--impl", "ref"], ["--impl", "ref", "--no-pin"]]
    out = capsys.readouterr().out
    assert out.count("ratio to the run with --no-pin: wall 1.25, CPU 1.25") == 3
    assert "wall ratio to the runs with --no-pin: min 1.25, median 1.25, max 1.25" in out
