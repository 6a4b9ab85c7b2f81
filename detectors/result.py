"""The one result type every column test returns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors._json import json_safe
from detectors._kinds import ResultStatus


@dataclass(frozen=True, kw_only=True)
class ColumnResult:
    """Outcome of one test on one column.

    Every result carries its own ``drifted`` so that no caller has to know
    whether a method's statistic means drift when small (p-values) or large
    (distances). ``reason`` says why in one sentence. Any status other than
    ``"ok"`` means the data could not be tested, and then ``drifted`` is False.

    Drift needs two conditions, and the result carries both sides of each:
    significance (``p_value`` or, after correction, ``p_value_adjusted``
    below ``threshold``) for tests with a p-value, and size: ``effect`` at
    least ``effect_floor``. For a p-value test ``effect`` is its effect size
    (KS statistic, Cohen's w, ...) and ``effect_floor`` the method's floor;
    for a distance both are the distance and the effective threshold
    (``max(configured threshold, noise floor)``, equal to ``threshold``).
    ``effect_floor`` is None when no floor applies, and then size is not
    required. ``reason`` names the condition that decided.

    A tested column (status ``"ok"``) has its two histograms in ``details``,
    whatever the method, so a report can draw them: ``reference_counts`` and
    ``current_counts``, lists over the reference quantile bins of
    ``bin_edges`` (``len(bin_edges) + 1`` bins, the outer two open) for a
    numeric column, dicts from category to count for a categorical one.

    Floats are never NaN or infinite (None stands for "no value"), and
    ``details`` is converted to JSON-safe types on construction, so
    ``json.dumps(result.to_dict())`` always works.
    """

    column: str
    method: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    status: ResultStatus
    reason: str
    p_value_adjusted: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    effect: float | None = None
    effect_floor: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "statistic",
            "p_value",
            "p_value_adjusted",
            "threshold",
            "effect",
            "effect_floor",
        ):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"ColumnResult.{name} must be finite or None, got {value!r}")
            if value is not None:
                # Normalise numpy scalars so that equality and JSON behave as for floats.
                object.__setattr__(self, name, float(value))
        if self.status != "ok" and self.drifted:
            raise ValueError(f"a result with status {self.status!r} cannot be drifted")
        object.__setattr__(self, "drifted", bool(self.drifted))
        object.__setattr__(self, "details", json_safe(self.details))

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON-safe data (a fresh copy)."""
        return {
            "column": self.column,
            "method": self.method,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "p_value_adjusted": self.p_value_adjusted,
            "threshold": self.threshold,
            "effect": self.effect,
            "effect_floor": self.effect_floor,
            "drifted": self.drifted,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "status": self.status,
            "reason": self.reason,
            "details": json_safe(self.details),
        }
