"""Sequential detection: a shift too small for one window, caught by pooling recent windows.

A 0.15 sd shift in 300-row windows is invisible to any single window at a
level a monthly false-alarm budget allows, yet after 16 windows there are
4,800 shifted rows. So every run also tests the pool of its last ``scale``
windows, for a few scales, against the same reference profile.

Windows are kept as small sketches, not rows, so the state is cheap to
store and a restart or another replica continues it:

* numeric: counts of the window's values in the cells of a fixed grid of
  reference quantiles (``GRID_CELLS`` cells; the grid is a function of the
  profile alone, so sketches of one reference always add up);
* categorical: category counts (beyond ``MAX_CATEGORIES`` categories the
  rarest reference categories and every unseen one are lumped together).

A pooled numeric column is tested with the Kolmogorov–Smirnov statistic
taken at the grid points: the largest gap between the reference ECDF and
the pooled ECDF there. It is never larger than the exact KS statistic of
the pooled rows, so its p-value errs on the safe side, and its effect
floor is KS's (0.04, a 0.1 sd shift). A pooled categorical column is the
ordinary categorical test (``detectors.compare_column``) of the pooled counts.

Each pool is a two-sample test of its own rows, so on stationary data its
false-alarm probability is its level, whichever runs it spans; how the
levels of the scales share a run's budget is ``detectors.budget``'s job.

>>> import numpy as np
>>> import pandas as pd
>>> from detectors import fit_profile
>>> rng = np.random.default_rng(7)
>>> profile = fit_profile(pd.Series(rng.normal(0, 1, 20_000), name="x"), "numeric")
>>> sketches = [sketch_window(profile, pd.Series(rng.normal(0.15, 1, 300))) for _ in range(16)]
>>> result = pooled_test(profile, sketches, level=1e-4)
>>> result.method, result.drifted, result.n_current
('ks@16', True, 4800)
>>> pooled_test(profile, sketches[:1], level=1e-4).drifted
False
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from detectors._binning import bin_counts
from detectors._outcome import format_number, significance_and_size_reason
from detectors._prepare import PreparedColumn
from detectors.column import compare_prepared, prepare_column
from detectors.profile import ColumnProfile
from detectors.registry import get_method
from detectors.result import ColumnResult

GRID_CELLS: Final = 100
"""Reference-quantile cells of a numeric sketch (the pooled KS gap is taken at their edges)."""

MAX_CATEGORIES: Final = 500
"""Categories a categorical sketch keeps by name; the rest are counted together."""

OTHER: Final = "\x00other"
"""The key lumped categories are counted under (not a value a column can hold as text)."""

POOLED_METHOD: Final = "ks"
"""The statistic behind a pooled numeric test (its effect floor and name)."""


@dataclass(frozen=True)
class WindowSketch:
    """One window of one column, reduced to counts that add up across windows."""

    column: str
    counts: npt.NDArray[np.int64] | None = None
    """Numeric: counts per cell of the profile's grid (``len(grid) + 1`` cells)."""
    category_counts: Mapping[str, int] | None = None
    """Categorical: counts per category."""

    def to_dict(self) -> dict[str, Any]:
        if self.counts is not None:
            return {"counts": [int(c) for c in self.counts]}
        return {"category_counts": dict(self.category_counts or {})}

    @classmethod
    def from_dict(cls, column: str, data: Mapping[str, Any]) -> WindowSketch:
        if "counts" in data:
            return cls(column=column, counts=np.asarray(data["counts"], dtype=np.int64))
        return cls(
            column=column,
            category_counts={str(k): int(v) for k, v in data["category_counts"].items()},
        )


def reference_grid(profile: ColumnProfile) -> npt.NDArray[np.float64]:
    """The distinct reference quantiles at 1/GRID_CELLS, ..., 1 - 1/GRID_CELLS."""
    values = profile.sorted_values
    if values is None or values.size == 0:
        return np.empty(0, dtype=np.float64)
    # The inverted-CDF quantile at q is the ceil(n q)-th smallest value.
    ranks = np.ceil(values.size * np.arange(1, GRID_CELLS) / GRID_CELLS).astype(np.int64) - 1
    return np.unique(values[np.clip(ranks, 0, values.size - 1)])


def sketch_window(profile: ColumnProfile, current: pd.Series) -> WindowSketch:
    """Reduce a current window of the profile's column to a sketch."""
    return sketch_prepared(profile, prepare_column(profile, current))


def sketch_prepared(profile: ColumnProfile, prepared: PreparedColumn) -> WindowSketch:
    """``sketch_window`` of a window already prepared for its tests (``prepare_column``)."""
    column = profile.column
    if profile.kind == "numeric":
        values = prepared.numeric if prepared.numeric is not None else np.empty(0)
        return WindowSketch(column=column, counts=bin_counts(reference_grid(profile), values))
    observed = prepared.category_counts or {}
    kept = _kept_categories(profile)
    lumped: dict[str, int] = {}
    for category, count in observed.items():
        key = category if kept is None or category in kept else OTHER
        lumped[key] = lumped.get(key, 0) + count
    return WindowSketch(column=column, category_counts=lumped)


