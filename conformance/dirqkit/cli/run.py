"""``dirqkit run``: the conformance suite against implementations, as a matrix.

With no arguments: every case against every available implementation in
every role. It drives pytest with the dirqkit plugin, so everything pytest
offers (xdist, JUnit XML) comes along; this command only spells the options.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

from dirqkit.cli import UsageError
from dirqkit.suite.caseload import default_cases_dir
from dirqkit.trees.filesystem import writable_problem

NAME = "run"
HELP = "run the conformance suite and print the conformance matrix"

# pytest exit codes -> dirqkit exit codes (0 ok, 1 failures, 2 usage/other)
EXIT_CODES = {pytest.ExitCode.OK: 0, pytest.ExitCode.TESTS_FAILED: 1}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--impl", action="append", default=[], metavar="NAME", help="run only these implementations (repeat or comma-separate); default: all available")
    parser.add_argument("--driver", action="append", default=[], metavar="CMD", help="add an implementation reached by this driver command (pair with --name)")
    parser.add_argument("--name", action="append", default=[], metavar="NAME", help="name of the implementation given by the matching --driver")
    parser.add_argument("--role", action="append", default=[], metavar="ROLE=NAME", help="pin a role (a case's role name, or producer/consumer/purger) to one implementation")
    parser.add_argument("--case", action="append", default=[], metavar="ID", help="run only this case (repeatable)")
    parser.add_argument("--req", action="append", default=[], metavar="ID", help="run only cases citing this requirement ID or ID prefix (e.g. SIMPLE-LOCK)")
    parser.add_argument("--group", action="append", default=[], metavar="GROUP", help="run only this case group (simple, normal, ...)")
    parser.add_argument("--cases", action="append", default=[], type=Path, metavar="DIR", help="run cases from this directory instead of the kit's")
    parser.add_argument("--expectations", type=Path, default=None, metavar="DIR", help="expectations directory (default: the kit's)")
    parser.add_argument("--dir", type=Path, default=None, metavar="PATH", help="create every case's queues under PATH, on the filesystem to test (default: the temporary directory); reports record its filesystem")
    parser.add_argument("--baked", type=Path, default=None, metavar="DIR", help="fixture cases use trees baked ahead in DIR (an overlay's lower layer; see tools/fs_matrix.py)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="per-request driver timeout (default 30)")
    parser.add_argument("-j", "--jobs", default="auto", metavar="N", help="parallel workers (pytest-xdist), 'auto' or 0 for none (default auto)")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML (requirement IDs as properties)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write results as JSON")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write the matrix as Markdown")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the matrix as one HTML file")
    parser.add_argument("--results", type=Path, default=Path("dirqkit-results"), metavar="DIR", help="where failing runs keep tree, log and transcripts (default ./dirqkit-results)")
    parser.add_argument("--write-expectations", type=Path, metavar="DIR", help="draft expectation files from this run's failures into DIR")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per case run")


def pytest_args(args: argparse.Namespace) -> list[str]:
    if len(args.driver) != len(args.name):
        raise UsageError("every --driver needs a --name (and the other way round)")
    case_dirs = args.cases or [default_cases_dir()]
    for directory in case_dirs:
        if not directory.is_dir():
            raise UsageError(f"case directory {directory} does not exist")
    if args.dir is not None and writable_problem(args.dir):
        raise UsageError(f"--dir: {writable_problem(args.dir)}")
    argv = [str(d) for d in case_dirs]
    # The kit's own (empty) ini file, so that the caller's pytest configuration does not apply.
    argv += ["-p", "no:cacheprovider", "--rootdir", str(case_dirs[0]), "-c", str(default_cases_dir() / "pytest.ini")]
    argv += ["-v" if args.verbose else "-q", "-rfE", "--tb=short"]
    # dirqkit (the plugin's package) is imported before pytest starts: nothing to rewrite.
    argv += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if args.jobs not in ("0", 0) and importlib.util.find_spec("xdist"):
        argv += ["-n", str(args.jobs)]
    for name, command in zip(args.name, args.driver):
        argv += ["--dirqkit-driver", f"{name}={command}"]
    for option, values in (("--dirqkit-impl", args.impl), ("--dirqkit-role", args.role), ("--dirqkit-case", args.case),
                           ("--dirqkit-req", args.req), ("--dirqkit-group", args.group)):
        for value in values:
            argv += [option, value]
    for directory in args.cases:
        argv += ["--dirqkit-cases", str(directory)]
    argv += ["--dirqkit-timeout", str(args.timeout), "--dirqkit-results", str(args.results)]
    for option, value in (("--junitxml", args.junit), ("--dirqkit-json", args.json), ("--dirqkit-markdown", args.markdown),
                          ("--dirqkit-html", args.html), ("--dirqkit-write-expectations", args.write_expectations),
                          ("--dirqkit-expectations", args.expectations), ("--dirqkit-dir", args.dir),
                          ("--dirqkit-baked", args.baked)):
        if value is not None:
            argv += [option, str(value)]
    return argv


def run(args: argparse.Namespace) -> int:
    code = pytest.main(pytest_args(args))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("dirqkit run: no case selected (check --case/--req/--group/--impl, or the suite is still empty)")
        return 2
    return EXIT_CODES.get(code, 2)
