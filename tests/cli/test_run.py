"""``dirqkit run`` end to end: selection, outcomes, expectations, reports, evidence, exit codes."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

BROKEN_DRIVER = Path(__file__).resolve().parents[1] / "drivers" / "broken_driver.py"

CASES = """
cases:
  - id: demo-roundtrip
    title: add then read back
    requirements: [SIMPLE-GET-1]
    queue: {type: simple}
    roles: {producer: producer, consumer: consumer}
    steps:
      - {role: producer, op: add, args: {data: {text: hi}}, bind: e}
      - {role: consumer, op: lock, args: {name: $e}, expect: true}
      - {role: consumer, op: get, args: {name: $e}, expect: {text: hi}}
  - id: demo-wrong
    title: a case whose expectation no implementation meets
    requirements: [SIMPLE-COUNT-1]
    queue: {type: simple}
    roles: {consumer: consumer}
    steps:
      - {role: consumer, op: count, expect: 7}
  - id: demo-add
    title: a producer-only case
    requirements: [NAME-1]
    queue: {type: simple}
    roles: {producer: producer}
    steps:
      - {role: producer, op: add, args: {data: {text: x}}}
"""


def run(tmp_path: Path, *args: str, cases: str = CASES, expectations: str | None = None) -> subprocess.CompletedProcess[str]:
    case_dir = tmp_path / "cases"
    case_dir.mkdir(exist_ok=True)
    (case_dir / "demo.yaml").write_text(cases, encoding="utf-8")
    exp_dir = tmp_path / "expectations"
    exp_dir.mkdir(exist_ok=True)
    if expectations is not None:
        (exp_dir / "ref.yaml").write_text(expectations, encoding="utf-8")
    command = [sys.executable, "-m", "dirqkit", "run", "--cases", str(case_dir), "--expectations", str(exp_dir),
               "-j", "0", "--results", str(tmp_path / "results"), "--json", str(tmp_path / "out.json"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def records(tmp_path: Path) -> dict[str, str]:
    data = json.loads((tmp_path / "out.json").read_text())
    return {f"{r['case']}[{','.join(f'{k}={v}' for k, v in r['roles'].items()) or ','.join(r['implementations'])}]": r["outcome"]
            for r in data["records"]}


def test_pass_and_fail_exit_1_with_evidence_and_rerun_command(tmp_path):
    done = run(tmp_path, "--impl", "ref", "--markdown", str(tmp_path / "m.md"), "--html", str(tmp_path / "m.html"),
               "--junit", str(tmp_path / "j.xml"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert records(tmp_path) == {"demo-roundtrip[producer=ref,consumer=ref]": "PASS", "demo-wrong[consumer=ref]": "FAIL",
                                 "demo-add[producer=ref]": "PASS"}
    assert "consumer=ref count(): expected 7, got 0" in done.stdout
    assert "re-run: dirqkit run --case demo-wrong --role consumer=ref" in done.stdout
    evidence = tmp_path / "results" / "failures" / "demo-wrong_consumer=ref_"
    assert (evidence / "log.txt").read_text().count("count()") == 1
    transcript = [json.loads(line) for line in (evidence / "transcript-consumer-ref.jsonl").read_text().splitlines()]
    assert any('"op":"count"' in t["line"] for t in transcript if t["dir"] == ">")
    assert "| SIMPLE-COUNT | 0/1, 1 FAIL |" in (tmp_path / "m.md").read_text()
    assert "demo-wrong[consumer=ref]" in (tmp_path / "m.html").read_text()
    junit = (tmp_path / "j.xml").read_text()
    assert 'name="requirement" value="SIMPLE-COUNT-1"' in junit and 'name="implementation" value="ref"' in junit
    assert junit.count("<testcase ") == 3
    summary = " ".join(done.stdout[done.stdout.index("Conformance per claimed"):].split())
    assert summary.index("ref simple producer conforms") < summary.index("Interop, simple queues") < summary.index("Runs per requirement group")
    assert "simple consumer 1 MUST deviation, 0 SHOULD deviations (1 new)" in summary and "fail: SIMPLE-COUNT-1" in summary


def test_selection_by_case_and_requirement_exit_0(tmp_path):
    assert run(tmp_path, "--impl", "ref", "--case", "demo-roundtrip").returncode == 0
    assert list(records(tmp_path)) == ["demo-roundtrip[producer=ref,consumer=ref]"]
    assert run(tmp_path, "--impl", "ref", "--req", "SIMPLE-GET").returncode == 0
    assert list(records(tmp_path)) == ["demo-roundtrip[producer=ref,consumer=ref]"]


def test_roles_expand_over_implementations_and_can_be_pinned(tmp_path):
    run(tmp_path, "--impl", "ref,python-dirq", "--case", "demo-roundtrip")
    assert len(records(tmp_path)) == 4
    run(tmp_path, "--impl", "ref,python-dirq", "--case", "demo-roundtrip", "--role", "producer=python-dirq")
    assert list(records(tmp_path)) == ["demo-roundtrip[producer=python-dirq,consumer=ref]",
                                       "demo-roundtrip[producer=python-dirq,consumer=python-dirq]"]


EXPECTED = """
implementation: ref
expected_failures:
  - {case: %s, roles: {consumer: ref}, requirement: SIMPLE-COUNT-1, reason: demo}
