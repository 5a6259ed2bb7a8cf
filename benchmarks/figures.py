"""The closing table of ``make bench``: each figure of issue 17, its target, this run's value and
a baseline measured in the same run (see each benchmark for what its baseline is)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


def naive_projection(
    naive: dict[str, Any] | None, calls: int, bound: float
) -> dict[str, Any] | None:
    """The naive sequential loop's baseline, extrapolated to the sync's ``calls``: ``naive`` is the
    loop's sample (``wall_s`` seconds for ``calls`` calls); the wall time it would take for the
    sync's calls and that time ÷ the rate-limit ``bound`` (seconds). ``None`` without a sample."""
    if naive is None or not naive["calls"]:
        return None
    projected = naive["wall_s"] * calls / naive["calls"]
    return {
        "sample_s": round(naive["wall_s"], 2),
        "sample_calls": naive["calls"],
        "projected_wall_s": round(projected, 1),
        "ratio_wall_to_bound": round(projected / bound, 3),
    }


def naive_line(n: dict[str, Any]) -> str:
    """One printed line for :func:`naive_projection`'s figures."""
    return (
        f"naive sequential loop: {n['sample_calls']} calls in {n['sample_s']} s → "
        f"{n['projected_wall_s']} s for the sync's calls; ratio {n['ratio_wall_to_bound']}"
    )


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
