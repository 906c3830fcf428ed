"""What a scenario step (check, stress, crash, fault) gets from the suite, and how it fails.

The suite's engine builds a :class:`Scene` for the step: the roles' driver
connections and open queues, the case's queue, its scratch directory and log.
A scenario never sees the engine; it raises :class:`ScenarioFailed` and the
engine turns that into the case's failure, or :class:`ScenarioInconclusive`
when the kit itself could not set up what the scenario tests (after its own
bounded retries): that is reported apart, never charged to an implementation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dirqkit.drivers.client import Actor

REPORT_ENV = "DIRQKIT_CONC_REPORT"  # FILE: every scenario's figures are appended as JSON lines


class ScenarioFailed(Exception):
    """The scenario's verdict: ``violated`` lists the broken requirements, first one first.

    ``cite_step``: the failure is charged to the requirement the step itself
    cites (a scenario that could not run), not to a violation it found.
    """

    def __init__(self, message: str, violated: tuple[str, ...] = (), cite_step: bool = False) -> None:
        super().__init__(message)
        self.message, self.violated, self.cite_step = message, violated, cite_step


class ScenarioInconclusive(Exception):
    """The kit could not produce the scenario's precondition (a race not matched, a goal not reached
    in its bounded rounds, strace lost mid-run): no verdict on any implementation; the message says why."""


class ScenarioSkipped(Exception):
    """The scenario cannot be played with these implementations (a race whose syscall one of them
    never makes, so strace cannot hold it): the case is skipped with this reason, neither passed nor failed."""


@dataclass
class Scene:
    case_id: str
    requirements: tuple[str, ...]  # the IDs the case cites
    queue: dict[str, Any]  # the case's queue: type, options, schema
    actors: dict[str, Actor]  # role -> driver connection
    handles: dict[str, Any]  # role -> the queue it opened
    top: Path
    work: Path  # the case's scratch directory
    log: list[str]
    open_args: Callable[[dict[str, Any] | None], dict[str, Any]]  # the queue as ``open`` arguments, with overrides
    resolve: Callable[[Any], Any]  # substitute the case's ``$variables`` in a value

    def report(self, kind: str, figures: dict[str, Any]) -> None:
        """Log the figures and, with DIRQKIT_CONC_REPORT=FILE, append them as one JSON line."""
        self.log.append(f"kit {kind}: " + json.dumps(figures, sort_keys=True))
        target = os.environ.get(REPORT_ENV)
        if target:
            roles = {role: actor.implementation for role, actor in self.actors.items()}
            with open(target, "a", encoding="utf-8") as out:
                out.write(json.dumps({"kind": kind, "case": self.case_id, "roles": roles, **figures}, sort_keys=True) + "\n")
