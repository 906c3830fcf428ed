"""``dirqkit run``: the conformance suite against implementations, as a matrix.

With no arguments: every case against every available implementation in
every role. It drives pytest with the dirqkit plugin, so everything pytest
offers (xdist, JUnit XML) comes along; this command only spells the options.
"""

from __future__ import annotations

import argparse
import copy
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

from dirqkit.cli import UsageError
from dirqkit.report import stability
from dirqkit.suite import expectations
from dirqkit.suite.caseload import default_cases_dir
from dirqkit.trees.filesystem import writable_problem

NAME = "run"
HELP = "run the conformance suite and print the conformance report"

# pytest exit codes -> dirqkit exit codes (0 ok, 1 failures, 2 usage/other)
NO_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
EXIT_CODES = {pytest.ExitCode.OK: 0, pytest.ExitCode.TESTS_FAILED: 1}


def add_implementation_arguments(parser: argparse.ArgumentParser) -> None:
    """--impl, --driver/--name and --role: which implementations play (shared with ``dirqkit fuzz``)."""
    parser.add_argument("--impl", action="append", default=[], metavar="NAME", help="run only these implementations (repeat or comma-separate); default: all available")
    parser.add_argument("--driver", action="append", default=[], metavar="CMD", help="add an implementation reached by this driver command (pair with --name)")
    parser.add_argument("--name", action="append", default=[], metavar="NAME", help="name of the implementation given by the matching --driver")
    parser.add_argument("--role", action="append", default=[], metavar="ROLE=NAME", help="pin a role (a case's role name, or producer/consumer/purger) to one implementation")


def implementation_choices(args: argparse.Namespace) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """(selected implementations, extra drivers name -> command, role pins) from those options."""
    if len(args.driver) != len(args.name):
        raise UsageError("every --driver needs a --name (and the other way round)")
    selected = [v.strip() for value in args.impl for v in value.split(",") if v.strip()]
    pins = {}
    for value in args.role:
        role, sep, name = value.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise UsageError(f"--role takes ROLE=NAME, got {value!r}")
        pins[role.strip()] = name.strip()
    return selected, dict(zip(args.name, args.driver)), pins


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_implementation_arguments(parser)
    parser.add_argument("--case", action="append", default=[], metavar="ID", help="run only this case (repeatable)")
    parser.add_argument("--req", action="append", default=[], metavar="ID", help="run only cases citing this requirement ID or ID prefix (e.g. SIMPLE-LOCK)")
    parser.add_argument("--group", action="append", default=[], metavar="GROUP", help="run only this case group (simple, normal, ...)")
    parser.add_argument("--cases", action="append", default=[], type=Path, metavar="DIR", help="run cases from this directory instead of the kit's")
    parser.add_argument("--expectations", type=Path, default=None, metavar="DIR", help="expectations directory (default: the kit's)")
    parser.add_argument("--dir", type=Path, default=None, metavar="PATH", help="create every case's queues under PATH, on the filesystem to test (default: the temporary directory); reports record its filesystem")
    parser.add_argument("--baked", type=Path, default=None, metavar="DIR", help="fixture cases use trees baked ahead in DIR (an overlay's lower layer; see tools/fs_matrix.py)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="per-request driver timeout (default 30)")
    parser.add_argument("-j", "--jobs", default="auto", metavar="N", help="parallel workers (pytest-xdist), 'auto' or 0 for none (default auto)")
    parser.add_argument("--no-pin", action="store_true", help="let each worker's drivers run on any CPU (default: a worker and its drivers share one CPU, "
                                                               "except in stress and parallel steps)")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML: one testcase per run, implementations and requirement IDs as properties")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results, verdicts and interop grid as JSON (compare two with dirqkit compare)")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write the report as Markdown")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the report as one self-contained HTML file")
    parser.add_argument("--results", type=Path, default=Path("dirqkit-results"), metavar="DIR", help="where failing runs keep tree, log and transcripts (default ./dirqkit-results)")
    parser.add_argument("--write-expectations", type=Path, metavar="DIR", help="draft expectation files from this run's failures into DIR")
    parser.add_argument("--inconclusive-fails", action="store_true", help="exit 1 when a run is INCONCLUSIVE (by default it is reported apart and exits 0)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="run the selection N times and list every (case, roles) whose outcome differed")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per case run")


