"""One metric of one window against its noise band: the ColumnResult, realized or estimated alike.

A metric is degraded when it is beyond the band that sampling alone
reaches at ``level`` for a window of this many rows (``_noise.noise_band``)
AND, when ``allowed_drop`` is set, it moved by more than that floor. With
``direction="worse"`` only the worse side counts (below the band for
accuracy, above it for an error); with ``"both"`` either side does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from detectors._kinds import ResultStatus
from detectors._outcome import format_number
from detectors.performance._noise import Band, Direction, Spread, noise_band
from detectors.performance.registry import MetricSpec
from detectors.result import ColumnResult


@dataclass(frozen=True)
class Criteria:
    """How a comparison judges: its false-alarm level, direction and optional floor."""

    level: float
    direction: Direction
    allowed_drop: float | None


def check_arguments(level: float, direction: str, allowed_drop: float | None) -> Criteria:
    """Validate the comparison's arguments; errors name the argument."""
    if not (isinstance(level, int | float) and 0 < level < 1):
        raise ValueError(f"level must be a probability between 0 and 1, got {level!r}")
    if allowed_drop is not None and not (math.isfinite(allowed_drop) and allowed_drop >= 0):
        raise ValueError(f"allowed_drop must be a non-negative number or None, got {allowed_drop}")
    if direction == "worse":
        return Criteria(level, "worse", allowed_drop)
    if direction == "both":
        return Criteria(level, "both", allowed_drop)
    raise ValueError(f"direction must be 'worse' or 'both', got {direction!r}")


def judged(
    *,
    column: str,
    method: str,
    label: str,
    spec: MetricSpec,
    value: float,
    reference_value: float,
    spread: Spread,
    sizes: Sequence[int],
    n: int,
    n_reference: int,
    rows_word: str,
    criteria: Criteria,
    n_dropped_missing: int,
) -> ColumnResult:
    """The result of ``value`` on ``n`` rows (the ``method``'s metric ``spec``)."""
    level, direction, allowed_drop = criteria.level, criteria.direction, criteria.allowed_drop
    band = noise_band(
        reference_value,
        spread,
        sizes,
        n=n,
        n_reference=n_reference,
        level=level,
        direction=direction,
        bounds=spec.bounds,
    )
    if band is None:
        return unjudged(
            column=column,
            method=method,
            status="insufficient_data",
            reason=f"the reference's resamples leave {label} undefined, so its spread is unknown",
            reference_value=reference_value,
            n_reference=n_reference,
            n_current=n,
            criteria=criteria,
            n_dropped_missing=n_dropped_missing,
        )
    floor = _floor(spec, reference_value, allowed_drop)
    side = _side(spec, value, reference_value, direction)
    if side == "low":
        outside, move, bound = value < band.lower, reference_value - value, band.lower
        limit = band.lower if floor is None else min(band.lower, reference_value - floor)
    else:
        outside, move, bound = value > band.upper, value - reference_value, band.upper
        limit = band.upper if floor is None else max(band.upper, reference_value + floor)
    if direction == "both":
        move = abs(value - reference_value)
    degraded = outside and (floor is None or move > floor)
    noise = f"what {n:,} {rows_word} of the reference give at level {format_number(level)}"
    shown = format_number(value)
    if outside or direction == "worse":
        relation = ("<" if side == "low" else ">") if outside else (">=" if side == "low" else "<=")
        which = "lower" if side == "low" else "upper"
        reason = f"{label} {shown} {relation} {format_number(bound)}, the {which} bound of {noise}"
    else:
        interval = f"[{format_number(band.lower)}, {format_number(band.upper)}]"
        reason = f"{label} {shown} within {interval}, {noise}"
    if outside and floor is not None:
        moved = _move_word(spec, direction)
        allowed = _allowed(spec, floor, allowed_drop)
        reason += (
            f", and the {moved} {format_number(move)} > {allowed}"
            if degraded
            else f", but the {moved} {format_number(move)} is within {allowed}"
        )
    return ColumnResult(
        column=column,
        method=method,
        statistic=value,
        p_value=None,
        threshold=limit,
        drifted=degraded,
        n_reference=n_reference,
        n_current=n,
        status="ok",
        reason=reason,
        effect=move,
        effect_floor=floor,
        details=_details(reference_value, criteria, n_dropped_missing, band),
    )


def unjudged(
    *,
    column: str,
    method: str,
    status: ResultStatus,
    reason: str,
    reference_value: float,
    n_reference: int,
    n_current: int,
    criteria: Criteria,
    n_dropped_missing: int,
) -> ColumnResult:
    """A metric the window leaves undefined: its status and why, never degraded."""
    return ColumnResult(
        column=column,
        method=method,
        statistic=None,
        p_value=None,
        threshold=reference_value,
        drifted=False,
        n_reference=n_reference,
        n_current=n_current,
        status=status,
        reason=reason,
        details=_details(reference_value, criteria, n_dropped_missing, None),
    )


def _details(
    reference_value: float, criteria: Criteria, n_dropped_missing: int, band: Band | None
) -> dict[str, Any]:
    return {
        "reference_value": reference_value,
        "lower": None if band is None else band.lower,
        "upper": None if band is None else band.upper,
        "sd": None if band is None else band.sd,
        "level": criteria.level,
        "direction": criteria.direction,
        "allowed_drop": criteria.allowed_drop,
        "n_dropped_missing": n_dropped_missing,
    }


def _floor(spec: MetricSpec, reference_value: float, allowed_drop: float | None) -> float | None:
    if allowed_drop is None:
        return None
    return allowed_drop * abs(reference_value) if spec.floor == "relative" else allowed_drop


def _side(spec: MetricSpec, value: float, reference_value: float, direction: Direction) -> str:
    """The side of the band that decides: the worse one, or (both) the one ``value`` is on."""
    if direction == "worse":
        return "low" if spec.higher_is_better else "high"
    return "low" if value < reference_value else "high"


def _move_word(spec: MetricSpec, direction: Direction) -> str:
    if direction == "both":
        return "move"
    return "drop" if spec.higher_is_better else "rise"


def _allowed(spec: MetricSpec, floor: float, allowed_drop: float | None) -> str:
    if spec.floor == "relative":
        share = f"{(allowed_drop or 0) * 100:g}%"
        return f"allowed_drop {format_number(floor)} ({share} of the reference)"
    return f"allowed_drop {format_number(floor)}"
