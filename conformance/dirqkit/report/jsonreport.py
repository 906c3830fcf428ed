"""The results file (``--json``): the records plus the three views, as ``schemas/results.schema.json`` describes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dirqkit import __version__
from dirqkit.report.views import Views

FORMAT = "dirqkit-results"
VERSION = 1


def document(views: Views) -> dict[str, Any]:
    results = views.results
    return {
        "format": FORMAT,
        "version": VERSION,
        "kit_version": __version__,
        **results.to_json(),
        "summary": views.verdicts.summary(),
        "verdict_counts": views.verdicts.counts(),
        "verdicts": [v.to_json() for _, v in sorted(views.verdicts.table.items())],
        "interop": [pair.to_json() for pair in views.pairs()],
        "matrix": {group: {impl: {"text": cell.text(), "state": cell.state, "counts": dict(cell.counts), "runs": cell.runs}
                           for impl, cell in row.items()} for group, row in views.matrix.items()},
    }


def write(views: Views, path: Path) -> None:
    path.write_text(json.dumps(document(views), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
