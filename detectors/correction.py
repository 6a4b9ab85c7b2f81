"""Multiple-testing correction across the columns of one run.

Testing many columns at level alpha makes some false alarm likely; the
p-values of one run are therefore adjusted together before deciding drift.
Benjamini–Hochberg (the default) controls the false discovery rate;
Bonferroni and Holm control the family-wise error rate and are stricter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
from scipy import stats

from detectors._forms import form_sentence
from detectors._outcome import format_number, significance_and_size_reason
from detectors.registry import METHODS
from detectors.result import ColumnResult

Correction = Literal["none", "bonferroni", "holm", "bh"]


def apply_correction(
    results: Sequence[ColumnResult],
    *,
    alpha: float = 0.05,
    correction: Correction = "bh",
) -> list[ColumnResult]:
    """Adjust the p-values of ``results`` together and re-decide drift at ``alpha``.

    Results with a p-value get ``p_value_adjusted``, ``threshold=alpha``,
    ``drifted = p_value_adjusted < alpha and effect >= effect_floor`` (the
    effect floor set by ``compare_column``; no floor, no size condition) and a
    new ``reason`` naming both conditions. The raw ``p_value`` is kept. Results
    without one (distances, bad-data statuses) are returned unchanged. Order
    is kept; the inputs are not modified.

    >>> from detectors import ColumnResult
    >>> def result(p):
    ...     return ColumnResult(column="c", method="ks", statistic=0.1, p_value=p, threshold=0.05,
    ...                         drifted=p < 0.05, n_reference=100, n_current=100, status="ok",
    ...                         reason="")
    >>> [r.drifted for r in apply_correction([result(0.01), result(0.04), result(0.5)])]
    [True, False, False]
    """
    if correction not in get_args(Correction):
        raise ValueError(
            f"unknown correction {correction!r}; expected one of {list(get_args(Correction))}"
        )
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    tested = [i for i, r in enumerate(results) if r.p_value is not None]
    raw = np.array([results[i].p_value for i in tested], dtype=np.float64)
    adjusted = adjust_p_values(raw, correction) if raw.size else raw
    corrected = list(results)
    for index, p_adjusted in zip(tested, adjusted.tolist(), strict=True):
        original = results[index]
        significant = p_adjusted < alpha
        effect, floor = original.effect, original.effect_floor
        large_enough = floor is None or effect is None or effect >= floor
        relation = "<" if significant else ">="
        significance = (
            f"adjusted p-value {format_number(p_adjusted)} {relation} {format_number(alpha)} "
            f"({correction} over {raw.size} tests; raw p-value "
            f"{format_number(original.p_value or 0.0)})"
        )
        corrected[index] = dataclasses.replace(
            original,
            p_value_adjusted=p_adjusted,
            threshold=alpha,
            drifted=significant and large_enough and original.status == "ok",
            reason=significance_and_size_reason(
                significance=significance,
                significant=significant,
                effect_name=_effect_name(original.method),
                effect=effect,
                effect_floor=floor,
            )
            + form_sentence(original.details, original.n_current),
        )
    return corrected


def _effect_name(method: str) -> str:
    # A pooled-window test is named "<method>@<windows>" (detectors.sequential).
    spec = METHODS.get(method.partition("@")[0])
    return "effect" if spec is None else spec.effect_name


def adjust_p_values(
    p_values: npt.NDArray[np.float64], correction: Correction
) -> npt.NDArray[np.float64]:
    """Return adjusted p-values (each in [0, 1]) in the input order.

    >>> adjust_p_values(np.array([0.01, 0.04, 0.03]), "holm").tolist()
    [0.03, 0.06, 0.06]
    """
    m = p_values.size
    if correction == "none":
        return p_values.copy()
    if correction == "bonferroni":
        return np.minimum(p_values * m, 1.0)
    if correction == "holm":
        order = np.argsort(p_values, kind="stable")
        stepped = np.maximum.accumulate(p_values[order] * (m - np.arange(m)))
        adjusted = np.empty(m, dtype=np.float64)
        adjusted[order] = np.minimum(stepped, 1.0)
        return adjusted
    return np.asarray(stats.false_discovery_control(p_values, method="bh"), dtype=np.float64)
