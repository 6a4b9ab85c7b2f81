"""Chart geometry for the report pages, computed server-side from stored results.

Pure functions from a stored result (its ``details`` histograms) or a trend
to plain shapes in SVG user units; the templates only place them, so a page
needs no script and no external asset, and every label reaches the page
through the template's autoescaping. Bars show shares, not counts: the
reference and the window differ in size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from monitor.pages.formatting import axis_number, count, number, percent, when
from monitor.pages.queries import ColumnTrend, TrendPoint
from monitor.store.queries import ResultView

WIDTH: Final = 480
HEIGHT: Final = 230
LEFT: Final = 44
RIGHT: Final = 8
TOP: Final = 12
BOTTOM: Final = 34
BOTTOM_ROTATED: Final = 70
"""Room under the plot for labels side by side, and for category names turned by 35 degrees."""
MAX_BARS: Final = 12
"""Categories drawn one by one; the rest are summed into one "other" bar."""
LABEL_SPACING: Final = 40.0
"""Fewest user units between two bin-edge labels of a numeric chart."""
CHARACTER_WIDTH: Final = 6.0
"""About the width of one character of the 10-unit label font."""
ROTATED_LABEL_CHARACTERS: Final = 14

SPARK_WIDTH: Final = 220
SPARK_HEIGHT: Final = 44
SPARK_PAD: Final = 5


@dataclass(frozen=True)
class Bar:
    """One bin or category: a reference bar and a current bar side by side."""

    title: str
    x: float
    width: float
    reference_y: float
    reference_height: float
    current_y: float
    current_height: float


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    title: str
    rotated: bool = False


@dataclass(frozen=True)
class Tick:
    y: float
    text: str


@dataclass(frozen=True)
class BarChart:
    column: str
    kind: str
    """Either "numeric" (bars over the reference quantile bins) or "categorical"."""
    bars: tuple[Bar, ...]
    labels: tuple[Label, ...]
    ticks: tuple[Tick, ...]
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    note: str
    width: int = WIDTH
    height: int = HEIGHT


@dataclass(frozen=True)
class SparkPoint:
    run_id: int
    x: float
    y: float
    title: str
    marker: str
    """Either "drifted", "ok" or "gap" (no tested value: a failed, empty or untestable run)."""
    selected: bool


@dataclass(frozen=True)
class Sparkline:
    column: str
    path: str
    """SVG path data of the line, broken where a run has no value."""
    points: tuple[SparkPoint, ...]
    floor_y: float | None
    n_drifted: int
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT


@dataclass(frozen=True)
class _Bin:
    label: str
    title: str
    reference: int
    current: int
    upper_edge: float | None = None
    """A numeric bin's upper edge; None for the last bin and for categories."""


def bar_chart(result: ResultView) -> BarChart | None:
    """Reference vs current shares of ``result``'s column; None when it stored no histograms.

    Results of untested columns (empty, all missing, ...) and of tests that
    count nothing (a multivariate or pooled test) have none.
    """
    details = result.details
    reference, current = details.get("reference_counts"), details.get("current_counts")
    if isinstance(reference, list) and isinstance(current, list):
        bins = _numeric_bins(details.get("bin_edges"), reference, current)
        kind = "numeric"
    elif isinstance(reference, dict) and isinstance(current, dict):
        bins = _category_bins(reference, current)
        kind = "categorical"
    else:
        return None
    n_reference = sum(b.reference for b in bins)
    n_current = sum(b.current for b in bins)
    if not bins or n_reference == 0 or n_current == 0:
        return None
    return _draw(result.column, kind, bins, n_reference, n_current)


def _numeric_bins(edges: Any, reference: list[Any], current: list[Any]) -> list[_Bin]:
    """The bins ``(-inf, e0]``, ``(e0, e1]``, ..., ``(e_last, inf)`` of ``detectors._binning``."""
    if not isinstance(edges, list) or not len(reference) == len(current) == len(edges) + 1:
        return []
    bins = []
    for index, (n_reference, n_current) in enumerate(zip(reference, current, strict=True)):
        if index == 0:
            label = f"≤ {number(edges[0])}" if edges else "all"
        elif index == len(edges):
            label = f"> {number(edges[-1])}"
        else:
            label = f"{number(edges[index - 1])} – {number(edges[index])}"
        upper = float(edges[index]) if index < len(edges) else None
        bins.append(_Bin(label, label, int(n_reference), int(n_current), upper))
    return bins


def _category_bins(reference: Mapping[str, Any], current: Mapping[str, Any]) -> list[_Bin]:
    """Categories by reference count (new ones last, by count); the tail summed in "other"."""
    categories = sorted(
        set(reference) | set(current),
        key=lambda c: (-int(reference.get(c, 0)), -int(current.get(c, 0)), c),
    )
    bins = [
        _Bin(c, c, int(reference.get(c, 0)), int(current.get(c, 0)))
        for c in categories[: MAX_BARS - 1 if len(categories) > MAX_BARS else MAX_BARS]
    ]
    rest = categories[len(bins) :]
    if rest:
        bins.append(
            _Bin(
                f"other ({len(rest)})",
                f"{len(rest)} other categories",
                sum(int(reference.get(c, 0)) for c in rest),
                sum(int(current.get(c, 0)) for c in rest),
            )
        )
    return bins


def _nice_top(share: float) -> float:
    """The first round share at or above ``share``: the top of the axis, at most 100 %."""
    for top in (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.4, 0.5, 0.6, 0.8, 1.0):
        if share <= top:
            return top
    return 1.0


