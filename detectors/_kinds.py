"""Shared vocabulary: column kinds, result statuses, performance tasks.

Kept in a module of its own so that every other module can import these
names without import cycles.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

ColumnKind = Literal["numeric", "categorical"]
"""How a column is summarised and which methods may test it."""

ResultStatus = Literal[
    "ok",
    "empty",
    "insufficient_data",
    "all_missing",
    "constant",
    "invalid_values",
    "identifier",
    "single_class",
    "awaiting_labels",
]
"""Why a result is (or is not) a real test outcome; anything but "ok" is never drifted.

"constant": reference and current hold one and the same single value.
"identifier": a categorical reference whose values are nearly all distinct
(ids, free text, timestamps stored as text), which no distribution test can
compare with a new window.
"single_class": a window's labels hold one class only, so a ranking metric
(ROC AUC, average precision) is undefined.
"awaiting_labels": fewer of a window's predictions have a label yet than
its realized metrics need (the monitor's label coverage); set by the
monitor, which joins late labels, never by a detector.
"""

PerformanceTask = Literal["classification", "regression"]
"""Which performance metrics apply to a pair of label and prediction columns."""

COLUMN_KINDS: Final[frozenset[str]] = frozenset(get_args(ColumnKind))


def check_kind(kind: str) -> ColumnKind:
    """Return ``kind`` typed as a ColumnKind, or raise ValueError naming the choices.

    Config strings arrive untyped, so the check happens once at the boundary.
    """
    if kind == "numeric":
        return "numeric"
    if kind == "categorical":
        return "categorical"
    raise ValueError(f"unknown column kind {kind!r}; expected one of {sorted(COLUMN_KINDS)}")
