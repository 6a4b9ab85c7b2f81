"""Turning a raw pandas column into the clean values a test can use.

Reference and current columns go through the same code, so that a value
counts the same way on both sides: missing values are excluded and counted,
infinities are excluded and counted, strings that do not parse as numbers
are counted as unparsable, and categories are stringified one way. A column
of lists, structs or bytes is refused with a ValueError naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

_MAX_EXAMPLES = 5
_NESTED = (list, tuple, dict, set, frozenset, np.ndarray, bytes, bytearray, memoryview)
_SCALAR_INFERRED = frozenset(
    {"empty", "string", "boolean", "integer", "floating", "mixed-integer-float", "decimal"}
    | {"datetime", "datetime64", "date", "time", "timedelta", "timedelta64", "period"}
)
_NESTED_ARROW = ("list<", "large_list<", "fixed_size_list<", "struct<", "map<", "binary")


@dataclass(frozen=True, kw_only=True)
class PreparedColumn:
    """A column after cleaning, with counts of what was left out and why."""

    n_total: int
    n_missing: int
    n_infinite: int = 0
    n_unparsable: int = 0
    unparsable_examples: tuple[str, ...] = ()
    numeric: npt.NDArray[np.float64] | None = None
    """The finite values of a numeric column, ascending (``prepare_numeric``)."""
    category_counts: dict[str, int] | None = None

    @property
    def n_usable(self) -> int:
        """Number of values a test can use (finite numbers, or non-missing categories)."""
        if self.numeric is not None:
            return int(self.numeric.size)
        if self.category_counts is not None:
            return sum(self.category_counts.values())
        return 0


def _nested_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "struct"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes"
    return "list"


def check_scalar(series: pd.Series) -> None:
    """Raise ValueError naming the column when it holds lists, structs or bytes.

    No test compares such values, and counting them as categories would mean
    counting their text: a column of lists is a schema to fix, not a result.
    Object columns of strings and numbers are recognised without a Python loop.

    >>> check_scalar(pd.Series(["a", None, "b"], name="device"))
    >>> check_scalar(pd.Series([[1, 2], [3]], name="tags"))
    Traceback (most recent call last):
    ...
    ValueError: column 'tags' holds list values (list); drift tests compare numbers, \
strings and booleans only
    """
    name = "a column" if series.name is None else f"column {str(series.name)!r}"
    if isinstance(series.dtype, pd.ArrowDtype):
        arrow_type = str(series.dtype.pyarrow_dtype)
        if arrow_type.startswith(_NESTED_ARROW):
            raise ValueError(f"{name} has the type {arrow_type}; {_SCALARS_ONLY}")
        return
    if series.dtype != object:
        return
    if pd.api.types.infer_dtype(series, skipna=True) in _SCALAR_INFERRED:
        return
    for value in series:
        if isinstance(value, _NESTED):
            kind = _nested_kind(value)
            held = type(value)
            where = "" if held.__module__ == "builtins" else f"{held.__module__}."
            raise ValueError(
                f"{name} holds {kind} values ({where}{held.__qualname__}); {_SCALARS_ONLY}"
            )


_SCALARS_ONLY = "drift tests compare numbers, strings and booleans only"


def category_key(value: Any) -> str:
    """Return the string under which ``value`` is counted as a category.

    Integral floats are written as integers because pandas turns an integer
    column with missing values into floats: ``1`` and ``1.0`` must be the same
    category on both sides.

    >>> [category_key(v) for v in (1, 1.0, 2.5, True, "a")]
    ['1', '1', '2.5', 'True', 'a']
    """
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        as_float = float(value)
        if as_float.is_integer():
            return str(int(as_float))
        return repr(as_float)
    return str(value)


def prepare_numeric(series: pd.Series) -> PreparedColumn:
    """Parse ``series`` as numbers without modifying it; ``numeric`` comes out ascending.

    Strings that parse (``"1.5"``) are accepted; strings that do not are
    counted in ``n_unparsable`` with a few examples so the caller can report
    the column as invalid rather than silently dropping data.

    Every numeric test and the profile want the values sorted, so they are
    sorted once here, and the sort also does the counting: numpy puts
    -inf first, +inf and NaN last, so the finite values are one slice of the
    sorted column, found by three binary searches, without a mask or a
    second copy of the column. A column that is already numbers (numpy
    float, integer or bool) skips parsing altogether: it cannot hold
    unparsable values, and its only missing values are NaN.

    >>> prepared = prepare_numeric(pd.Series([2.0, None, float("inf"), -1.0]))
    >>> prepared.numeric.tolist(), prepared.n_missing, prepared.n_infinite
    ([-1.0, 2.0], 1, 1)
    """
    check_scalar(series)
    examples: tuple[str, ...] = ()
    unparsable_count = 0
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "biuf":
        ordered = np.sort(series.to_numpy(dtype=np.float64))
    else:
        missing = series.isna().to_numpy(dtype=bool)
        as_objects = (
            series.astype(object) if isinstance(series.dtype, pd.CategoricalDtype) else series
        )
        parsed = pd.to_numeric(as_objects, errors="coerce")
        values = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
        unparsable = np.isnan(values) & ~missing
        unparsable_count = int(unparsable.sum())
        examples = tuple(str(v) for v in as_objects[unparsable].unique()[:_MAX_EXAMPLES])
        ordered = np.sort(values)
    first_finite = int(np.searchsorted(ordered, -np.inf, side="right"))
    past_finite = int(np.searchsorted(ordered, np.inf, side="left"))
    first_nan = int(np.searchsorted(ordered, np.nan, side="left"))
    return PreparedColumn(
        n_total=int(series.size),
        n_missing=ordered.size - first_nan - unparsable_count,
        n_infinite=first_finite + first_nan - past_finite,
        n_unparsable=unparsable_count,
        unparsable_examples=examples,
        numeric=ordered[first_finite:past_finite],
    )


def prepare_categorical(series: pd.Series) -> PreparedColumn:
    """Count the non-missing values of ``series`` by their category key.

    Counting happens on the distinct values first, so the per-value Python
    work is proportional to the number of categories, not rows; pandas
    leaves the missing values out of the count itself (the ones ``isna``
    sees), so the column is never copied without them.

    >>> prepare_categorical(pd.Series(["b", None, "a", "b", float("nan")])).category_counts
    {'a': 1, 'b': 2}
    """
    check_scalar(series)
    counts: dict[str, int] = {}
    for value, count in series.value_counts(sort=False, dropna=True).items():
        if count > 0:  # a pandas Categorical also lists categories it never saw
            key = category_key(value)
            counts[key] = counts.get(key, 0) + int(count)
    return PreparedColumn(
        n_total=int(series.size),
        n_missing=int(series.isna().sum()),
        category_counts=dict(sorted(counts.items())),
    )