def _draw(
    column: str, kind: str, bins: Sequence[_Bin], n_reference: int, n_current: int
) -> BarChart:
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / len(bins)
    rotated = kind == "categorical" and any(len(b.label) * CHARACTER_WIDTH > slot for b in bins)
    bottom = HEIGHT - (BOTTOM_ROTATED if rotated else BOTTOM)
    plot_height = bottom - TOP
    bar_width = slot * 0.4
    shares = [(b.reference / n_reference, b.current / n_current) for b in bins]
    top = _nice_top(max(max(pair) for pair in shares))
    bars = []
    for index, (b, (reference_share, current_share)) in enumerate(zip(bins, shares, strict=True)):
        reference_height = plot_height * reference_share / top
        current_height = plot_height * current_share / top
        x = LEFT + index * slot + slot * 0.1
        bars.append(
            Bar(
                title=(
                    f"{b.title}: reference {percent(reference_share)} ({count(b.reference)}), "
                    f"current {percent(current_share)} ({count(b.current)})"
                ),
                x=round(x, 2),
                width=round(bar_width, 2),
                reference_y=round(bottom - reference_height, 2),
                reference_height=round(reference_height, 2),
                current_y=round(bottom - current_height, 2),
                current_height=round(current_height, 2),
            )
        )
    ticks = tuple(Tick(round(bottom - plot_height * f, 2), percent(top * f)) for f in (0, 0.5, 1))
    labels = (
        _edge_labels(bins, slot, bottom)
        if kind == "numeric"
        else _category_labels(bins, slot, bottom, rotated)
    )
    shown = "bins of equal reference share" if kind == "numeric" else "categories"
    return BarChart(
        column=column,
        kind=kind,
        bars=tuple(bars),
        labels=labels,
        ticks=ticks,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=bottom,
        note=f"{len(bins)} {shown}; {count(n_reference)} reference, {count(n_current)} current",
    )


def _edge_labels(bins: Sequence[_Bin], slot: float, bottom: float) -> tuple[Label, ...]:
    """Bin edges under the boundaries between bars, as many as fit side by side."""
    stride = max(1, int(-(-LABEL_SPACING // slot)))
    return tuple(
        Label(round(LEFT + index * slot, 2), bottom + 16, axis_number(edge), number(edge))
        for index, b in enumerate(bins[:-1], start=1)
        if (edge := b.upper_edge) is not None and index % stride == 0
    )


def _category_labels(
    bins: Sequence[_Bin], slot: float, bottom: float, rotated: bool
) -> tuple[Label, ...]:
    """Category names under their bars; turned (and cut short) when one is wider than its slot."""
    labels = []
    for index, b in enumerate(bins):
        text = b.label
        if rotated and len(text) > ROTATED_LABEL_CHARACTERS:
            text = text[: ROTATED_LABEL_CHARACTERS - 1] + "…"
        centre = LEFT + (index + 0.5) * slot
        labels.append(Label(round(centre, 2), bottom + 14, text, b.title, rotated=rotated))
    return tuple(labels)


def sparkline(trend: ColumnTrend, selected_run: int | None = None) -> Sparkline:
    """The effect of one column over recent runs, its floor dashed, drifted runs marked.

    Runs without a tested value (failed, empty, untestable) leave a gap in
    the line and a hollow marker at the bottom, so they never look quiet.
    """
    points = trend.points
    values = [p.value for p in points if p.value is not None]
    floors = [p.floor for p in points if p.floor is not None]
    top = max([*values, *floors, 0.0]) * 1.15 or 1.0
    inner_width = SPARK_WIDTH - 2 * SPARK_PAD
    inner_height = SPARK_HEIGHT - 2 * SPARK_PAD
    step = inner_width / max(len(points) - 1, 1)
    baseline = SPARK_HEIGHT - SPARK_PAD

    def y_of(value: float) -> float:
        return round(baseline - inner_height * value / top, 2)

    drawn: list[SparkPoint] = []
    path: list[str] = []
    previous_had_value = False
    for index, point in enumerate(points):
        x = round(SPARK_PAD + index * step, 2)
        if point.value is None:
            marker, y = "gap", float(baseline)
            previous_had_value = False
        else:
            marker, y = ("drifted" if point.drifted else "ok"), y_of(point.value)
            path.append(f"{'L' if previous_had_value else 'M'}{x} {y}")
            previous_had_value = True
        drawn.append(
            SparkPoint(
                run_id=point.run_id,
                x=x,
                y=y,
                title=_point_title(point),
                marker=marker,
                selected=point.run_id == selected_run,
            )
        )
    latest_floor = next((p.floor for p in reversed(points) if p.floor is not None), None)
    return Sparkline(
        column=trend.column,
        path=" ".join(path),
        points=tuple(drawn),
        floor_y=None if latest_floor is None else y_of(latest_floor),
        n_drifted=sum(p.drifted for p in points),
    )


def _point_title(point: TrendPoint) -> str:
    head = f"run {point.run_id}, {when(point.scheduled_for)}"
    if point.value is None:
        why = point.status if point.status not in (None, "ok") else point.run_status
        return f"{head}: {why}"
    verdict = "drifted" if point.drifted else "not drifted"
    floor = "" if point.floor is None else f" (floor {number(point.floor)})"
    return f"{head}: {point.method} effect {number(point.value)}{floor}, {verdict}"
