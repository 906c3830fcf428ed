"""The pytest plugin that turns YAML cases into test items.

Registered as the ``dirqkit`` pytest11 entry point. It is inert unless a YAML
file under a case directory (the kit's ``cases/`` or ``--dirqkit-cases``) is
collected: then every case becomes one item per assignment of available
implementations to its roles. Collection is deterministic, so pytest-xdist
workers agree on the item list.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dirqkit.concurrency import cores, workers
from dirqkit.concurrency.scene import ScenarioSkipped
from dirqkit.drivers.client import DriverError
from dirqkit.drivers.registry import DRIVERS
from dirqkit.report import formats
from dirqkit.report.results import (
    ENVIRONMENT,
    NOT_CLAIMED,
    UNAVAILABLE,
    Record,
    RunResults,
)
from dirqkit.suite import caseload, expectations, fixture_steps
from dirqkit.suite.actors import DriverPool, Implementation, discover
from dirqkit.suite.caseload import Case, CaseFileError
from dirqkit.suite.engine import CaseFailed, CaseInconclusive, Engine
from dirqkit.suite.roles import Assignment, assignments
from dirqkit.trees import baked, filesystem, treeops
from dirqkit.trees.manifest import FixtureError

KIT_KEY = pytest.StashKey["KitSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dirqkit", "directory queue conformance kit")
    group.addoption("--dirqkit-cases", action="append", default=[], metavar="DIR", help="extra case directory")
    group.addoption("--dirqkit-impl", action="append", default=[], metavar="NAME[,NAME]", help="implementations to run (default: every available one)")
    group.addoption("--dirqkit-driver", action="append", default=[], metavar="NAME=CMD", help="add an implementation reached by driver command CMD")
    group.addoption("--dirqkit-role", action="append", default=[], metavar="ROLE=NAME", help="pin a role (case role name or capability) to one implementation")
    group.addoption("--dirqkit-case", action="append", default=[], metavar="ID", help="run only these case IDs")
    group.addoption("--dirqkit-req", action="append", default=[], metavar="ID", help="run only cases citing this requirement ID (or ID prefix such as SIMPLE-LOCK)")
    group.addoption("--dirqkit-group", action="append", default=[], metavar="GROUP", help="run only these case groups")
    group.addoption("--dirqkit-dir", default=None, metavar="PATH", help="create every case's queue and scratch under PATH (default: the temporary directory)")
    group.addoption("--dirqkit-baked", default=None, metavar="DIR", help="fixture cases take their tree from DIR, baked ahead (e.g. in an overlay's lower layer; dirqkit.trees.baked)")
    group.addoption("--dirqkit-timeout", type=float, default=30.0, metavar="SECONDS", help="per-request driver timeout")
    group.addoption("--dirqkit-expectations", default=None, metavar="DIR", help="expectations directory (default: the kit's)")
    group.addoption("--dirqkit-results", default="dirqkit-results", metavar="DIR", help="where failing runs keep their tree, log and transcripts")
    group.addoption("--dirqkit-json", default=None, metavar="FILE", help="write the results as JSON")
    group.addoption("--dirqkit-markdown", default=None, metavar="FILE", help="write the conformance matrix as Markdown")
    group.addoption("--dirqkit-html", default=None, metavar="FILE", help="write the conformance matrix as a single HTML file")
    group.addoption("--dirqkit-inconclusive-fails", action="store_true", default=False,
                    help="fail the run when a case is INCONCLUSIVE (the kit could not set up what it tests)")
    group.addoption("--dirqkit-junit", default=None, metavar="FILE", help="write JUnit XML, one testcase per run")
    group.addoption("--dirqkit-write-expectations", default=None, metavar="DIR", help="draft expectation files from this run's failures")
    group.addoption("--dirqkit-pin", action="store_true", default=False,
                    help="put each xdist worker and its drivers on one CPU (all CPUs for stress and parallel steps); dirqkit run sets it")


def _split(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise pytest.UsageError(f"{what} takes NAME=VALUE, got {value!r}")
        pairs[key.strip()] = rest.strip()
    return pairs


class KitSession:
    """Per-process state: the implementations, the driver pool, expectations."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        opt = config.getoption
        self.case_roots = [caseload.default_cases_dir().resolve()] + [Path(d).resolve() for d in opt("dirqkit_cases")]
        self.selected = _split(opt("dirqkit_impl"))
        self.extra_drivers = _pairs(opt("dirqkit_driver"), "--dirqkit-driver")
        self.pins = _pairs(opt("dirqkit_role"), "--dirqkit-role")
        self.case_filter = set(_split(opt("dirqkit_case")))
        self.req_filter = _split(opt("dirqkit_req"))
        self.group_filter = set(_split(opt("dirqkit_group")))
        self.timeout = opt("dirqkit_timeout")
        self.results_dir = Path(opt("dirqkit_results")).resolve()
        self.base_dir = Path(opt("dirqkit_dir") or tempfile.gettempdir())
        self.baked = Path(opt("dirqkit_baked")) if opt("dirqkit_baked") else None
        if opt("dirqkit_dir"):
            problem = filesystem.writable_problem(self.base_dir)
            if problem:
                raise pytest.UsageError(f"--dirqkit-dir: {problem}")
        exp_dir = opt("dirqkit_expectations")
        try:
            self.expectations = expectations.load_all(Path(exp_dir) if exp_dir else None)
        except expectations.ExpectationsError as exc:
            raise pytest.UsageError(str(exc)) from None
        self._implementations: dict[str, Implementation] | None = None
        self.pool = DriverPool(self.timeout)
        self.results = RunResults()

    def environment(self) -> dict[str, Any]:
        """Where the queues live (filesystem, mount options, link counts), measured once, when a case needs it."""
        if not self.results.environment:
            self.results.environment = filesystem.describe(self.base_dir)
        return self.results.environment

    @functools.cached_property
    def filesystem_type(self) -> str | None:
        """The filesystem type, for expectations limited to some filesystems (probed only if one is)."""
        return self.environment()["filesystem"] if any(e.filesystems for e in self.expectations) else None

    @property
    def implementations(self) -> dict[str, Implementation]:
        """Probed lazily: a run that collects no case starts no driver."""
        if self._implementations is None:
            try:
                self._implementations = discover(self.selected, self.extra_drivers, self.pool)
            except ValueError as exc:
                raise pytest.UsageError(str(exc)) from None
            unknown = set(self.pins.values()) - set(self._implementations)
            if unknown:
                raise pytest.UsageError(f"--dirqkit-role names unknown implementation(s): {', '.join(sorted(unknown))}")
        return self._implementations

    def owns(self, path: Path) -> bool:
        return path.suffix == ".yaml" and any(path.resolve().is_relative_to(root) for root in self.case_roots)

    def wanted(self, case: Case) -> bool:
        if self.case_filter and case.id not in self.case_filter:
            return False
        if self.group_filter and case.group not in self.group_filter:
            return False
        if self.req_filter and not any(
            r == want or r.startswith(want + "-") for r in case.requirements for want in self.req_filter
        ):
            return False
        return True


    # -- hooks (this object is registered as a plugin) --------------------

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if self.owns(file_path):
            return CaseFile.from_parent(parent, path=file_path)
        return None

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Heaviest runs first: xdist's load scheduling deals them out one by one and ends
        every worker on short runs (item order never changes a verdict)."""
        items.sort(key=run_cost, reverse=True)  # stable: collection order among equals

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect records where reports arrive (the xdist controller too)."""
        payload = next((v for k, v in report.user_properties if k == "dirqkit"), None)
        if payload is None or not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        record = Record.from_json(json.loads(payload))
        record.seconds = round(report.duration, 4)
        record.worker = str(getattr(getattr(getattr(report, "node", None), "gateway", None), "id", ""))
        if hasattr(report, "wasxfail"):  # a strict expected failure that passes fails the run, without wasxfail
            record.outcome = "XFAIL" if report.skipped else "PASS"  # PASS: a racy deviation that did not show
            record.expected = report.wasxfail
        elif report.failed and record.outcome == "PASS":
            record.outcome = "XPASS"  # a strict expected failure that passed
        self.results.add(record)

    def implementation_info(self) -> dict[str, dict[str, Any]]:
        """What the report says of each implementation: availability, what enables it, its claim."""
        info = {}
        for name, impl in (self._implementations or {}).items():
            spec = DRIVERS.get(name)
            info[name] = {"available": impl.available, "reason": impl.reason, "enable": spec.enable if spec else "",
                          "queue_types": list(impl.hello.get("queue_types", [])), "roles": list(impl.hello.get("roles", []))}
        return info

    def pytest_sessionfinish(self) -> None:
        if hasattr(self.config, "workeroutput"):  # an xdist worker: the controller never probes implementations
            self.config.workeroutput["dirqkit_implementations"] = json.dumps(self.implementation_info())

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        found = json.loads(getattr(node, "workeroutput", {}).get("dirqkit_implementations", "{}"))
        for name, info in found.items():
            self.results.implementation_info.setdefault(name, info)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.results.records:
            return
        self.environment()  # measured now if no case needed it earlier
        self.results.implementation_info = {**self.results.implementation_info, **self.implementation_info()}
        terminalreporter.write_sep("=", "dirqkit conformance report")
        terminalreporter.write_line(formats.text(self.results))
        inconclusive = [r for r in self.results.records if r.outcome == "INCONCLUSIVE"]
        if inconclusive:
            fatal = " (fatal: --inconclusive-fails)" if self.config.getoption("dirqkit_inconclusive_fails") else ""
            terminalreporter.write_sep("!", f"dirqkit: {len(inconclusive)} run(s) INCONCLUSIVE{fatal}: the kit could not "
                                       "set up what they test; no implementation is charged")
            for record in inconclusive:
                terminalreporter.write_line(f"INCONCLUSIVE {record.label}: {record.message.splitlines()[0]}")
        opt = self.config.getoption
        for option, fmt in (("dirqkit_json", "json"), ("dirqkit_markdown", "markdown"), ("dirqkit_html", "html"),
                            ("dirqkit_junit", "junit")):
            if opt(option):
                formats.write(self.results, fmt, Path(opt(option)))
                terminalreporter.write_line(f"dirqkit: wrote {opt(option)}")
        if opt("dirqkit_write_expectations"):
            out = Path(opt("dirqkit_write_expectations"))
            out.mkdir(parents=True, exist_ok=True)
            for impl, text in expectations.draft([r.to_json() for r in self.results.records]).items():
                (out / f"{impl}.yaml").write_text(text, encoding="utf-8")
                terminalreporter.write_line(f"dirqkit: drafted {out / (impl + '.yaml')}")

    def pytest_unconfigure(self) -> None:
        self.pool.close_all()
        workers.close_idle()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(id): a SPEC.md requirement the case checks")
    worker = getattr(config, "workerinput", {}).get("workerid")  # "gw0", "gw1", ... in an xdist worker
    if worker and config.getoption("dirqkit_pin"):
        cores.pin(int(worker.removeprefix("gw")))  # before any driver starts: they all inherit it
    kit = KitSession(config)
    config.stash[KIT_KEY] = kit
    config.pluginmanager.register(kit, "dirqkit-session")


