"""Run results and the conformance matrix (terminal, JSON, Markdown, HTML).

A record is one case run for one assignment. The matrix has a row per
requirement group (the ID without its number: ``SIMPLE-LOCK``) and a column
per implementation; a run counts for every implementation playing a role in
it (an expected failure only for the implementations whose known deviation
it meets) and every group of the requirements its case cites.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dirqkit.spec import requirement_levels

BAD = ("FAIL", "ERROR", "TIMEOUT", "CRASH", "XPASS")
OUTCOMES = ("PASS", "FAIL", "ERROR", "TIMEOUT", "CRASH", "SKIP", "XFAIL", "XPASS")


@dataclass
class Record:
    case: str
    title: str
    group: str
    requirements: list[str]
    roles: dict[str, str]
    where: str
    outcome: str = "PASS"
    requirement: str | None = None
    violated: list[str] = field(default_factory=list)  # every requirement a failing run broke
    message: str = ""
    evidence: str | None = None
    expected: str | None = None
    implementations: list[str] = field(default_factory=list)
    expected_of: list[str] = field(default_factory=list)  # the implementations whose known deviations the run meets

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        return cls(**data)

    @property
    def label(self) -> str:
        roles = ",".join(f"{r}={i}" for r, i in self.roles.items()) or ",".join(self.implementations)
        return f"{self.case}[{roles}]"


def requirement_group(rid: str) -> str:
    return rid.rsplit("-", 1)[0]


@dataclass
class Cell:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: list[Record] = field(default_factory=list)

    def text(self) -> str:
        ran = sum(n for o, n in self.counts.items() if o != "SKIP")
        if not ran:
            return "skip" if self.counts else "-"
        passed = self.counts["PASS"] + self.counts["XFAIL"]
        bad = sum(self.counts[o] for o in BAD)
        text = f"{passed}/{ran}"
        if self.counts["XFAIL"]:
            text += f" ({self.counts['XFAIL']} known)"
        return text + (" FAIL" if bad else "")


class RunResults:
    def __init__(self, levels: dict[str, str] | None = None) -> None:
        self.records: list[Record] = []
        self._levels = levels
        self.environment: dict[str, Any] = {}  # where the run's queues lived: filesystem, mount options, link counts

    @property
    def levels(self) -> dict[str, str]:
        """Requirement ID -> MUST, SHOULD, ...; SPEC.md is read only when a report needs it."""
        if self._levels is None:
            self._levels = requirement_levels()
        return self._levels

    def add(self, record: Record) -> None:
        self.records.append(record)

    def implementations(self) -> list[str]:
        names = {i for r in self.records for i in (r.roles.values() or r.implementations)}
        return sorted(names, key=lambda n: (n != "ref", n))

    def matrix(self) -> dict[str, dict[str, Cell]]:
        rows: dict[str, dict[str, Cell]] = defaultdict(lambda: defaultdict(Cell))
        for record in self.records:
            impls = set(record.roles.values()) or set(record.implementations)
            if record.outcome == "XFAIL" and record.expected_of:
                impls &= set(record.expected_of)  # another implementation's known deviation says nothing of these
            for group in sorted({requirement_group(r) for r in record.requirements}):
                for impl in impls:
                    cell = rows[group][impl]
                    cell.counts[record.outcome] += 1
                    if record.outcome in BAD:
                        cell.failures.append(record)
        return {g: rows[g] for g in sorted(rows)}

    def totals(self) -> dict[str, int]:
        counts = {o: 0 for o in OUTCOMES}
        for record in self.records:
            counts[record.outcome] += 1
        return counts

    def should_deviations(self) -> dict[str, list[Record]]:
        """SPEC 1.2: runs that broke a SHOULD or SHOULD NOT rule (expected or not), reported apart from the matrix."""
        found: dict[str, list[Record]] = defaultdict(list)
        for record in self.records:
            if record.outcome in BAD or record.outcome == "XFAIL":
                for rid in record.violated:
                    if self.levels.get(rid, "").startswith("SHOULD"):
                        found[rid].append(record)
        return {rid: found[rid] for rid in sorted(found)}

    def should_markdown(self) -> str:
        deviations = self.should_deviations()
        if not deviations:
            return ""
        lines = ["Deviations from SHOULD rules (a reason is enough, not a fix):"]
        for rid, records in deviations.items():
            labels = sorted({r.label for r in records})
            shown = ", ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
            lines.append(f"- {rid}: {len(labels)} run(s): {shown}")
        return "\n".join(lines)

    def environment_line(self) -> str:
        env = self.environment
        if not env:
            return ""
        links = "maintained" if env.get("dir_link_counts") else "not maintained"
        return (f"queues in {env.get('dir')}: {env.get('filesystem')} mounted on {env.get('mount_point')} "
                f"({env.get('mount_options')}), directory link counts {links}")

    def ok(self) -> bool:
        return not any(r.outcome in BAD for r in self.records)

    def matrix_markdown(self) -> str:
        impls = self.implementations()
        lines = ["| requirement group | " + " | ".join(impls) + " |", "|---|" + "---|" * len(impls)]
        for group, row in self.matrix().items():
            lines.append(f"| {group} | " + " | ".join(row[i].text() if i in row else "-" for i in impls) + " |")
        totals = ", ".join(f"{n} {o}" for o, n in self.totals().items() if n)
        should = self.should_markdown()
        where = self.environment_line()
        return (f"{where}\n\n" if where else "") + "\n".join(lines) + f"\n\n{len(self.records)} runs: {totals}" + (f"\n\n{should}" if should else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "implementations": self.implementations(),
            "totals": self.totals(),
            "should_deviations": {rid: [r.label for r in rs] for rid, rs in self.should_deviations().items()},
            "records": [r.to_json() for r in self.records],
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def write_markdown(self, path: Path) -> None:
        failures = [r for r in self.records if r.outcome in BAD]
        lines = ["# dirqkit conformance matrix", "", self.matrix_markdown(), ""]
        if failures:
            lines += ["## Failures", ""]
            lines += [f"- **{r.outcome}** `{r.label}` ({r.requirement or ', '.join(r.requirements)}): "
                      f"{r.message.splitlines()[0] if r.message else ''}" for r in failures]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def write_html(self, path: Path) -> None:
        impls = self.implementations()
        esc = html.escape
        anchors = {id(r): f"f{n}" for n, r in enumerate(r for r in self.records if r.outcome in BAD)}
        head = "".join(f"<th>{esc(i)}</th>" for i in impls)
        rows = []
        for group, row in self.matrix().items():
            cells = []
            for impl in impls:
                cell = row.get(impl)
                if cell is None:
                    cells.append("<td class=none>-</td>")
                    continue
                css = "bad" if cell.failures else "skip" if cell.text() == "skip" else "good"
                links = " ".join(f"<a href='#{anchors[id(r)]}'>{n + 1}</a>" for n, r in enumerate(cell.failures[:9]))
                cells.append(f"<td class={css}>{esc(cell.text())} {links}</td>")
            rows.append(f"<tr><th>{esc(group)}</th>{''.join(cells)}</tr>")
        failures = [
            f"<li id='{anchors[id(r)]}'><b>{esc(r.outcome)}</b> <code>{esc(r.label)}</code> "
            f"({esc(r.requirement or ', '.join(r.requirements))})<pre>{esc(r.message)}</pre></li>"
            for r in self.records if r.outcome in BAD
        ]
        totals = ", ".join(f"{n} {o}" for o, n in self.totals().items() if n)
        page = f"""<!doctype html><html><head><meta charset=utf-8><title>dirqkit conformance matrix</title>
<style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:3px 8px}}
.good{{background:#cfc}}.bad{{background:#fcc}}.skip{{background:#eee}}pre{{white-space:pre-wrap}}</style></head>
<body><h1>dirqkit conformance matrix</h1><p>{esc(self.environment_line())}</p><p>{len(self.records)} runs: {esc(totals)}</p>
<table><tr><th>requirement group</th>{head}</tr>{''.join(rows)}</table>
<pre>{esc(self.should_markdown())}</pre>
<h2>Failures</h2><ol>{''.join(failures) or '<p>none</p>'}</ol></body></html>
"""
        path.write_text(page, encoding="utf-8")
