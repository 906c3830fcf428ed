"""Case files are parsed by libyaml when PyYAML has it, by the pure-Python parser otherwise: same cases, same places."""

from __future__ import annotations

import pytest
import yaml

from dirqkit.suite import caseload

CASE = """\
cases:
  - id: surrogate
    title: a lone surrogate, which libyaml refuses and the pure-Python parser reads
    requirements: [NORMAL-FIELD-2]
    queue: {type: normal, schema: {body: string}}
    roles: {producer: producer}
    steps:
      - {role: producer, op: count, expect: 0}
      - {role: producer, op: add, args: {data: {body: {type: string, value: "high \\ud800 alone"}}}, error: invalid_data}
"""


def test_libyaml_is_used_when_pyyaml_has_it():
    assert caseload.LOADERS[-1] is yaml.SafeLoader
    assert (caseload.LOADERS[0] is getattr(yaml, "CSafeLoader", None)) == bool(getattr(yaml, "__with_libyaml__", False))


def test_what_libyaml_refuses_is_read_by_the_pure_python_parser(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(CASE, encoding="utf-8")
    (case,) = caseload.load_case_file(path)
    assert case.steps[1]["args"]["data"]["body"]["value"] == "high \ud800 alone"
    assert case.where == f"{path}:2" and case.step_lines == (8, 9)


def test_both_parsers_load_the_kits_cases_alike(monkeypatch):
    if len(caseload.LOADERS) == 1:
        pytest.skip("PyYAML has no libyaml here: only the pure-Python parser is used")
    fast = caseload.load_cases(caseload.default_cases_dir())
    monkeypatch.setattr(caseload, "LOADERS", (yaml.SafeLoader,))
    slow = caseload.load_cases(caseload.default_cases_dir())
    assert fast == slow
    assert [(c.where, c.step_lines) for c in fast] == [(c.where, c.step_lines) for c in slow]