def pooled_test(
    profile: ColumnProfile,
    sketches: Sequence[WindowSketch],
    *,
    level: float,
    effect_floor: float | None = None,
) -> ColumnResult:
    """Test the pool of ``sketches`` (newest first or any order) against ``profile`` at ``level``.

    The result's method is ``"<statistic>@<number of windows>"`` and its
    details say how many windows and rows were pooled. ``effect_floor``
    defaults to the floor of the underlying method.
    """
    if not sketches:
        raise ValueError("pooled_test needs at least one window sketch")
    scale = len(sketches)
    if profile.kind == "numeric":
        result = _pooled_ks(profile, sketches, level=level, effect_floor=effect_floor)
    else:
        result = _pooled_categorical(profile, sketches, level=level, effect_floor=effect_floor)
    return _labelled(result, scale)


POOLED_WINDOWS = "pooled_windows"
"""The detail a pooled test's result names its number of windows by (never another test's)."""


def _labelled(result: ColumnResult, scale: int) -> ColumnResult:
    return replace(
        result,
        method=f"{result.method}@{scale}",
        reason=f"pooled over the last {scale} windows ({result.n_current:,} rows): {result.reason}",
        details={**result.details, POOLED_WINDOWS: scale},
    )


def pooled_windows(result: ColumnResult) -> int | None:
    """How many windows a pooled test pooled; None for a test of one window.

    >>> from detectors import compare_column, fit_profile
    >>> import pandas as pd
    >>> profile = fit_profile(pd.Series([1.0, 2.0, 3.0] * 10, name="x"), "numeric")
    >>> one_window = compare_column(profile, pd.Series([2.0] * 30, name="x"), method="wasserstein")
    >>> "scale" in one_window.details, pooled_windows(one_window)
    (True, None)
    """
    windows = result.details.get(POOLED_WINDOWS)
    return windows if isinstance(windows, int) else None


def _pooled_ks(
    profile: ColumnProfile,
    sketches: Sequence[WindowSketch],
    *,
    level: float,
    effect_floor: float | None,
) -> ColumnResult:
    grid = reference_grid(profile)
    counts = np.zeros(grid.size + 1, dtype=np.int64)
    for sketch in sketches:
        if sketch.counts is None or sketch.counts.size != counts.size:
            raise ValueError(
                f"a sketch of column {profile.column!r} does not fit the reference grid "
                f"({0 if sketch.counts is None else sketch.counts.size} cells, expected "
                f"{counts.size}); sketches must come from the same reference profile"
            )
        counts += sketch.counts
    n_current = int(counts.sum())
    reference = profile.sorted_values
    spec = get_method(POOLED_METHOD)
    floor = spec.effect_floor if effect_floor is None else effect_floor
    if reference is None or reference.size == 0 or n_current == 0:
        return ColumnResult(
            column=profile.column,
            method=POOLED_METHOD,
            statistic=None,
            p_value=None,
            threshold=level,
            drifted=False,
            n_reference=profile.n,
            n_current=n_current,
            status="empty" if n_current == 0 else "insufficient_data",
            reason="no rows to pool" if n_current == 0 else "the reference has no values",
        )
    n_reference = int(reference.size)
    reference_cdf = np.searchsorted(reference, grid, side="right") / n_reference
    current_cdf = np.cumsum(counts[:-1]) / n_current
    statistic = float(np.max(np.abs(reference_cdf - current_cdf))) if grid.size else 0.0
    # Kolmogorov's limit with Stephens' small-sample correction: exact enough at the
    # pooled sizes, and a thousand times cheaper than the exact kstwo at n in the thousands.
    root_n = math.sqrt(n_reference * n_current / (n_reference + n_current))
    scaled = statistic * (root_n + 0.12 + 0.11 / root_n)
    p_value = float(stats.kstwobign.sf(scaled)) if statistic > 0 else 1.0
    significant = p_value < level
    relation = "<" if significant else ">="
    reason = significance_and_size_reason(
        significance=f"p-value {format_number(p_value)} {relation} {format_number(level)}",
        significant=significant,
        effect_name=spec.effect_name,
        effect=statistic,
        effect_floor=floor,
    )
    return ColumnResult(
        column=profile.column,
        method=POOLED_METHOD,
        statistic=statistic,
        p_value=p_value,
        threshold=level,
        drifted=significant and (floor is None or statistic >= floor),
        n_reference=n_reference,
        n_current=n_current,
        status="ok",
        reason=reason,
        details={"grid_points": int(grid.size)},
        effect=statistic,
        effect_floor=floor,
    )


def _pooled_categorical(
    profile: ColumnProfile,
    sketches: Sequence[WindowSketch],
    *,
    level: float,
    effect_floor: float | None,
) -> ColumnResult:
    pooled: dict[str, int] = {}
    for sketch in sketches:
        for category, count in (sketch.category_counts or {}).items():
            pooled[category] = pooled.get(category, 0) + count
    counts = dict(sorted(pooled.items()))
    prepared = PreparedColumn(n_total=sum(counts.values()), n_missing=0, category_counts=counts)
    return compare_prepared(
        _lumped_profile(profile),
        prepared,
        threshold=level,
        effect_floor=effect_floor,
        noise_level=level,
    )


def _kept_categories(profile: ColumnProfile) -> frozenset[str] | None:
    counts = profile.category_counts or {}
    if len(counts) <= MAX_CATEGORIES:
        return None
    ranked = sorted(counts, key=lambda category: (-counts[category], category))
    return frozenset(ranked[:MAX_CATEGORIES])


def _lumped_profile(profile: ColumnProfile) -> ColumnProfile:
    kept = _kept_categories(profile)
    if kept is None:
        return profile
    counts = profile.category_counts or {}
    lumped = {category: counts[category] for category in kept}
    lumped[OTHER] = sum(n for category, n in counts.items() if category not in kept)
    return replace(profile, category_counts=lumped)
