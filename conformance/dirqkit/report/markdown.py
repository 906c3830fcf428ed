"""The Markdown report (``--markdown``): the three views as tables, then the failing runs."""

from __future__ import annotations

from pathlib import Path

from dirqkit.report.interop import broken_text, producers_and_others
from dirqkit.report.results import BAD
from dirqkit.report.views import Views


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    cell = lambda text: text.replace("|", "\\|")  # noqa: E731
    return ["| " + " | ".join(map(cell, head)) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(map(cell, row)) + " |" for row in rows]


def render(views: Views) -> str:
    results = views.results
    lines = ["# dirqkit conformance report", "", results.totals_text()]
    if results.environment:
        lines += ["", "Environment: " + ", ".join(f"{k}={v}" for k, v in results.environment.items())]
    lines += ["", "## Conformance per claimed queue type and role (SPEC 3.3)", ""]
    unavailable = results.unavailable()
    rows = [[impl, "unavailable", "", unavailable[impl]] for impl in views.verdicts.summary() if impl in unavailable]
    rows += [[impl, row["queue_type"], row["role"], f"{row['text']} ({row['tested']} requirements checked)"]
             for impl, claim in views.verdicts.summary().items() for row in claim]
    lines += _table(["implementation", "queue type", "role", "verdict"], rows)
    lines += ["", "## Requirements that are not met", ""]
    bad = [[v.implementation, v.requirement, v.status,
            "; ".join(dict.fromkeys(f"{c.reason} ({c.source})" if c.source else ", ".join(c.candidates) or
                                    results.records[c.run].label for c in v.charges))]
           for _, v in sorted(views.verdicts.table.items()) if v.status in ("fails", "ambiguous", "deviates")]
    lines += _table(["implementation", "requirement", "verdict", "why"], bad) if bad else ["none"]
    for queue_type, kinds in views.grid.items():
        for kind, cells in kinds.items():
            producers, others = producers_and_others(cells)
            lines += ["", f"## Interop, {queue_type} queues: producer (rows) x {kind} (columns)", ""]
            lines += _table(["producer"] + others, [[p] + [cells[(p, o)].text() if (p, o) in cells else "-" for o in others]
                                                    for p in producers])
            lines += [f"- {p} -> {o}: " + broken_text(pair.broken)
                      for (p, o), pair in sorted(cells.items()) if pair.broken]
    impls = results.implementations()
    lines += ["", "## Runs per requirement group", ""]
    lines += _table(["requirement group"] + impls, [[g] + [row[i].text() if i in row else "-" for i in impls]
                                                    for g, row in views.matrix.items()])
    failures = [r for r in results.records if r.outcome in BAD or r.outcome == "INCONCLUSIVE"]
    if failures:
        lines += ["", "## Failing and inconclusive runs", ""]
        lines += [f"- **{r.outcome}** `{r.label}` ({r.requirement or ', '.join(r.requirements)}): "
                  f"{r.message.splitlines()[0] if r.message else ''}" + (f" — re-run: `{r.rerun}`" if r.rerun else "")
                  for r in failures]
    if unavailable:
        lines += ["", "## Unavailable implementations", ""] + [f"- {i}: {hint}" for i, hint in unavailable.items()]
    return "\n".join(lines) + "\n"


def write(views: Views, path: Path) -> None:
    path.write_text(render(views), encoding="utf-8")
