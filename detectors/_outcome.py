"""What a method function returns before it is wrapped into a ColumnResult.

Methods compute only what is specific to them; ``compare_column`` adds the
column name, sample sizes and bad-data checks that every method shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors._kinds import ResultStatus


@dataclass(frozen=True, kw_only=True)
class MethodOutcome:
    """One method's verdict on prepared data."""

    statistic: float | None
    p_value: float | None
    drifted: bool
    reason: str
    n_reference: int
    status: ResultStatus = "ok"
    details: Mapping[str, Any] = field(default_factory=dict)
    effect: float | None = None
    """A size of the change on a scale that does not grow with n (for effect floors)."""


def format_number(value: float) -> str:
    """Format a statistic for a reason sentence: short, but never rounded to 0."""
    return f"{value:.4g}"


def p_value_outcome(
    *, statistic: float, p_value: float, alpha: float, n_reference: int, details: Mapping[str, Any]
) -> MethodOutcome:
    """Build the outcome of a significance test: drifted when ``p_value < alpha``."""
    drifted = p_value < alpha
    relation = "<" if drifted else ">="
    return MethodOutcome(
        statistic=statistic,
        p_value=p_value,
        drifted=drifted,
        reason=f"p-value {format_number(p_value)} {relation} {format_number(alpha)}",
        n_reference=n_reference,
        details=details,
    )


def distance_outcome(
    *, label: str, distance: float, threshold: float, n_reference: int, details: Mapping[str, Any]
) -> MethodOutcome:
    """Build the outcome of a distance: drifted when ``distance >= threshold``."""
    drifted = distance >= threshold
    relation = ">=" if drifted else "<"
    return MethodOutcome(
        statistic=distance,
        p_value=None,
        drifted=drifted,
        reason=f"{label} {format_number(distance)} {relation} {format_number(threshold)}",
        n_reference=n_reference,
        details=details,
    )


def significance_and_size_reason(
    *,
    significance: str,
    significant: bool,
    effect_name: str,
    effect: float | None,
    effect_floor: float | None,
) -> str:
    """Say why a p-value test is or is not drift: significance, then size against its floor.

    ``significance`` is the first clause (e.g. ``"p-value 0.001 < 0.05"``).

    >>> significance_and_size_reason(significance="p-value 1e-09 < 0.05", significant=True,
    ...     effect_name="KS statistic", effect=0.012, effect_floor=0.04)
    'p-value 1e-09 < 0.05 and KS statistic 0.012 < floor 0.04: significant but too small to ...'
    """
    if effect_floor is None or effect is None:
        return significance
    size = f"{effect_name} {format_number(effect)}"
    floor = format_number(effect_floor)
    if not significant:
        return f"{significance}; {size} (floor {floor})"
    if effect >= effect_floor:
        return f"{significance} and {size} >= floor {floor}"
    return f"{significance} and {size} < floor {floor}: significant but too small to call drift"
