"""The dataset-level decision: is this run drifted, and why.

Per-column results (already corrected with ``apply_correction``) and an
optional multivariate result go in; one ``DatasetDecision`` comes out. The
default rule is "any": the run is drifted when any column drifted or the
multivariate test did. A share rule ("at least half the columns") is
opt-in. Key columns are always decisive: any named key column that drifted
makes the run drifted, whatever the rule. Every condition that fired is
listed, so a report can say which one decided.

The share is taken over all the columns given, including those that could
not be tested (an empty or all-missing column counts as not drifted), so
that bad data never inflates it.

>>> from detectors import ColumnResult
>>> def column(name, drifted):
...     return ColumnResult(column=name, method="ks", statistic=0.2, p_value=0.001,
...                         threshold=0.05, drifted=drifted, n_reference=100, n_current=100,
...                         status="ok", reason="")
>>> results = [column("age", True), column("income", False), column("tenure", False)]
>>> decide(results).reason
'drift: 1 of 3 columns drifted (age)'
>>> decision = decide(results, rule="share", share=0.5)
>>> decision.drifted, decision.reason
(False, 'no drift: drift share 0.3333 < 0.5 (1 of 3 columns drifted: age)')
>>> decide(results, rule="share", share=0.5, key_columns=["age"]).fired
('key_column',)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from detectors._outcome import format_number
from detectors.result import ColumnResult

DecisionRule = Literal["any", "share"]
Condition = Literal["any_column", "share", "key_column", "multivariate", "pooled", "performance"]

_MAX_NAMED = 10
"""How many drifted column names a reason lists; ``drifted_columns`` has them all."""


@dataclass(frozen=True, kw_only=True)
class DatasetDecision:
    """The verdict on a whole run, and the conditions that produced it."""

    drifted: bool
    reason: str
    drifted_columns: tuple[str, ...]
    n_columns: int
    share_drifted: float
    rule: DecisionRule
    share: float | None
    fired: tuple[Condition, ...]
    """Conditions that hold: "any_column", "share", "key_column", "multivariate"."""
    key_columns_drifted: tuple[str, ...] = ()
    multivariate_drifted: bool | None = None
    """None when no multivariate result was given."""
    pooled_drifted: tuple[str, ...] = ()
    """Pooled-window (sequential) results that drifted, as "column (method)"."""
    performance_degraded: tuple[str, ...] = ()
    """Performance metrics that fell beyond what is allowed."""

    def to_dict(self) -> dict[str, Any]:
        """Return the decision as plain JSON-safe data."""
        return {
            "drifted": self.drifted,
            "reason": self.reason,
            "drifted_columns": list(self.drifted_columns),
            "n_columns": self.n_columns,
            "share_drifted": self.share_drifted,
            "rule": self.rule,
            "share": self.share,
            "fired": list(self.fired),
            "key_columns_drifted": list(self.key_columns_drifted),
            "multivariate_drifted": self.multivariate_drifted,
            "pooled_drifted": list(self.pooled_drifted),
            "performance_degraded": list(self.performance_degraded),
        }


def decide(
    results: Sequence[ColumnResult],
    *,
    rule: DecisionRule = "any",
    share: float | None = None,
    key_columns: Sequence[str] = (),
    multivariate: ColumnResult | None = None,
    pooled: Sequence[ColumnResult] = (),
    performance: Sequence[ColumnResult] = (),
) -> DatasetDecision:
    """Decide whether a run drifted from its per-column ``results``.

    ``rule="any"`` (default): drifted when any column drifted. ``rule="share"``:
    drifted when at least ``share`` (0 < share <= 1) of the columns drifted.
    Either way, a drifted column named in ``key_columns``, a drifted
    ``multivariate`` result, a drifted ``pooled`` (pooled-window, see
    ``detectors.sequential``) result or a degraded ``performance`` metric
    makes the run drifted. A key column missing from ``results`` is a
    configuration error and raises ValueError.

    >>> from detectors import ColumnResult
    >>> pooled = ColumnResult(column="age", method="ks@16", statistic=0.06, p_value=1e-9,
    ...                       threshold=1e-4, drifted=True, n_reference=10_000,
    ...                       n_current=4_800, status="ok", reason="")
    >>> decide([], pooled=[pooled]).reason
    'drift: 0 of 0 columns drifted; drift over recent windows: age (ks@16)'
    """
    _check_arguments(results, rule, share, key_columns)
    drifted_columns = tuple(r.column for r in results if r.drifted)
    n_columns = len(results)
    share_drifted = len(drifted_columns) / n_columns if n_columns else 0.0
    keys_drifted = tuple(name for name in drifted_columns if name in set(key_columns))
    multivariate_drifted = None if multivariate is None else multivariate.drifted

    fired: list[Condition] = []
    if rule == "any" and drifted_columns:
        fired.append("any_column")
    if rule == "share" and share is not None and n_columns and share_drifted >= share:
        fired.append("share")
    if keys_drifted:
        fired.append("key_column")
    if multivariate_drifted:
        fired.append("multivariate")
    pooled_drifted = tuple(f"{r.column} ({r.method})" for r in pooled if r.drifted)
    if pooled_drifted:
        fired.append("pooled")
    degraded = tuple(r.method for r in performance if r.drifted)
    if degraded:
        fired.append("performance")
    drifted = bool(fired)

    parts = [_columns_clause(rule, share, drifted_columns, n_columns, share_drifted)]
    if keys_drifted:
        parts.append(
            "key column"
            + ("s " if len(keys_drifted) > 1 else " ")
            + ", ".join(keys_drifted)
            + " drifted"
        )
    if multivariate is not None:
        parts.append(_multivariate_clause(multivariate))
    if pooled_drifted:
        parts.append("drift over recent windows: " + ", ".join(pooled_drifted))
    if degraded:
        parts.append("performance dropped: " + ", ".join(degraded))
    return DatasetDecision(
        drifted=drifted,
        reason=("drift: " if drifted else "no drift: ") + "; ".join(parts),
        drifted_columns=drifted_columns,
        n_columns=n_columns,
        share_drifted=share_drifted,
        rule=rule,
        share=share,
        fired=tuple(fired),
        key_columns_drifted=keys_drifted,
        multivariate_drifted=multivariate_drifted,
        pooled_drifted=pooled_drifted,
        performance_degraded=degraded,
    )


def _check_arguments(
    results: Sequence[ColumnResult],
    rule: str,
    share: float | None,
    key_columns: Sequence[str],
) -> None:
    if rule not in get_args(DecisionRule):
        raise ValueError(
            f"unknown decision rule {rule!r}; expected one of {list(get_args(DecisionRule))}"
        )
    if rule == "share":
        if share is None or not 0 < share <= 1:
            raise ValueError(f'rule "share" needs a share with 0 < share <= 1, got {share}')
    elif share is not None:
        raise ValueError(f'share={share} is only used by rule="share"; the rule is {rule!r}')
    if isinstance(key_columns, str):
        raise ValueError(
            f"key_columns must be a sequence of column names, got the string {key_columns!r}"
        )
    known = {r.column for r in results}
    unknown = [name for name in key_columns if name not in known]
    if unknown:
        raise ValueError(f"key columns {unknown} are not among the tested columns {sorted(known)}")


def _columns_clause(
    rule: str,
    share: float | None,
    drifted_columns: tuple[str, ...],
    n_columns: int,
    share_drifted: float,
) -> str:
    names = ", ".join(drifted_columns[:_MAX_NAMED])
    if len(drifted_columns) > _MAX_NAMED:
        names += f", ... ({len(drifted_columns) - _MAX_NAMED} more)"
    counted = f"{len(drifted_columns)} of {n_columns} columns drifted"
    if rule == "share" and share is not None:
        relation = ">=" if n_columns and share_drifted >= share else "<"
        listed = f": {names}" if drifted_columns else ""
        return (
            f"drift share {format_number(share_drifted)} {relation} {format_number(share)} "
            f"({counted}{listed})"
        )
    return f"{counted} ({names})" if drifted_columns else counted


def _multivariate_clause(result: ColumnResult) -> str:
    if result.status != "ok":
        return f"multivariate {result.method} not tested ({result.status}: {result.reason})"
    verdict = "drifted" if result.drifted else "not drifted"
    return f"multivariate {result.method} {verdict} ({result.reason})"
