"""The report printed at the end of ``dirqkit run``: conformance summary, interop grid, group matrix, footnotes."""

from __future__ import annotations

import textwrap

from dirqkit.report.interop import broken_text, producers_and_others
from dirqkit.report.verdicts import plural as _n
from dirqkit.report.views import Views

STATUS_WORDS = {"fails": "fail", "ambiguous": "ambiguous", "deviates": "deviate", "met": "met",
                "not-tested": "not tested", "not-applicable": "n/a"}


def table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Left-aligned columns."""
    widths = [max(len(row[c]) for row in rows if c < len(row)) for c in range(max(map(len, rows)))]
    return [indent + "  ".join(cell.ljust(widths[c]) for c, cell in enumerate(row)).rstrip() for row in rows]


def header(views: Views) -> list[str]:
    lines = [f"dirqkit: {views.results.totals_text()}"]
    if views.results.environment:
        lines.append("environment: " + ", ".join(f"{k}={v}" for k, v in views.results.environment.items()))
    return lines


def summary(views: Views) -> list[str]:
    """SPEC 3.3: per implementation and claimed (queue type, role), conforms or its deviations."""
    lines = ["Conformance per claimed queue type and role (SPEC 3.3; known deviations are deviations):"]
    rows: list[list[str]] = []
    details: list[str] = []
    notes = footnotes(views)
    counts = views.verdicts.counts()
    for impl, claim_rows in views.verdicts.summary().items():
        if impl in notes:
            rows.append([impl, "unavailable", f"[{list(notes).index(impl) + 1}]", "", ""])
            continue
        tested = [row for row in claim_rows if row["tested"]]
        for n, row in enumerate(tested):
            rows.append([impl if n == 0 else "", row["queue_type"], row["role"], row["text"],
                         f"({_n(row['tested'], 'requirement')} checked)"])
        if not tested:
            rows.append([impl, "-", "-", "nothing ran", ""])
        untested = [f"{row['queue_type']} {row['role']}" for row in claim_rows if not row["tested"]]
        tally = ", ".join(f"{n} {STATUS_WORDS[s]}" for s, n in counts.get(impl, {}).items() if n)
        details.append(f"  {impl}: requirements {tally}" if tally else f"  {impl}: no requirement ran")
        if untested:
            details += textwrap.wrap(f"claimed, no case ran: {', '.join(untested)}", 110,
                                     initial_indent="    ", subsequent_indent="      ")
        for status in ("fails", "ambiguous", "deviates"):
            ids = sorted(v.requirement for v in views.verdicts.of(impl) if v.status == status)
            if ids:
                details += textwrap.wrap(f"{STATUS_WORDS[status]}: {', '.join(ids)}", 110,
                                         initial_indent="    ", subsequent_indent="      ")
    return lines + (table(rows) if rows else ["  (no implementation ran)"]) + details


def grids(views: Views) -> list[str]:
    lines: list[str] = []
    for queue_type, kinds in views.grid.items():
        for kind, cells in kinds.items():
            producers, others = producers_and_others(cells)
            lines.append(f"Interop, {queue_type} queues: producer (rows) x {kind} (columns)")
            rows = [[""] + others]
            rows += [[p] + [cells[(p, o)].text() if (p, o) in cells else "-" for o in others] for p in producers]
            lines += table(rows)
            for (p, o), pair in sorted(cells.items()):
                if pair.broken:
                    broken = broken_text(pair.broken)
                    lines += textwrap.wrap(f"{p} -> {o}: {broken}", 110, initial_indent="    ", subsequent_indent="      ")
    return lines or ["Interop: no case with a producer and a consumer or purger ran"]


def group_matrix(views: Views) -> list[str]:
    impls = views.results.implementations()
    rows = [["requirement group"] + impls]
    rows += [[group] + [row[i].text() if i in row else "-" for i in impls] for group, row in views.matrix.items()]
    return ["Runs per requirement group (passed/ran; known deviations and failures counted apart):"] + table(rows)


def footnotes(views: Views) -> dict[str, str]:
    return views.results.unavailable()


def render(views: Views) -> str:
    lines = header(views) + [""] + summary(views) + [""] + grids(views) + [""] + group_matrix(views)
    notes = footnotes(views)
    if notes:
        lines.append("")
        lines += [f"[{n}] {impl} unavailable: {hint}" for n, (impl, hint) in enumerate(notes.items(), 1)]
    return "\n".join(lines)
