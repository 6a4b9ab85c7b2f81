"""Conversion of nested values into JSON-safe Python types.

Results and profiles are stored and sent as JSON; numpy scalars, arrays and
non-finite floats would either fail ``json.dumps`` or produce the non-standard
``NaN``/``Infinity`` tokens, so everything passes through here first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def finite_or_none(value: float | np.floating[Any] | None) -> float | None:
    """Return ``value`` as a plain float, or None when it is missing or not finite."""
    if value is None:
        return None
    converted = float(value)
    return converted if math.isfinite(converted) else None


def json_safe(value: Any) -> Any:
    """Return a deep copy of ``value`` made of dict, list, str, int, float, bool and None.

    Non-finite floats become None, because JSON has no NaN; unknown types raise
    TypeError so that a non-serialisable detail is caught where it is created.

    >>> json_safe({"a": np.int64(3), "b": [np.float64(0.5), float("nan")]})
    {'a': 3, 'b': [0.5, None]}
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return finite_or_none(value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(item) for item in value]
    raise TypeError(f"value of type {type(value).__name__} is not JSON-safe")