"""


def test_expected_failure_is_xfail_and_unexpected_pass_is_reported(tmp_path):
    done = run(tmp_path, "--impl", "ref", expectations=EXPECTED % "demo-wrong")
    assert done.returncode == 0, done.stdout
    assert records(tmp_path)["demo-wrong[consumer=ref]"] == "XFAIL"
    done = run(tmp_path, "--impl", "ref", expectations=EXPECTED % "demo-roundtrip")
    assert done.returncode == 1
    assert records(tmp_path)["demo-roundtrip[producer=ref,consumer=ref]"] == "XPASS"


def test_expected_failure_must_fail_on_its_requirement_only(tmp_path):
    """Known to break COMMON-2, but this run broke SIMPLE-COUNT-1: a new failure, not an excused one."""
    cases = CASES.replace("{role: consumer, op: count, expect: 7}", "{role: consumer, op: count, expect: 7, requirement: SIMPLE-COUNT-1}")
    done = run(tmp_path, "--impl", "ref", "--case", "demo-wrong", cases=cases,
               expectations=(EXPECTED % "demo-wrong").replace("SIMPLE-COUNT-1", "COMMON-2"))
    assert done.returncode == 1, done.stdout
    assert records(tmp_path)["demo-wrong[consumer=ref]"] == "FAIL"
    assert "it also broke SIMPLE-COUNT-1, which no expectation names (expected: COMMON-2)" in done.stdout
    done = run(tmp_path, "--impl", "ref", "--case", "demo-wrong", cases=cases, expectations=EXPECTED % "demo-wrong")
    assert done.returncode == 0 and records(tmp_path)["demo-wrong[consumer=ref]"] == "XFAIL"


def test_a_racy_expected_failure_may_pass(tmp_path):
    racy = (EXPECTED % "demo-roundtrip").replace("reason: demo}", "reason: demo, racy: true}")
    done = run(tmp_path, "--impl", "ref", "--case", "demo-roundtrip", expectations=racy)
    assert done.returncode == 0, done.stdout
    assert records(tmp_path)["demo-roundtrip[producer=ref,consumer=ref]"] == "PASS"


def test_write_expectations_drafts_a_file(tmp_path):
    run(tmp_path, "--impl", "ref,python-dirq", "--case", "demo-wrong", "--write-expectations", str(tmp_path / "drafts"))
    assert "case: demo-wrong" in (tmp_path / "drafts" / "python-dirq.yaml").read_text()


@pytest.mark.parametrize("mode, outcome", [("crash", "CRASH"), ("garbage", "ERROR"), ("hang", "TIMEOUT")])
def test_broken_driver_is_a_named_outcome_not_a_traceback(tmp_path, mode, outcome):
    driver = shlex.join([sys.executable, str(BROKEN_DRIVER), mode])
    done = run(tmp_path, "--driver", driver, "--name", "broken", "--impl", "broken", "--timeout", "2")
    assert done.returncode == 1
    assert records(tmp_path) == {
        "demo-roundtrip[broken]": "SKIP",  # it plays no consumer
        "demo-wrong[broken]": "SKIP",
        "demo-add[producer=broken]": outcome,
    }
    assert f"{outcome} demo-add" in done.stdout


BAD_ACTORS = """cases:
  - id: x
    title: t
    requirements: [CONC-1]
    queue: {{type: simple}}
    roles: {{a: producer}}
    steps:
      - {step}
