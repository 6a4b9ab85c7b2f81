"""A window's labels, predictions and scores, checked, paired and encoded once for every metric.

Rows are paired by position (a join on the index would silently misalign
them). A row is used when it has a label and a prediction (and a score,
when scores are given); the others are counted as dropped. Labels are
encoded as integer codes of the reference's sorted labels, so a window is
read the same way as its reference; a label the reference never had gets
a code of its own after them (it is always an error of the prediction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors._kinds import ResultStatus

Label = bool | int | float | str
"""A class label as stored in a profile (JSON-safe)."""

_EXAMPLES = 3
_NO_ROWS = "no row has both a label and a prediction"


@dataclass(frozen=True, kw_only=True)
class LabelledRows:
    """The usable rows of one window: codes (classification) or numbers (regression)."""

    truth: npt.NDArray[Any]
    predicted: npt.NDArray[Any]
    scores: npt.NDArray[np.float64] | None = None
    n_labels: int = 0
    positive: int = -1
    """Code of the positive label when ``binary``."""
    binary: bool = False
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per key for these rows (metrics that share one scikit-learn call)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def n(self) -> int:
        return int(self.truth.size)

    def truth_positive(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.truth == self.positive)

    def predicted_positive(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.predicted == self.positive)

    def require_scores(self) -> npt.NDArray[np.float64]:
        if self.scores is None:
            raise ValueError("scores: this metric needs the positive class's scores")
        return self.scores

    def take(self, index: npt.NDArray[np.intp]) -> LabelledRows:
        """The rows at ``index`` (a bootstrap resample)."""
        return LabelledRows(
            truth=self.truth[index],
            predicted=self.predicted[index],
            scores=None if self.scores is None else self.scores[index],
            n_labels=self.n_labels,
            positive=self.positive,
            binary=self.binary,
        )


@dataclass(frozen=True, kw_only=True)
class PreparedWindow:
    """A window after the checks: its rows, or the status that says why it has none."""

    rows: LabelledRows | None
    n_total: int
    n_dropped_missing: int
    status: ResultStatus = "ok"
    reason: str = ""


def as_series(values: Any, name: str) -> pd.Series:
    """``values`` as a pandas Series (a Series is kept as it is); not one-dimensional raises."""
    if isinstance(values, pd.Series):
        return values
    array = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return pd.Series(array)


def check_lengths(**columns: pd.Series | None) -> int:
    """The common length of the given columns; different lengths raise naming both."""
    given = [(name, series) for name, series in columns.items() if series is not None]
    first_name, first = given[0]
    for name, series in given[1:]:
        if series.size != first.size:
            raise ValueError(
                f"{name} has {series.size} rows but {first_name} has {first.size}: "
                "rows are paired by position"
            )
    return int(first.size)


def missing(series: pd.Series | None) -> npt.NDArray[np.bool_]:
    if series is None:
        return np.zeros(0, dtype=bool)
    return np.asarray(series.isna().to_numpy(dtype=bool))


def parse_numbers(series: pd.Series, name: str) -> tuple[npt.NDArray[np.float64], str | None]:
    """Numbers of a column (missing -> NaN), and a problem if some are not finite numbers."""
    if pd.api.types.is_bool_dtype(series.dtype):
        parsed = series.to_numpy(dtype=np.float64)
    elif pd.api.types.is_numeric_dtype(series.dtype):
        parsed = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        parsed = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    was_missing = missing(series)
    bad = ~np.isfinite(parsed) & ~was_missing
    if not bad.any():
        return parsed, None
    examples = series[bad].head(_EXAMPLES).tolist()
    return (
        parsed,
        f"{name} has {int(bad.sum())} values that are not finite numbers, e.g. {examples}",
    )


def sorted_labels(values: npt.NDArray[Any]) -> list[Label]:
    """The distinct labels, as plain Python values, sorted (by text when types are mixed)."""
    unique = [_plain(v) for v in pd.unique(pd.Series(values, dtype=object))]
    try:
        return sorted(unique)
    except TypeError:
        return sorted(unique, key=str)


def default_positive(labels: Sequence[Label]) -> Label:
    """1/True when the labels are 0/1 or booleans, otherwise the larger label."""
    if labels and all(isinstance(label, bool) for label in labels):
        return True
    if all(not isinstance(label, str) and label in (0, 1) for label in labels):
        return 1
    return labels[-1]


def resolve_labels(
    y_true: pd.Series, y_pred: pd.Series, positive_label: Label | None
) -> tuple[tuple[Label, ...], Label | None]:
    """The labels of a reference (of ``y_true`` and ``y_pred``) and its positive label.

    Two labels or fewer are binary: the positive label is ``positive_label``,
    else 1/True or the larger label (``default_positive``), added to the
    labels if no row has it. More labels are multiclass, with no positive label.
    """
    present = np.concatenate(
        [
            y_true.to_numpy(dtype=object)[~missing(y_true)],
            y_pred.to_numpy(dtype=object)[~missing(y_pred)],
        ]
    )
    try:
        labels = sorted_labels(present)
    except ValueError as error:
        raise ValueError(f"y_true: {error}") from None
    if len(labels) > 2:
        if positive_label is not None:
            raise ValueError(
                f"positive_label: the labels are multiclass ({len(labels)} labels), "
                "a positive label applies to two labels"
            )
        return tuple(labels), None
    positive = default_positive(labels) if positive_label is None else positive_label
    if positive not in labels:
        if len(labels) == 2:
            raise ValueError(f"positive_label: {positive!r} is none of the labels {labels}")
        labels = sorted_labels(np.array([*labels, positive], dtype=object))
    return tuple(labels), positive


def encode(
    values: npt.NDArray[Any], labels: Sequence[Label], extra: pd.Index
) -> npt.NDArray[np.int64]:
    """Codes of ``values``: index in ``labels``, else ``len(labels)`` + index in ``extra``."""
    known = pd.Index(list(labels), dtype=object)
    codes = np.asarray(known.get_indexer(pd.Index(values, dtype=object)), dtype=np.int64)
    unseen = codes < 0
    if unseen.any():
        codes[unseen] = len(labels) + extra.get_indexer(pd.Index(values[unseen], dtype=object))
    return codes


def unseen_labels(labels: Sequence[Label], *arrays: npt.NDArray[Any]) -> pd.Index:
    """The distinct values of ``arrays`` that are not among ``labels``."""
    known = pd.Index(list(labels), dtype=object)
    new = [array[known.get_indexer(pd.Index(array, dtype=object)) < 0] for array in arrays]
    return pd.Index(pd.unique(pd.Series(np.concatenate(new), dtype=object)), dtype=object)


def _plain(value: Any) -> Label:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and np.isfinite(value):
        return value
    raise ValueError(f"labels must be booleans, numbers or strings, got {value!r}")


def prepare_classification(
    y_true: pd.Series,
    y_pred: pd.Series,
    scores: pd.Series | None,
    *,
    labels: Sequence[Label],
    positive: Label | None,
) -> PreparedWindow:
    """Rows with a label, a prediction (and a score), encoded by the reference's ``labels``."""
    n_total = check_lengths(y_true=y_true, y_pred=y_pred, scores=scores)
    if n_total == 0:
        return _bad(0, "empty", "the window has no rows")
    keep = ~(missing(y_true) | missing(y_pred))
    parsed: npt.NDArray[np.float64] | None = None
    if scores is not None:
        parsed, problem = parse_numbers(scores, "scores")
        if problem is not None:
            return _bad(n_total, "invalid_values", problem)
        keep &= ~np.isnan(parsed)
    n_kept = int(keep.sum())
    if n_kept == 0:
        return _bad(n_total, "all_missing", _NO_ROWS, dropped=n_total)
    truth = y_true.to_numpy(dtype=object)[keep]
    predicted = y_pred.to_numpy(dtype=object)[keep]
    extra = unseen_labels(labels, truth, predicted)
    binary = len(labels) <= 2
    rows = LabelledRows(
        truth=encode(truth, labels, extra),
        predicted=encode(predicted, labels, extra),
        scores=None if parsed is None else parsed[keep],
        n_labels=len(labels),
        positive=list(labels).index(positive) if binary and positive is not None else -1,
        binary=binary,
    )
    return PreparedWindow(rows=rows, n_total=n_total, n_dropped_missing=n_total - n_kept)


def prepare_regression(y_true: pd.Series, y_pred: pd.Series) -> PreparedWindow:
    """Rows where both the target and the prediction are numbers."""
    n_total = check_lengths(y_true=y_true, y_pred=y_pred)
    if n_total == 0:
        return _bad(0, "empty", "the window has no rows")
    truth, truth_problem = parse_numbers(y_true, "y_true")
    predicted, predicted_problem = parse_numbers(y_pred, "y_pred")
    problem = truth_problem or predicted_problem
    if problem is not None:
        return _bad(n_total, "invalid_values", problem)
    keep = ~(np.isnan(truth) | np.isnan(predicted))
    n_kept = int(keep.sum())
    if n_kept == 0:
        return _bad(n_total, "all_missing", _NO_ROWS, dropped=n_total)
    rows = LabelledRows(truth=truth[keep], predicted=predicted[keep])
    return PreparedWindow(rows=rows, n_total=n_total, n_dropped_missing=n_total - n_kept)


def _bad(n_total: int, status: ResultStatus, reason: str, *, dropped: int = 0) -> PreparedWindow:
    return PreparedWindow(
        rows=None, n_total=n_total, n_dropped_missing=dropped, status=status, reason=reason
    )
