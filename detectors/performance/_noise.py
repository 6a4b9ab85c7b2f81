"""How much a metric moves by sampling alone, and the band that follows for a window of n rows.

The spread is measured once, on the reference, at a few window sizes
(``SIZES``, at most the reference's rows): the standard deviation of the
metric over windows of that many rows drawn from the reference, and its
skewness at the smallest size. A window of n rows then gets the sd of the
stored size nearest to n (on a log scale), scaled by sqrt(size / n), and
the skewness scaled the same way (both shrink as 1/sqrt(n) for the smooth
statistics these metrics are).

Two ways to draw those windows, one per kind of metric:

* confusion-matrix metrics (accuracy, precision, recall, F1): a window's
  confusion matrix is multinomial with the reference's cell shares, so
  ``COUNT_DRAWS`` matrices are drawn at once and the metric is evaluated on
  all of them with numpy (``_counts_metric``, the same definitions as
  scikit-learn's with ``zero_division=1``; a test pins them to it);
* every other metric (scores, regression, CBPE estimates): a bootstrap of
  ``n_resamples`` resamples of the reference's rows, each scored by the
  metric's own function.

The band for a window is the reference value plus or minus z standard
deviations of the difference window - reference (the window's sd and the
reference's own, combined), z the normal quantile of ``level`` (one tail
for ``direction="worse"``, half of it in each tail for ``"both"``),
corrected for skewness by the Cornish-Fisher term (z² - 1) γ / 6 so that
small windows of a skewed metric (accuracy near 1) keep their level.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

Direction = Literal["worse", "both"]

SIZES: Final = (200, 1_000, 5_000)
"""Window sizes at which the spread is measured (those above the reference's rows are not)."""

COUNT_DRAWS: Final = 20_000
"""Multinomial confusion matrices drawn per size (fewer with many labels, to bound memory)."""

_MAX_CELLS: Final = 4_000_000
_MAX_SKEWNESS: Final = 0.5
"""Beyond this the Cornish-Fisher correction stops being monotone in z; it is capped here."""

_MIN_DEFINED: Final = 10
"""Fewest resamples with a defined value for an sd to be measured at a size."""


@dataclass(frozen=True)
class Spread:
    """A metric's sd over windows of each stored size (None: undefined there), and its skewness."""

    sds: tuple[float | None, ...]
    skewness: float
    """At the smallest stored size."""

    def to_dict(self) -> dict[str, object]:
        return {"sds": list(self.sds), "skewness": self.skewness}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Spread:
        sds = data["sds"]
        skewness = data["skewness"]
        if not isinstance(sds, list) or not isinstance(skewness, int | float):
            raise ValueError(f"a spread needs a list 'sds' and a number 'skewness', got {data}")
        return cls(tuple(None if s is None else float(s) for s in sds), float(skewness))


@dataclass(frozen=True)
class Band:
    """What ``level`` lets a window's metric reach by sampling alone."""

    lower: float
    upper: float
    sd: float
    """Of the difference window - reference."""


def sizes_for(n_reference: int) -> tuple[int, ...]:
    """The stored sizes for a reference of ``n_reference`` rows (itself, when smaller than all)."""
    kept = tuple(size for size in SIZES if size <= n_reference)
    return kept or (n_reference,)


def counts_spread(
    confusion: npt.NDArray[np.int64],
    names: Sequence[str],
    *,
    sizes: Sequence[int],
    positive: int,
    binary: bool,
    rng: np.random.Generator,
) -> dict[str, Spread]:
    """Spreads of confusion-matrix metrics from multinomial draws of the reference's matrix."""
    n_labels = confusion.shape[0]
    shares = (confusion / confusion.sum()).ravel()
    draws = max(200, min(COUNT_DRAWS, _MAX_CELLS // shares.size))
    samples: dict[str, list[npt.NDArray[np.float64]]] = {name: [] for name in names}
    for size in sizes:
        drawn = rng.multinomial(size, shares, size=draws).reshape(draws, n_labels, n_labels)
        cells = drawn.astype(np.float64)
        for name in names:
            samples[name].append(_counts_metric(name, cells, positive, binary))
    return {name: _spread(values) for name, values in samples.items()}


def bootstrap_spread(
    n_rows: int,
    evaluate: Callable[[npt.NDArray[np.intp]], Mapping[str, float | None]],
    names: Sequence[str],
    *,
    sizes: Sequence[int],
    n_resamples: int,
    rng: np.random.Generator,
) -> dict[str, Spread]:
    """Spreads over ``n_resamples`` bootstrap resamples of each size; ``evaluate`` scores one."""
    samples: dict[str, list[npt.NDArray[np.float64]]] = {name: [] for name in names}
    for size in sizes:
        drawn: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(n_resamples):
            for name, value in evaluate(rng.integers(0, n_rows, size)).items():
                if value is not None:
                    drawn[name].append(value)
        for name in names:
            samples[name].append(np.asarray(drawn[name], dtype=np.float64))
    return {name: _spread(values) for name, values in samples.items()}


def noise_band(
    reference_value: float,
    spread: Spread,
    sizes: Sequence[int],
    *,
    n: int,
    n_reference: int,
    level: float,
    direction: Direction,
    bounds: tuple[float | None, float | None],
) -> Band | None:
    """The band of a window of ``n`` rows, or None when the reference measured no spread.

    >>> spread = Spread(sds=(0.02, 0.009), skewness=0.0)
    >>> band = noise_band(0.9, spread, (200, 1000), n=1000, n_reference=10**9, level=0.01,
    ...                   direction="worse", bounds=(0.0, 1.0))
    >>> round(band.lower, 4), round(band.upper, 4)
    (0.8791, 0.9209)
    """
    window = _sd_at(spread, sizes, n)
    reference = _sd_at(spread, sizes, n_reference)
    if window is None or reference is None:
        return None
    sd = math.hypot(window, reference)
    skew_window = spread.skewness * math.sqrt(sizes[0] / n)
    skew_reference = spread.skewness * math.sqrt(sizes[0] / n_reference)
    third = skew_window * window**3 - skew_reference * reference**3
    skewness = 0.0 if sd == 0 else float(np.clip(third / sd**3, -_MAX_SKEWNESS, _MAX_SKEWNESS))
    z = float(stats.norm.isf(level if direction == "worse" else level / 2))
    correction = (z * z - 1) * skewness / 6
    low, high = bounds
    lower = reference_value + sd * (correction - z)
    upper = reference_value + sd * (correction + z)
    return Band(
        lower=lower if low is None else max(lower, low),
        upper=upper if high is None else min(upper, high),
        sd=sd,
    )


def _sd_at(spread: Spread, sizes: Sequence[int], n: int) -> float | None:
    measured = [(size, sd) for size, sd in zip(sizes, spread.sds, strict=True) if sd is not None]
    if not measured:
        return None
    size, sd = min(measured, key=lambda pair: abs(math.log(pair[0] / n)))
    return sd * math.sqrt(size / n)


def _spread(values: Sequence[npt.NDArray[np.float64]]) -> Spread:
    sds = tuple(
        float(np.std(sample, ddof=1)) if sample.size >= _MIN_DEFINED else None for sample in values
    )
    first = values[0]
    skewness = float(stats.skew(first)) if first.size >= _MIN_DEFINED and np.ptp(first) > 0 else 0.0
    return Spread(sds=sds, skewness=skewness)


def _counts_metric(
    name: str, cells: npt.NDArray[np.float64], positive: int, binary: bool
) -> npt.NDArray[np.float64]:
    """A confusion-matrix metric of each of ``cells`` (draws x truth x prediction)."""
    if name == "accuracy":
        result: npt.NDArray[np.float64] = np.trace(cells, axis1=1, axis2=2) / cells.sum(axis=(1, 2))
        return result
    hits = np.diagonal(cells, axis1=1, axis2=2)
    predicted = cells.sum(axis=1)
    actual = cells.sum(axis=2)
    if binary:
        hits, predicted, actual = (a[:, positive : positive + 1] for a in (hits, predicted, actual))
    if name == "precision":
        per_label = _ratio(hits, predicted)
    elif name == "recall":
        per_label = _ratio(hits, actual)
    elif name == "f1":
        per_label = _ratio(2 * hits, predicted + actual)
    else:
        raise ValueError(f"{name!r} is not a confusion-matrix metric")
    mean: npt.NDArray[np.float64] = per_label.mean(axis=1)
    return mean


def _ratio(
    numerator: npt.NDArray[np.float64], denominator: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """numerator / denominator, 1 where the denominator is 0 (scikit-learn's zero_division=1)."""
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 1.0)