"""


@pytest.mark.parametrize("args, cases, message", [
    (["--impl", "nosuch"], CASES, "unknown implementation(s) nosuch"),
    (["--impl", "ref", "--case", "nosuch"], CASES, "no case selected"),
    (["--impl", "ref"], "cases:\n  - id: x\n    title: t\n", "demo.yaml:2: cases/0: 'requirements' is a required property"),
    (["--driver", "x"], CASES, "every --driver needs a --name"),
    (["--impl", "ref", "--dir", "no/such/dir"], CASES, "--dir: no/such/dir does not exist"),
    (["--impl", "ref", "--dir", "cases/demo.yaml"], CASES, "--dir: cases/demo.yaml is not a directory"),
    (["--impl", "ref"], BAD_ACTORS.format(step="{role: a, op: count}").replace("roles:", "clock: {zz: '+60'}\n    roles:"),
     "case x: clock names role 'zz', not in roles"),
    (["--impl", "ref"], BAD_ACTORS.format(step="stress: {producers: [a, zz], consumers: [a], elements: 5}"),
     "demo.yaml:8: case x: step names role 'zz', not in roles"),
    (["--impl", "ref"], BAD_ACTORS.format(step="fault: {ops: [{role: a, op: add}], inject: [write], errors: [ENOPE]}"),
     "demo.yaml:8: case x: fault errors: 'ENOPE' is not an errno name"),
    (["--impl", "ref"], CASES.replace("requirements: [SIMPLE-COUNT-1]", "requirements: [SIMPLE-COUNT-1, SIMPLE-LOCK-99]"),
     "demo.yaml:14: case demo-wrong: cites requirement SIMPLE-LOCK-99, which SPEC.md does not define"),
    (["--impl", "ref"], BAD_ACTORS.format(step="{role: a, op: count, requirement: NAME-77}"),
     "demo.yaml:8: case x: cites requirement NAME-77, which SPEC.md does not define"),
    (["--impl", "ref"], BAD_ACTORS.format(step="fault: {ops: [{role: a, op: add}], inject: [write], errors: [EIO], requirement: {write: CONC-99}}"),
     "demo.yaml:8: case x: cites requirement CONC-99, which SPEC.md does not define"),
])
def test_usage_errors_exit_2_with_a_clear_message(tmp_path, args, cases, message):
    done = run(tmp_path, *args, cases=cases)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


UNMADE = """
cases:
  - id: demo-unmade
    title: a stress asking the kit for a second delivery after a purge, with no purger to make one
    requirements: [CONC-3]
    queue: {type: simple}
    roles: {producer: producer}
    steps:
      - stress: {producers: [producer], consumers: [producer], elements: 4, batch: 2, at_least: {duplicates_after_purge: 1}}