def pytest_args(args: argparse.Namespace) -> list[str]:
    implementation_choices(args)  # usage errors before pytest starts
    case_dirs = args.cases or [default_cases_dir()]
    for directory in case_dirs:
        if not directory.is_dir():
            raise UsageError(f"case directory {directory} does not exist")
    if args.dir is not None and writable_problem(args.dir):
        raise UsageError(f"--dir: {writable_problem(args.dir)}")
    argv = [str(d) for d in case_dirs]
    # The kit's own (empty) ini file, so that the caller's pytest configuration does not apply.
    argv += ["-p", "no:cacheprovider", "--rootdir", str(case_dirs[0]), "-c", str(default_cases_dir() / "pytest.ini")]
    # Only the kit's plugins, named here (run_once turns off the autoloading of installed ones, which wrote
    # into the caller's directory and printed their own warnings).
    argv += ["-p", "dirqkit.suite.plugin"]
    # pytest's report of exceptions raised in __del__ ends every process (each xdist worker too) with five
    # full garbage collections of the run's heap; the kit's verdicts never come from there.
    argv += ["-p", "no:unraisableexception"]
    argv += ["-v" if args.verbose else "-q", "-rfE", "--tb=short"]
    # dirqkit (the plugin's package) is imported before pytest starts: nothing to rewrite.
    argv += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if args.jobs not in ("0", 0) and importlib.util.find_spec("xdist"):
        argv += ["-p", "xdist.plugin", "-n", str(args.jobs), *one_by_one()]
    for name, command in zip(args.name, args.driver):
        argv += ["--dirqkit-driver", f"{name}={command}"]
    for option, values in (("--dirqkit-impl", args.impl), ("--dirqkit-role", args.role), ("--dirqkit-case", args.case),
                           ("--dirqkit-req", args.req), ("--dirqkit-group", args.group)):
        for value in values:
            argv += [option, value]
    for directory in args.cases:
        argv += ["--dirqkit-cases", str(directory)]
    argv += ["--dirqkit-timeout", str(args.timeout), "--dirqkit-results", str(args.results)]
    if args.inconclusive_fails:
        argv.append("--dirqkit-inconclusive-fails")
    if not args.no_pin:
        argv.append("--dirqkit-pin")
    for option, value in (("--dirqkit-junit", args.junit), ("--dirqkit-json", args.json), ("--dirqkit-markdown", args.markdown),
                          ("--dirqkit-html", args.html), ("--dirqkit-write-expectations", args.write_expectations),
                          ("--dirqkit-expectations", args.expectations), ("--dirqkit-dir", args.dir),
                          ("--dirqkit-baked", args.baked)):
        if value is not None:
            argv += [option, str(value)]
    return argv


def one_by_one() -> list[str]:
    """xdist options handing out one run at a time. By default xdist first gives each worker a
    quarter of the collection in one block: with the heaviest runs first, one worker got all of
    them while the other ran out of work (100 s idle in a 470 s run of 4 implementations).
    --maxschedchunk exists from pytest-xdist 3.2 on; older ones keep their default."""
    try:
        major, minor = (int(part) for part in importlib.metadata.version("pytest-xdist").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return []
    return ["--maxschedchunk", "1"] if (major, minor) >= (3, 2) else []


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise UsageError(f"--repeat takes a positive count, got {args.repeat}")
    if args.repeat > 1:
        return repeat(args)
    return run_once(args)


def run_once(args: argparse.Namespace) -> int:
    argv = pytest_args(args)
    autoload = os.environ.get(NO_AUTOLOAD)
    os.environ[NO_AUTOLOAD] = "1"  # inherited by the xdist workers
    try:
        code = pytest.main(argv)
    finally:
        if autoload is None:
            del os.environ[NO_AUTOLOAD]
        else:
            os.environ[NO_AUTOLOAD] = autoload
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("dirqkit run: no case selected (check --case/--req/--group/--impl, or the suite is still empty)")
        return 2
    return EXIT_CODES.get(code, 2)


def repeat(args: argparse.Namespace) -> int:
    """Run the selection ``--repeat`` times; list every run whose outcome differed (racy expectations aside).

    Each repetition's results go to RESULTS/repeat/run-I.json; ``--json`` gets the stability document.
    Exit 1 when a repetition failed or an outcome varied outside racy expectations.
    """
    try:
        known = expectations.load_all(args.expectations)
    except expectations.ExpectationsError as exc:
        raise UsageError(str(exc)) from None
    folder = args.results / "repeat"
    folder.mkdir(parents=True, exist_ok=True)
    codes, repetitions = [], []
    for number in range(1, args.repeat + 1):
        print(f"dirqkit run: repetition {number} of {args.repeat}", flush=True)
        once = copy.copy(args)
        once.json, once.junit, once.markdown, once.html, once.write_expectations = folder / f"run-{number}.json", None, None, None, None
        codes.append(run_once(once))
        if codes[-1] == 2:
            return 2
        repetitions.append(json.loads(once.json.read_text(encoding="utf-8"))["records"])

    def is_racy(record: dict[str, Any]) -> bool:
        pairs = set(record["roles"].items())
        return any(e.racy and e.case == record["case"] and set(e.roles) <= pairs for e in known)

    found = stability.varied(repetitions, is_racy)
    print(stability.report(args.repeat, found))
    print("exit codes of the repetitions: " + " ".join(map(str, codes)))
    if args.json:
        args.json.write_text(json.dumps({"repeat": args.repeat, "exit_codes": codes, "results": [str(folder / f"run-{n}.json") for n in range(1, args.repeat + 1)],
                                         "varied": [v.to_json() for v in found]}, indent=2) + "\n", encoding="utf-8")
    return 1 if any(codes) or any(not v.racy for v in found) else 0
