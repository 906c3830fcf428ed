"""One fuzz session: Hypothesis runs the state machine until the budget is spent, finding after finding.

Each round runs the machine under Hypothesis with the session's seed; a
finding is shrunk by Hypothesis, kept with the trace of its minimal example,
and its (implementation, requirement) joins the suppressed ones so that the
next round looks for something else. The example budget bounds the number
of generated examples; the time budget only stops the search between
examples and never interrupts the shrinking of a finding.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.control import current_build_context
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from dirqkit.crash.syscalls import tracing_unavailable
from dirqkit.fuzz.machine import BudgetSpent, Finding, KitFault, ShrinkSpent, machine_class
from dirqkit.fuzz.setmachine import set_machine_class
from dirqkit.suite.actors import DriverPool, Implementation

STEPS_PER_EXAMPLE = 40
# Shrinking replays examples through the drivers; after this many replays (Plan.shrink) the session stops
# Hypothesis and keeps the smallest failing example seen so far. A count, not a time: the same seed
# shrinks to the same case on any machine.
SHRINK_REPLAYS = 300
EXAMPLES_IF_ONLY_TIMED = 1_000_000  # --seconds without --examples: time is the only bound


@dataclass
class Plan:
    queue_type: str
    implementations: dict[str, Implementation]
    names: list[str]  # the implementations actors are drawn from
    pins: dict[str, str]  # role (a..d) -> implementation
    known: set[tuple[str, str]]  # (implementation, requirement) the expectations already name
    seed: int
    out: Path
    examples: int | None = None
    seconds: float | None = None
    shrink: int = SHRINK_REPLAYS
    max_findings: int | None = None  # stop the search once this many findings are kept
    stop_on: str | None = None  # stop the search once a finding cites this requirement


@dataclass
class Found:
    """A finding and the minimal example that shows it."""

    finding: Finding
    trace: list[dict[str, Any]]
    roles: dict[str, str]
    queue: dict[str, Any]
    round: int
    umask: str | None = None  # the drivers' process umask, when the example set one


@dataclass
class Session:
    plan: Plan
    pool: DriverPool
    progress: TextIO = field(default_factory=lambda: sys.stderr)  # the stream at run time, not at import
    examples: int = 0  # generated (not replayed while shrinking)
    ops: int = 0
    races: int = 0  # race steps played and judged (dirqkit.fuzz.races)
    race_note: str | None = None  # why race steps are not scheduled (no strace), said once
    known_seen: int = 0
    found: list[Found] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    known: set[tuple[str, str]] = field(default_factory=set)  # the expectations' deviations, then this run's findings
    _machine: Any = None
    _shrinking: bool = False
    _replays: int = 0
    _round: int = 0
    _best: Found | None = None
    _spent: bool = False
    _budget_spent: bool = False
    _started: float = 0.0
    _shown: float = 0.0

    # -- called by the machine ------------------------------------------

    def example_started(self, machine: Any) -> None:
        if not self._shrinking:
            if (self.plan.seconds is not None and time.monotonic() - self._started > self.plan.seconds
                    or self.plan.examples is not None and self.examples >= self.plan.examples):  # Hypothesis may go a little past max_examples
                self._budget_spent = True
                raise BudgetSpent()  # Hypothesis may report it as inconsistent data generation; round() knows better
            self.examples += 1
        else:
            self._replays += 1
            if self._replays > self.plan.shrink and not current_build_context().is_final:
                self._spent = True
                raise ShrinkSpent()  # Hypothesis reports it as a flaky example; round() knows better
        self._machine = machine

    def example_ended(self, machine: Any) -> None:
        self.show()

    def finding_raised(self, machine: Any, finding: Finding) -> None:
        self._shrinking = True  # from now on the round only shrinks: no budget check may stop it
        found = Found(finding, list(machine.trace), dict(machine.roles), dict(machine.queue), self._round, machine.umask)
        if self._best is None or len(found.trace) < len(self._best.trace):
            self._best = found

    # -- the search -------------------------------------------------------

    def run(self) -> list[Found]:
        self.known = set(self.plan.known)
        if self.plan.queue_type != "set":
            self.race_note = tracing_unavailable()  # no strace, no ptrace permission: no race steps
            if self.race_note is not None:
                print(f"dirqkit fuzz: no race steps: {self.race_note}", file=self.progress, flush=True)
        self._started = time.monotonic()
        budget = self.plan.examples if self.plan.examples is not None else EXAMPLES_IF_ONLY_TIMED
        database = DirectoryBasedExampleDatabase(str(self.plan.out / "hypothesis-db"))
        round_number = 0
        try:
            while (self.examples < budget and self.round(round_number, budget - self.examples, database)
                   and (self.plan.max_findings is None or len(self.found) < self.plan.max_findings)
                   and all(f.finding.requirement != self.plan.stop_on for f in self.found)):
                round_number += 1
        except BudgetSpent:
            pass
        self.show(final=True)
        return self.found

    def round(self, number: int, examples: int, database: DirectoryBasedExampleDatabase) -> bool:
        """One Hypothesis run; True if it ended on a finding (so another round may find more)."""
        factory = (set_machine_class if self.plan.queue_type == "set" else machine_class)(self)
        factory._hypothesis_internal_use_seed = self.plan.seed + number  # what @seed sets: the run is reproducible
        options = settings(max_examples=examples, stateful_step_count=STEPS_PER_EXAMPLE, deadline=None, database=database,
                           suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=False,
                           phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
        self._shrinking, self._replays, self._round, self._best, self._spent = False, 0, number, None, False
        try:
            run_state_machine_as_test(factory, settings=options)
        except Finding as finding:  # Hypothesis's last replay is its minimal example
            machine = self._machine
            return self.keep(Found(finding, list(machine.trace), dict(machine.roles), dict(machine.queue), number, machine.umask))
        except (ShrinkSpent, Flaky) as stop:
            # Hypothesis reports an example stopped before it drew anything (by the budget or a spent shrink) as
            # inconsistent data generation when earlier examples on that path drew more: the stop is ours, not flaky.
            fault = kit_fault(stop)
            if fault is not None:
                raise fault from None
            if self._spent and self._best is not None:  # the smallest failing example seen stands
                return self.keep(self._best)
            if self._budget_spent:
                raise BudgetSpent() from None
            seen = f"; first seen: {self._best.finding}" if self._best is not None else ""
            self.flaky.append(str(stop).splitlines()[0] + seen)
        return False

    def keep(self, found: Found) -> bool:
        self.found.append(found)
        self.known.add((found.finding.implementation, found.finding.requirement))  # whatever its outcome: look for something else
        self.show()
        return True

    def show(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._shown < 1.0:
            return
        self._shown = now
        elapsed = max(now - self._started, 1e-6)
        line = (f"dirqkit fuzz: {self.examples} examples, {self.ops} ops ({self.ops / elapsed:.0f} ops/s), "
                f"{self.races} race(s), {len(self.found)} finding(s), {self.known_seen} known deviation(s) met")
        print(line, file=self.progress, flush=True)


def kit_fault(error: BaseException) -> KitFault | None:
    """The kit fault a Hypothesis error stands for, if one is in its chain of causes."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, KitFault):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