"""


def test_a_scenario_the_kit_could_not_set_up_is_inconclusive_not_failed(tmp_path):
    done = run(tmp_path, "--impl", "ref", cases=UNMADE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert records(tmp_path) == {"demo-unmade[producer=ref]": "INCONCLUSIVE"}
    assert "1 run(s) INCONCLUSIVE" in done.stdout and "1 INCONCLUSIVE" in done.stdout
    assert re.search(r"^\s*CONC\s+inconclusive\s*$", done.stdout, re.M)  # not counted as a run of ref, nor a failure
    fatal = run(tmp_path, "--impl", "ref", "--inconclusive-fails", cases=UNMADE)
    assert fatal.returncode == 1 and records(tmp_path) == {"demo-unmade[producer=ref]": "INCONCLUSIVE"}


def test_repeat_lists_no_variation_for_stable_outcomes_and_keeps_each_run(tmp_path):
    done = run(tmp_path, "--impl", "ref", "--case", "demo-wrong", "--case", "demo-add", "--repeat", "2")
    assert done.returncode == 1  # demo-wrong fails in both repetitions
    stability = json.loads((tmp_path / "out.json").read_text())
    assert stability["repeat"] == 2 and stability["exit_codes"] == [1, 1] and stability["varied"] == []
    assert "2 repetitions: 0 run(s) varied" in done.stdout
    for path in stability["results"]:
        assert {r["outcome"] for r in json.loads(Path(path).read_text())["records"]} == {"PASS", "FAIL"}


def test_dir_holds_the_queues_and_every_report_records_its_filesystem(tmp_path):
    queues = tmp_path / "queues"
    queues.mkdir()
    done = run(tmp_path, "--impl", "ref", "--dir", str(queues), "--case", "demo-wrong", "--case", "demo-add",
               "--junit", str(tmp_path / "junit.xml"), "--html", str(tmp_path / "out.html"))
    assert done.returncode == 1, done.stdout
    env = json.loads((tmp_path / "out.json").read_text())["environment"]
    assert env["dir"] == str(queues.resolve())
    assert env["filesystem"] and env["filesystem"] != "unknown" and isinstance(env["dir_link_counts"], bool)
    assert f"environment: dir={queues.resolve()}, filesystem={env['filesystem']}" in done.stdout
    assert f'name="environment.filesystem" value="{env["filesystem"]}"' in (tmp_path / "junit.xml").read_text()
    assert f"<dd>{queues.resolve()}</dd>" in (tmp_path / "out.html").read_text()
    # the passing case's scratch is gone; the failing one's queue went to the evidence
    assert not any(queues.iterdir())
    assert (tmp_path / "results" / "failures" / "demo-wrong_consumer=ref_" / "queue").is_dir()


def test_an_expectation_limited_to_other_filesystems_does_not_apply(tmp_path):
    limited = (EXPECTED % "demo-wrong").replace("reason: demo}", "reason: demo, filesystems: [no-such-fs]}")
    done = run(tmp_path, "--impl", "ref", "--case", "demo-wrong", expectations=limited)
    assert done.returncode == 1 and records(tmp_path)["demo-wrong[consumer=ref]"] == "FAIL"
    here = json.loads((tmp_path / "out.json").read_text())["environment"]["filesystem"]
    done = run(tmp_path, "--impl", "ref", "--case", "demo-wrong", expectations=limited.replace("no-such-fs", here))
    assert done.returncode == 0 and records(tmp_path)["demo-wrong[consumer=ref]"] == "XFAIL"


def test_a_driver_that_dies_when_a_case_starts_it_is_its_named_outcome_not_a_traceback(tmp_path):
    """The driver answers the discovery hello, then dies whenever it is started again (as one that is out of
    resources would), so the second role of a case gets no driver: the case is CRASH with the re-run command,
    not an internal error of the kit."""
    script = tmp_path / "once.py"
    script.write_text(f"""import os, sys
marker = {str(tmp_path / 'started')!r}
if os.path.exists(marker):
    sys.exit(3)
