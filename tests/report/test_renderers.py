"""Terminal, Markdown, JSON (against its schema) and JUnit renderings of one set of runs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
from report_testutil import known, results, run

from dirqkit import resources
from dirqkit.report import formats, jsonreport, terminal
from dirqkit.report.views import Views

INFO = {
    "ref": {"available": True, "reason": "dirqref", "enable": "", "queue_types": ["simple"], "roles": ["producer", "consumer"]},
    "perl": {"available": True, "reason": "perl", "enable": "", "queue_types": ["simple"], "roles": ["producer", "consumer"]},
    "c": {"available": False, "reason": "libdirq not found", "enable": "set DIRQKIT_LIBDIRQ=/path/libdirq.so"},
}


def sample():
    out = results(
        run("get", {"producer": "ref", "consumer": "ref"}, "PASS", ("SIMPLE-ADD-1", "SIMPLE-GET-1")),
        run("get", {"producer": "ref", "consumer": "perl"}, "XFAIL", ("SIMPLE-ADD-1", "SIMPLE-GET-1"),
            violated=["SIMPLE-GET-1"], known=[known("perl", "SIMPLE-GET-1", "reads the wrong file")], expected_of=["perl"]),
        run("get", {"producer": "perl", "consumer": "ref"}, "FAIL", ("SIMPLE-ADD-1", "SIMPLE-GET-1"),
            violated=["SIMPLE-ADD-1"], message="step 1: wrong name"),
        run("get", {"producer": "perl", "consumer": "perl"}, "INCONCLUSIVE", ("SIMPLE-ADD-1", "SIMPLE-GET-1"),
            message="could not set up"),
        run("get", {}, "SKIP", ("SIMPLE-ADD-1", "SIMPLE-GET-1"), implementations=["c"], skip_kind="unavailable",
            message="c unavailable: libdirq not found"),
        info=INFO,
    )
    out.environment = {"filesystem": "ext4", "dir_nlink": True}
    return out


def test_terminal_puts_summary_and_interop_first_and_never_shows_a_deviation_as_a_pass():
    text = terminal.render(Views.of(sample()))
    summary, interop, matrix = (text.index(s) for s in ("Conformance per claimed", "Interop, simple", "Runs per requirement group"))
    assert summary < interop < matrix
    assert "environment: filesystem=ext4, dir_nlink=True" in text.splitlines()[1]
    lines = text.splitlines()
    first = next(n for n, line in enumerate(lines) if line.split()[:3] == ["perl", "simple", "producer"])
    assert "1 MUST deviation, 0 SHOULD deviations (1 new)" in lines[first]  # SIMPLE-ADD-1, new
    assert lines[first + 1].split()[:2] == ["simple", "consumer"]
    assert "1 MUST deviation, 0 SHOULD deviations" in lines[first + 1]  # SIMPLE-GET-1, known
    assert "conforms" not in lines[first] + lines[first + 1]
    assert "perl -> ref: SIMPLE-ADD-1" in text and "ref -> perl: SIMPLE-GET-1 (known)" in text
    assert "SIMPLE-ADD         1/2, 1 FAIL  skip  0/2, 1 known, 1 FAIL, 1 inconclusive" in text
    assert text.rstrip().endswith("[1] c unavailable: libdirq not found; to enable it: set DIRQKIT_LIBDIRQ=/path/libdirq.so")
    assert "1 INCONCLUSIVE" in text.splitlines()[0]


def test_json_matches_its_schema_and_carries_the_views(tmp_path):
    path = tmp_path / "r.json"
    formats.write(sample(), "json", path)
    data = json.loads(path.read_text())
    schema = json.loads((resources.schemas_dir() / "results.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    assert data["environment"] == {"filesystem": "ext4", "dir_nlink": True}
    assert data["verdict_counts"]["perl"]["fails"] == 1 and data["verdict_counts"]["perl"]["deviates"] == 1
    verdict = next(v for v in data["verdicts"] if (v["implementation"], v["requirement"]) == ("perl", "SIMPLE-GET-1"))
    assert verdict["charges"][0]["source"] == "expectations/perl.yaml:7"
    assert {(p["producer"], p["consumer"]): p["state"] for p in data["interop"]} == {
        ("ref", "ref"): "ok", ("ref", "perl"): "known", ("perl", "ref"): "fails", ("perl", "perl"): "inconclusive"}
    bad = dict(data, records=[{"case": "x"}])
    assert not jsonschema.Draft202012Validator(schema).is_valid(bad)  # the schema is not a rubber stamp


def test_junit_has_one_testcase_per_run_with_properties_and_a_deviation_is_not_a_pass(tmp_path):
    path = tmp_path / "j.xml"
    runs = sample()
    runs.records[2].seconds = 1.25
    formats.write(runs, "junit", path)
    suite = ET.parse(path).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("time") for c in cases] == ["0.000", "0.000", "1.250", "0.000", "0.000"]  # where a run's time goes
    assert len(cases) == 5 and suite.get("failures") == "1" and suite.get("skipped") == "3"
    props = [(p.get("name"), p.get("value")) for p in cases[1].iter("property")]
    assert ("implementation", "perl") in props and ("requirement", "SIMPLE-GET-1") in props
    assert "known deviation: SIMPLE-GET-1: reads the wrong file" in cases[1].find("skipped").get("message")
    assert cases[2].find("failure") is not None and cases[3].find("skipped").get("message").startswith("inconclusive")
    assert ("environment.filesystem", "ext4") in [(p.get("name"), p.get("value")) for p in suite.iter("property")]


def test_markdown_has_the_three_views(tmp_path):
    path = tmp_path / "m.md"
    formats.write(sample(), "markdown", path)
    text = path.read_text()
    assert "| perl | simple | consumer | 1 MUST deviation, 0 SHOULD deviations" in text
    assert "| perl | SIMPLE-GET-1 | deviates | reads the wrong file (expectations/perl.yaml:7) |" in text
    assert "| perl | FAIL 1 | ok |" not in text and "| perl | FAIL 1 | inconclusive |" in text
    assert "- c: libdirq not found; to enable it" in text
    assert jsonreport.FORMAT in json.dumps(jsonreport.document(Views.of(sample())))


def test_html_links_every_requirement_id_to_its_text_and_every_cell_to_its_runs(tmp_path):
    path = tmp_path / "r.html"
    formats.write(sample(), "html", path)
    page = path.read_text()
    for rid in ("SIMPLE-ADD-1", "SIMPLE-GET-1"):
        assert f"href='#spec-{rid}'" in page
        assert f"<dt id='spec-{rid}'><b>{rid}</b> <code>MUST</code>" in page and f"text of {rid}" in page
    assert "data-runs='1 3' title='perl, SIMPLE-GET-1: deviates'" in page  # the deviation and the inconclusive run
    assert "<tr id='run-3' class='run o-INCONCLUSIVE'" in page
