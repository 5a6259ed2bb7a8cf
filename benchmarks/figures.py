"""The closing table of ``make bench``: each figure of issue 17, its target, this run's value and
a baseline measured in the same run (see each benchmark for what its baseline is)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Figure:
    """One row: ``value`` and ``baseline`` measured in the same run; ``met``: the target holds
    (``None``: not judged, e.g. a figure printed for reference)."""

    figure: str
    target: str
    value: float | str | None
    baseline: float | str | None
    met: bool | None
    baseline_label: str = ""


def _cell(value: float | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def table(rows: list[Figure]) -> str:
    """A Markdown table of ``rows``."""
    out = [
        "| figure | target | this run | baseline (same run) | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        base = _cell(r.baseline) + (f" ({r.baseline_label})" if r.baseline_label else "")
        met = "—" if r.met is None else ("yes" if r.met else "no")
        out.append(f"| {r.figure} | {r.target} | {_cell(r.value)} | {base} | {met} |")
    return "\n".join(out)
