"""Known failures per implementation, kept outside the cases.

``expectations/<implementation>.yaml``::

    implementation: python-dirq
    expected_failures:
      - case: simple-purge-foreign-files-kept
        roles: {purger: python-dirq}
        requirement: COMMON-2
        reason: purge unlinks foreign files whose names end in "tmp" or "lck"

An entry matches a run of the case whose assignment contains every
``roles`` pair. Matching runs are strict expected failures: they must still
fail, and an unexpected pass is reported (XPASS, a failure of the run).
They must also fail only for the requirements the matching entries name (a
case that breaks several requirements has one entry per requirement): a
failure on any other requirement is a new failure, reported as FAIL.

``filesystems: [btrfs, overlay]`` limits an entry to runs whose queues live
on one of these filesystem types (as /proc/self/mountinfo names them; see
``dirqkit run --dir``): a deviation that shows only where, say, directory
link counts are not maintained. Elsewhere the entry does not apply.

``racy: true`` marks a deviation that shows only some of the time (a race
that must go one way, a random order): such a run may pass without being
reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dirqkit import resources
from dirqkit.suite.roles import Assignment

# Read when pytest starts (the plugin checks the files up front): libyaml's safe loader when present.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ExpectationsError(Exception):
    """An expectations file that cannot be used; names the file and entry."""


@dataclass(frozen=True)
class ExpectedFailure:
    implementation: str
    case: str
    roles: tuple[tuple[str, str], ...]
    requirement: str
    reason: str
    racy: bool = False
    source: str = ""  # file:line of the entry
    filesystems: tuple[str, ...] = ()  # empty: every filesystem

    def to_json(self) -> dict[str, Any]:
        """What a report shows of the entry."""
        return {"implementation": self.implementation, "requirement": self.requirement, "reason": self.reason,
                "source": self.source, "racy": self.racy, "filesystems": list(self.filesystems)}

    def matches(self, case_id: str, assignment: Assignment, filesystem: str | None = None) -> bool:
        return (case_id == self.case and set(self.roles) <= set(assignment.pairs)
                and (not self.filesystems or filesystem in self.filesystems))


def _shown(path: Path) -> str:
    """The path as a report shows it: relative to the checkout when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(resources.CHECKOUT) if resolved.is_relative_to(resources.CHECKOUT) else path)


def _entry(path: Path, index: int, raw: Any, implementation: str, line: int) -> ExpectedFailure:
    where = f"{path}: expected_failures[{index}]"
    if not isinstance(raw, dict) or set(raw) - {"case", "roles", "requirement", "reason", "racy", "filesystems"}:
        raise ExpectationsError(f"{where}: an entry has case, roles, requirement, reason and optionally racy and filesystems")
    if not isinstance(raw.get("racy", False), bool):
        raise ExpectationsError(f"{where}: 'racy' must be true or false")
    filesystems = raw.get("filesystems", [])
    if not isinstance(filesystems, list) or not all(isinstance(f, str) and f for f in filesystems) or "filesystems" in raw and not filesystems:
        raise ExpectationsError(f"{where}: 'filesystems' must be a non-empty list of filesystem types (ext4, xfs, btrfs, overlay, ...)")
    for key in ("case", "requirement", "reason"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ExpectationsError(f"{where}: '{key}' must be a non-empty string")
    roles = raw.get("roles")
    if not isinstance(roles, dict) or not roles or not all(isinstance(v, str) for v in roles.values()):
        raise ExpectationsError(f"{where}: 'roles' must map role names to implementations")
    return ExpectedFailure(implementation, raw["case"], tuple(sorted(roles.items())), raw["requirement"], raw["reason"],
                           raw.get("racy", False), f"{_shown(path)}:{line}", tuple(filesystems))


def load_file(path: Path) -> list[ExpectedFailure]:
    try:
        loader = SAFE_LOADER(path.read_text(encoding="utf-8"))
        try:
            root = loader.get_single_node()  # the nodes give each entry's line
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except (OSError, yaml.YAMLError) as exc:
        raise ExpectationsError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("implementation"), str):
        raise ExpectationsError(f"{path}: needs 'implementation' and 'expected_failures'")
    entries = data.get("expected_failures") or []
    if not isinstance(entries, list):
        raise ExpectationsError(f"{path}: 'expected_failures' must be a list")
    items = next((v.value for k, v in root.value if k.value == "expected_failures"), [])
    return [_entry(path, i, raw, data["implementation"], items[i].start_mark.line + 1) for i, raw in enumerate(entries)]


