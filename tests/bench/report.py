"""The benchmark's figures and the table they are printed in: what | measured |
baseline | ratio | target | met?. Figures are printed, never asserted."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

COLUMNS = ("what", "measured", "baseline", "ratio", "target", "met?")


@dataclass(frozen=True)
class Figure:
    what: str
    measured: str
    target: str
    met: bool | None  # None: no target of its own (context for another figure)
    baseline: str = "—"
    ratio: str = "—"

    def row(self) -> tuple[str, ...]:
        met = "—" if self.met is None else ("yes" if self.met else "NO")
        return (self.what, self.measured, self.baseline, self.ratio, self.target, met)


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least ``p`` % at or below it."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary_ms(samples: Sequence[float]) -> str:
    return (
        f"p50 {percentile(samples, 50):.0f} / p95 {percentile(samples, 95):.0f} / "
        f"mean {statistics.fmean(samples):.0f} ms (n={len(samples)})"
    )


def table(title: str, figures: Sequence[Figure]) -> str:
    """A Markdown table (readable in a terminal, pasteable into the README)."""
    rows = [COLUMNS, *(f.row() for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([f"### {title}", "", line(rows[0]), rule, *(line(row) for row in rows[1:])])
