"""The three views of one run, computed once for every renderer."""

from __future__ import annotations

from dataclasses import dataclass

from dirqkit.report import interop
from dirqkit.report.matrix import Cell, matrix
from dirqkit.report.results import RunResults, order_queue_types
from dirqkit.report.verdicts import Verdicts


@dataclass
class Views:
    results: RunResults
    verdicts: Verdicts
    grid: dict[str, dict[str, dict[tuple[str, str], interop.Pair]]]
    matrix: dict[str, dict[str, Cell]]

    @classmethod
    def of(cls, results: RunResults) -> Views:
        verdicts = Verdicts(results)
        grid = interop.grid(results, verdicts)
        return cls(results, verdicts, {t: grid[t] for t in order_queue_types(grid)}, matrix(results))

    def pairs(self) -> list[interop.Pair]:
        return [pair for kinds in self.grid.values() for cells in kinds.values() for pair in cells.values()]