# What a case run costs, roughly, by the kinds of its steps (for scheduling only): a crash or
# fault step replays its ops once per syscall under strace, a stress step runs many drivers.
# Rough seconds per run measured (--json's seconds): crash 2.3, stress 0.9, fault and syscalls 0.7.
STEP_COST = {"crash": 100, "fault": 30, "syscalls": 30, "stress": 40, "parallel": 5, "check": 5}


def run_cost(item: pytest.Item) -> int:
    if not isinstance(item, CaseItem) or item.assignment is None:
        return 0  # a skip
    return 1 + sum(STEP_COST.get(kind, 0) for step in item.case.steps for kind in step)


class CaseFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        kit: KitSession = self.config.stash[KIT_KEY]
        root = next(r for r in kit.case_roots if self.path.resolve().is_relative_to(r))
        try:
            cases = caseload.load_case_file(self.path, root)
        except CaseFileError as exc:
            raise self.CollectError(str(exc)) from None
        impls = kit.implementations
        runnable = [name for name, impl in impls.items() if impl.available]
        for case in cases:
            if not kit.wanted(case):
                continue
            for name, impl in impls.items():
                reason = impl.unavailable_reason or impl.unsupported_reason(case)
                if reason:
                    kind = UNAVAILABLE if not impl.available else NOT_CLAIMED if impl.unclaimed_reason(case) else ENVIRONMENT
                    yield CaseItem.from_parent(self, name=f"{case.id}[{name}]", case=case, assignment=None, skip=reason,
                                               skipped_implementation=name, skip_kind=kind)
            usable = [n for n in runnable if not impls[n].unsupported_reason(case)]
            for assignment in assignments(case, usable, kit.pins):
                if assignment.implementations <= set(usable):
                    yield CaseItem.from_parent(self, name=f"{case.id}[{assignment.label}]", case=case, assignment=assignment, skip=None)


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, assignment: Assignment | None, skip: str | None,
                 skipped_implementation: str | None = None, skip_kind: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case, self.assignment, self.skip_reason = case, assignment, skip
        for rid in case.requirements:
            self.add_marker(pytest.mark.requirement(rid))
            self.user_properties.append(("requirement", rid))
        kit: KitSession = self.config.stash[KIT_KEY]
        self.expected = expectations.find(kit.expectations, case.id, assignment, kit.filesystem_type) if assignment else None
        if self.expected:
            # raises=Exception: the pytest.fail of a failure outside the expected requirements is not excused
            self.add_marker(pytest.mark.xfail(strict=self.expected.strict, raises=Exception, reason=self.expected.reason))
        self.record = Record(
            case=case.id, title=case.title, group=case.group, requirements=list(case.requirements),
            roles=assignment.roles if assignment else {}, where=case.where,
            implementations=[skipped_implementation] if skipped_implementation else [],
            expected_of=sorted({e.implementation for e in self.expected.entries}) if self.expected else [],
            queue_type=case.queue["type"], capabilities=dict(case.roles),
            known=[e.to_json() for e in self.expected.entries] if self.expected else [],
            skip_kind=skip_kind, message=skip or "", rerun=rerun_command(case, assignment),
        )

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, int(self.case.where.rsplit(":", 1)[1]) - 1, self.name

    def runtest(self) -> None:
        if self.skip_reason:
            self.record.outcome, self.record.message = "SKIP", self.skip_reason
            self._publish()
            pytest.skip(self.skip_reason)
        kit: KitSession = self.config.stash[KIT_KEY]
        assert self.assignment is not None
        fixture = fixture_steps.fixture_of(self.case) if kit.baked else None
        try:
            baked_top = baked.claim(kit.baked, *fixture) if fixture else None
        except FixtureError as exc:  # the kit could not set the case up: an ERROR, never a FAIL
            self.record.outcome, self.record.message = "ERROR", str(exc)
            self._publish()
            pytest.fail(f"ERROR {self.case.id}: {exc}", pytrace=False)
        scratch = Path(tempfile.mkdtemp(prefix="dirqkit-", dir=kit.base_dir))
        top = baked_top or scratch / "queue"
        try:
            actors = kit.pool.actors(self.assignment, kit.implementations, self.case)
        except DriverError as exc:  # a driver that would not start: its named outcome, before any step ran
            shutil.rmtree(scratch, ignore_errors=True)
            self.record.outcome, self.record.message = exc.outcome, str(exc)
            self._publish()
            pytest.fail(self.describe(exc), pytrace=False)
        engine = Engine(self.case, actors, top, scratch / "work", prebuilt=baked_top is not None)
        self.engine = engine
        try:
            engine.execute()
        except CaseInconclusive as exc:
            self._keep_evidence(exc, scratch, actors)
            text = f"INCONCLUSIVE (the kit could not set up what the case tests; no implementation is charged): {exc}"
            if self.config.getoption("dirqkit_inconclusive_fails"):
                pytest.fail(self.describe(exc), pytrace=False)
            pytest.skip(text)
        except ScenarioSkipped as skipped:
            self.record.outcome = "SKIP"
            self._publish()
            shutil.rmtree(scratch, ignore_errors=True)
            pytest.skip(str(skipped))
        except BaseException as exc:
            if self._keep_evidence(exc, scratch, actors):
                pytest.fail(self.describe(exc), pytrace=False)  # not excused by the xfail marker (raises=Exception)
            raise
        else:
            self.record.outcome = "PASS"
            self._publish()
            shutil.rmtree(scratch, ignore_errors=True)
        finally:
            kit.pool.release(actors)

    def _keep_evidence(self, exc: BaseException, scratch: Path, actors: dict[str, Any]) -> list[str]:
        """Record the failure and keep its evidence; returns the broken requirements no expectation names."""
        kit: KitSession = self.config.stash[KIT_KEY]
        self.record.outcome = getattr(exc, "outcome", "FAIL" if isinstance(exc, CaseFailed) else "ERROR")
        self.record.requirement = getattr(exc, "requirement", None)
        self.record.violated = list(getattr(exc, "violated", ()))
        self.record.message = str(exc)
        self.record.culprits = sorted({a.implementation for a in actors.values() if getattr(a, "failed", None) is not None})
        uncovered = self.expected.uncovered(tuple(self.record.violated)) if self.expected else []
        if uncovered:
            self.record.message += (f"\nan expected failure, but it also broke {', '.join(uncovered)}, which no expectation "
                                    f"names (expected: {', '.join(sorted(self.expected.requirements))})")
        safe = "".join(c if c.isalnum() or c in "-_.=," else "_" for c in self.name)
        evidence = kit.results_dir / "failures" / safe
        shutil.rmtree(evidence, ignore_errors=True)
        evidence.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(scratch), evidence)
        if not self.engine.run.top.is_relative_to(scratch):  # a baked fixture tree: a copy goes with the evidence
            shutil.copytree(self.engine.run.top, evidence / "queue", symlinks=True)
        (evidence / "log.txt").write_text("\n".join(self.engine.run.log) + "\n", encoding="utf-8")
        for role, actor in actors.items():
            actor.save_transcript(evidence / f"transcript-{role}-{actor.implementation}.jsonl")
        self.record.evidence = str(evidence)
        self._publish()
        return uncovered

    def _publish(self) -> None:
        self.user_properties.append(("dirqkit", json.dumps(self.record.to_json())))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        exc = excinfo.value
        if not isinstance(exc, CaseFailed) and not getattr(exc, "outcome", None):
            return str(super().repr_failure(excinfo, style))
        return self.describe(exc)

    def describe(self, exc: BaseException) -> str:
        """What was expected and seen, the steps, the evidence and the re-run command."""
        lines = [f"{self.record.outcome} {self.case.id}: {self.case.title}", f"  case: {self.case.where}",
                 f"  requirements: {', '.join(self.case.requirements)}", "  " + (self.record.message or str(exc))]
        if getattr(exc, "stderr_tail", None):
            lines += ["  driver stderr (tail):"] + ["    " + s for s in exc.stderr_tail.splitlines()]
        engine: Engine | None = getattr(self, "engine", None)  # None: no driver started, no step ran
        lines += ["  steps:"] + ["    " + s for s in (engine.run.log if engine else [])]
        top = engine.run.top if engine else None
        if self.record.evidence:
            top = Path(self.record.evidence) / "queue"
            lines += [f"  evidence kept in {self.record.evidence}"]
        if top is not None and top.exists():
            lines += ["  queue tree:"] + ["    " + s for s in treeops.listing(top, limit=40)]
        lines.append(f"  re-run: {rerun_command(self.case, self.assignment)}")
        return "\n".join(lines)


def rerun_command(case: Case, assignment: Assignment | None) -> str:
    pins = " ".join(f"--role {role}={impl}" for role, impl in (assignment.pairs if assignment else ()))
    return f"dirqkit run --case {case.id} {pins}".strip()


