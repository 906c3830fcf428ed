"""Expand a case's roles into assignments of implementations.

One case, written once, runs for every implementation in every role: with
ref, python-dirq and perl available a producer/consumer case yields 9
assignments. ``--role NAME=IMPL`` pins a role (by its name in the case, or
every role needing that capability) to one implementation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from dirqkit.suite.caseload import Case


@dataclass(frozen=True)
class Assignment:
    """role -> implementation, in the case's role order."""

    pairs: tuple[tuple[str, str], ...]

    @property
    def roles(self) -> dict[str, str]:
        return dict(self.pairs)

    @property
    def label(self) -> str:
        return ",".join(f"{role}={impl}" for role, impl in self.pairs)

    @property
    def implementations(self) -> set[str]:
        return {impl for _, impl in self.pairs}


def role_choices(case: Case, implementations: list[str], pins: dict[str, str]) -> dict[str, list[str]]:
    """The implementations each role of ``case`` ranges over."""
    choices = {}
    for role, capability in case.roles.items():
        pinned = pins.get(role) or pins.get(capability)
        choices[role] = [pinned] if pinned else list(implementations)
    return choices


def assignments(case: Case, implementations: list[str], pins: dict[str, str]) -> list[Assignment]:
    """Every assignment, deterministic order (so pytest-xdist workers agree)."""
    choices = role_choices(case, implementations, pins)
    roles = list(case.roles)
    return [Assignment(tuple(zip(roles, combo))) for combo in itertools.product(*(choices[r] for r in roles))]
