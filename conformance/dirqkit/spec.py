"""Read the requirements out of SPEC.md.

A requirement is one list item of this exact shape (see SPEC.md, "How to read
this document")::

    - **SIMPLE-LOCK-2** `MUST` *consumer*: text...

Anything else that merely looks like an ID (``SIMPLE-LOCK-2`` in prose, the
changelog) is a reference, not a definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dirqkit import resources

LEVELS = ("MUST NOT", "MUST", "SHOULD NOT", "SHOULD", "MAY")
ROLES = ("producer", "consumer", "purger", "implementation")
ID_PATTERN = r"[A-Z]+(?:-[A-Z]+)*-[1-9][0-9]*"
ID_RE = re.compile(rf"^{ID_PATTERN}$")

# A line that starts like a requirement definition; checked strictly below.
_CANDIDATE_RE = re.compile(r"^- \*\*(?P<id>[^*]+)\*\*")
_DEFINITION_RE = re.compile(
    rf"^- \*\*(?P<id>{ID_PATTERN})\*\* `(?P<level>{'|'.join(LEVELS)})` "
    r"\*(?P<roles>[a-z, ]+)\*: (?P<text>\S.*)$"
)



@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    roles: tuple[str, ...]
    text: str
    line: int

    @property
    def group(self) -> str:
        """The ID without its number: ``SIMPLE-LOCK-2`` -> ``SIMPLE-LOCK``."""
        return self.id.rsplit("-", 1)[0]

    @property
    def is_must(self) -> bool:
        return self.level in ("MUST", "MUST NOT")

    @property
    def is_should(self) -> bool:
        return self.level in ("SHOULD", "SHOULD NOT")


@dataclass(frozen=True)
class SpecProblem:
    line: int
    message: str


@dataclass
class Spec:
    path: Path
    version: str
    requirements: dict[str, Requirement]
    problems: list[SpecProblem]


def default_spec_path() -> Path:
    return resources.spec_path()


def requirement_levels() -> dict[str, str]:
    """ID -> level, from the SPEC.md of default_spec_path(); empty when there is none."""
    path = default_spec_path()
    return {rid: r.level for rid, r in parse_spec(path).requirements.items()} if path.is_file() else {}


def parse_spec(path: Path) -> Spec:
    """Parse SPEC.md; malformed or duplicated definitions become problems."""
    text = path.read_text(encoding="utf-8")
    requirements: dict[str, Requirement] = {}
    problems: list[SpecProblem] = []
    version = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if not version:
            match = re.match(r"^Version:\s*(\S+)", line)
            if match:
                version = match.group(1)
        if not _CANDIDATE_RE.match(line):
            continue
        match = _DEFINITION_RE.match(line)
        if match is None:
            problems.append(SpecProblem(number, f"malformed requirement line: {line[:80]!r}"))
            continue
        roles = tuple(r.strip() for r in match["roles"].split(","))
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            problems.append(SpecProblem(number, f"{match['id']}: unknown role(s) {', '.join(unknown)}"))
            continue
        rid = match["id"]
        if rid in requirements:
            first = requirements[rid].line
            problems.append(SpecProblem(number, f"{rid}: duplicated (first defined on line {first})"))
            continue
        requirements[rid] = Requirement(rid, match["level"], roles, match["text"], number)
    if not version:
        problems.append(SpecProblem(0, "no 'Version: X' line"))
    return Spec(path, version, requirements, problems)


RACE_RE = re.compile(r"\bRACE-(?P<number>[1-9][0-9]*)\b")


@dataclass(frozen=True)
class Race:
    """A race SPEC.md says to tolerate, labelled ``RACE-n`` where a step meets it."""

    label: str
    line: int  # its first mention
    requirements: tuple[str, ...]  # the requirements whose text names it


def parse_races(path: Path) -> dict[str, Race]:
    """Every ``RACE-n`` label of SPEC.md, in number order, with where it is met."""
    lines: dict[str, int] = {}
    cited: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        definition = _DEFINITION_RE.match(line)
        for match in RACE_RE.finditer(line):
            label = match[0]
            lines.setdefault(label, number)
            if definition and definition["id"] not in cited.setdefault(label, []):
                cited[label].append(definition["id"])
    order = sorted(lines, key=lambda label: int(label.split("-")[1]))
    return {label: Race(label, lines[label], tuple(cited.get(label, ()))) for label in order}