def load_all(directory: Path | None = None) -> list[ExpectedFailure]:
    directory = directory or resources.expectations_dir()
    return [e for path in sorted(directory.glob("*.yaml")) for e in load_file(path)]


@dataclass(frozen=True)
class Expected:
    """What the entries matching one run expect of it."""

    entries: tuple[ExpectedFailure, ...]

    @property
    def requirements(self) -> frozenset[str]:
        return frozenset(e.requirement for e in self.entries)

    @property
    def strict(self) -> bool:
        """A pass is reported unless one of the deviations is racy."""
        return not any(e.racy for e in self.entries)

    @property
    def reason(self) -> str:
        lines = (f"{e.requirement}: {e.reason} ({e.implementation}{', racy' if e.racy else ''}"
                 f"{', on ' + '/'.join(e.filesystems) if e.filesystems else ''})" for e in self.entries)
        return "; ".join(dict.fromkeys(lines))  # entries of two roles may say the same

    def uncovered(self, violated: tuple[str, ...]) -> list[str]:
        """The requirements a failing run broke that no entry expects."""
        return [r for r in violated if r not in self.requirements]


def find(expectations: list[ExpectedFailure], case_id: str, assignment: Assignment,
         filesystem: str | None = None) -> Expected | None:
    """The entries matching a run whose queues live on ``filesystem`` (a type such as ext4; None: unknown)."""
    entries = tuple(e for e in expectations if e.matches(case_id, assignment, filesystem))
    return Expected(entries) if entries else None


FAILED = frozenset({"FAIL", "ERROR", "TIMEOUT", "CRASH", "XFAIL"})


def blame(records: list[dict[str, Any]], reference: str = "ref",
          outcomes: frozenset[str] = FAILED) -> list[tuple[dict[str, Any], list[tuple[str, str]]]]:
    """Each record whose outcome is in ``outcomes``, with the (role, implementation) pairs to blame for it.

    A failure is blamed on the (role, implementation) pairs that fail in every
    run of the case where they occur: a purger that deletes foreign files
    fails whoever produced. A failure no such pair explains is blamed on all
    of its non-reference roles.
    """
    runs: dict[tuple[str, str, str], list[bool]] = {}
    for record in records:
        if record["outcome"] == "SKIP":
            continue
        for role, impl in record["roles"].items():
            runs.setdefault((record["case"], role, impl), []).append(record["outcome"] in FAILED)
    always = {key for key, failed in runs.items() if all(failed) and key[2] != reference}
    found = []
    for record in records:
        if record["outcome"] in outcomes:
            roles: dict[str, str] = record["roles"]
            blamed = [(r, i) for r, i in roles.items() if (record["case"], r, i) in always]
            found.append((record, blamed or [(r, i) for r, i in roles.items() if i != reference]))
    return found


def draft(records: list[dict[str, Any]], reference: str = "ref") -> dict[str, str]:
    """YAML drafts, per implementation, from a run's records (``--write-expectations``).

    Each failure becomes an entry per implementation it is blamed on
    (:func:`blame`) and per requirement it broke. The maintainer reviews each reason.
    """
    per_impl: dict[str, dict[tuple[str, tuple[tuple[str, str], ...], str], dict[str, Any]]] = {}
    for record, pairs in blame(records, reference):
        broken = record.get("violated") or [record.get("requirement") or record["requirements"][0]]
        for impl in sorted({i for _, i in pairs}):
            mine = tuple(sorted((r, i) for r, i in pairs if i == impl))
            for requirement in broken:  # one entry per broken requirement: failing on another one is new
                per_impl.setdefault(impl, {})[(record["case"], mine, requirement)] = {
                    "case": record["case"],
                    "roles": dict(mine),
                    "requirement": requirement,
                    "reason": "TODO: " + (record.get("message") or record.get("expected") or "").splitlines()[0][:160],
                }
    return {
        impl: yaml.safe_dump({"implementation": impl, "expected_failures": list(entries.values())},
                             sort_keys=False, allow_unicode=True, width=100)
        for impl, entries in per_impl.items()
    }