open(marker, "w").close()
os.execv(sys.executable, [sys.executable, "-m", "dirqkit.drivers.ref"])
""", encoding="utf-8")
    done = run(tmp_path, "--driver", shlex.join([sys.executable, str(script)]), "--name", "once", "--impl", "once",
               "--case", "demo-roundtrip", "-j", "0")
    assert "INTERNALERROR" not in done.stdout + done.stderr, done.stdout[-3000:]
    assert done.returncode == 1, done.stdout[-3000:]
    assert records(tmp_path) == {"demo-roundtrip[producer=once,consumer=once]": "CRASH"}
    assert "re-run: dirqkit run --case demo-roundtrip --role producer=once --role consumer=once" in done.stdout


def test_every_run_records_its_seconds_and_worker_under_xdist(tmp_path):
    pytest.importorskip("xdist")
    done = run(tmp_path, "--impl", "ref", "-j", "2", "--junit", str(tmp_path / "junit.xml"))
    assert done.returncode == 1, done.stdout + done.stderr  # demo-wrong fails; the xdist options were accepted
    data = json.loads((tmp_path / "out.json").read_text())["records"]
    assert {r["worker"] for r in data} <= {"gw0", "gw1"} and all(r["seconds"] > 0 for r in data)
    times = re.findall(r'<testcase [^>]*time="([0-9.]+)"', (tmp_path / "junit.xml").read_text())
    assert len(times) == len(data) and all(float(t) > 0 for t in times)


@pytest.mark.parametrize("jobs", ["0", "2"])
def test_installed_pytest_plugins_stay_out_of_a_run(tmp_path, monkeypatch, jobs):
    """A pytest plugin installed beside the kit (found by its entry point) is not loaded by ``dirqkit run``."""
    site = tmp_path / "site"
    (site / "intruder-1.0.dist-info").mkdir(parents=True)
    (site / "intruder-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: intruder\nVersion: 1.0\n")
    (site / "intruder-1.0.dist-info" / "entry_points.txt").write_text("[pytest11]\nintruder = intruder_plugin\n")
    (site / "intruder_plugin.py").write_text(
        "import pathlib\n\ndef pytest_configure(config):\n    pathlib.Path('intruder-was-here').touch()\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    probe = subprocess.run([sys.executable, "-c", "import importlib.metadata as m; print(m.version('intruder'))"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert probe.stdout.strip() == "1.0"  # the plugin is installed as far as Python can tell
    done = run(tmp_path, "--impl", "ref", "--case", "demo-roundtrip", "-j", jobs)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (tmp_path / "intruder-was-here").exists()


AFFINITY_DRIVER = """
import os, sys
with open(sys.argv[1], "a", encoding="ascii") as seen:
    seen.write(",".join(map(str, sorted(os.sched_getaffinity(0)))) + "\\n")
os.execv(sys.executable, [sys.executable, "-m", "dirqkit.drivers.ref"])
"""


@pytest.mark.skipif(len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2, reason="needs CPU affinity (Linux) and two CPUs")
@pytest.mark.parametrize("pinned", [True, False])
def test_each_worker_and_its_drivers_share_one_cpu_unless_no_pin(tmp_path, pinned):
    pytest.importorskip("xdist")
    (tmp_path / "affinity_driver.py").write_text(AFFINITY_DRIVER, encoding="utf-8")
    seen = tmp_path / "seen.txt"
    driver = shlex.join([sys.executable, str(tmp_path / "affinity_driver.py"), str(seen)])
    done = run(tmp_path, "--driver", driver, "--name", "probe", "--impl", "probe", "-j", "2", *([] if pinned else ["--no-pin"]))
    assert done.returncode == 1, done.stdout + done.stderr  # demo-wrong fails; every other run passed
    started = seen.read_text(encoding="ascii").split()
    everything = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    assert started  # the drivers of both workers
    if pinned:
        assert all("," not in cpus for cpus in started) and len(set(started)) == 2, started  # one CPU each, not the same one
    else:
        assert set(started) == {everything}
