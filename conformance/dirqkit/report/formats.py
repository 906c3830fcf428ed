"""Every report format ``dirqkit run`` writes, by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dirqkit.report import htmlpage, jsonreport, junit, markdown, terminal
from dirqkit.report.results import RunResults
from dirqkit.report.views import Views

WRITERS: dict[str, Callable[[Views, Path], None]] = {
    "json": jsonreport.write, "markdown": markdown.write, "html": htmlpage.write, "junit": junit.write,
}


def write(results: RunResults, fmt: str, path: Path) -> None:
    WRITERS[fmt](Views.of(results), path)


def text(results: RunResults) -> str:
    return terminal.render(Views.of(results))
