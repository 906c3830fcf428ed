"""Stability of verdicts over repeated runs (``dirqkit run --repeat N``).

Every repetition yields one outcome per (case, roles). A run whose outcome
differs between repetitions is a verdict the machine's speed or load decided,
unless an expectation marked ``racy`` names that run: a race inherent to the
implementation, which shows only some of the time. What such an entry accepts
is that run going either way, PASS or XFAIL; any other outcome among its
repetitions (a FAIL on a requirement no entry names, an ERROR, an
INCONCLUSIVE) is unstable all the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RACY_OUTCOMES = frozenset({"PASS", "XFAIL"})  # the two ways a racy expectation's run may go


@dataclass(frozen=True)
class Varied:
    label: str  # case[roles]
    outcomes: dict[str, int]  # outcome -> repetitions with it
    missing: int  # repetitions that did not run it at all
    racy: bool  # a racy expectation accepts the variation

    def to_json(self) -> dict[str, Any]:
        return {"run": self.label, "outcomes": self.outcomes, "missing": self.missing, "accepted_as_racy": self.racy}

    def line(self) -> str:
        seen = ", ".join(f"{n} {o}" for o, n in sorted(self.outcomes.items(), key=lambda item: -item[1]))
        if self.missing:
            seen += f", {self.missing} not run"
        return f"{'racy (accepted)' if self.racy else 'UNSTABLE       '} {self.label}: {seen}"


def label(record: Mapping[str, Any]) -> str:
    roles = ",".join(f"{r}={i}" for r, i in record["roles"].items()) or ",".join(record["implementations"])
    return f"{record['case']}[{roles}]"


def varied(repetitions: Sequence[Iterable[Mapping[str, Any]]],
           is_racy: Callable[[Mapping[str, Any]], bool]) -> list[Varied]:
    """Every run (by label) whose outcome was not the same in every repetition, racy ones marked."""
    outcomes: dict[str, Counter[str]] = {}
    samples: dict[str, Mapping[str, Any]] = {}
    for records in repetitions:
        for record in records:
            key = label(record)
            outcomes.setdefault(key, Counter())[record["outcome"]] += 1
            samples.setdefault(key, record)
    found = []
    for key in sorted(outcomes):
        counts = outcomes[key]
        missing = len(repetitions) - sum(counts.values())
        if len(counts) > 1 or missing:
            racy = not missing and set(counts) <= RACY_OUTCOMES and is_racy(samples[key])
            found.append(Varied(key, dict(counts), missing, racy))
    return found


def report(repetitions: int, found: Sequence[Varied]) -> str:
    unstable = [v for v in found if not v.racy]
    lines = [f"dirqkit stability over {repetitions} repetitions: {len(found)} run(s) varied, "
             f"{len(unstable)} outside racy expectations"]
    lines += ["  " + v.line() for v in found]
    return "\n".join(lines)
