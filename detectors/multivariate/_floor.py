"""The MMD effect floor: the MMD² of the reference against itself barely changed.

A huge window makes any change significant, so MMD is drift only when its
MMD² is at least what a change of the size the column tests call drift
gives: every numeric column shifted by 0.1 reference sd and a few rows of
each categorical column moved to an unseen category.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from detectors.multivariate._encoding import Encoding, NumericEncoding
from detectors.multivariate._kernel import paired_shift_mmd2

FLOOR_SHIFT: Final = 0.1
"""Shift, in reference standard deviations, of every numeric value behind the MMD floor."""

FLOOR_SHARE: Final = 0.05
"""Share of rows moved to an unseen category behind the MMD floor, per categorical column."""

FLOOR_MAX_ROWS: Final = 1000
"""Reference rows (a seeded uniform subsample) behind the MMD floor.

The floor is an unbiased estimate of a smooth quantity: from 1,000 of 2,000
rows it moved by 1-3% on stationary test data, at a quarter of the cost.
"""


def mmd_floor(
    rows: npt.NDArray[np.float64],
    encodings: Sequence[Encoding],
    bandwidth: float,
    seed: int,
) -> float:
    """The MMD² between ``rows`` and the same rows barely changed (see ``fit_multivariate``).

    Numeric value coordinates are standardised, so the shift is ``FLOOR_SHIFT``
    on each (missing values, imputed at 0 and flagged, stay). In a categorical
    block a seeded ``FLOOR_SHARE`` of the rows with a present value switch to
    the "other" coordinate (rows already there stay, so the share moved can be
    a little smaller). Only pairs of different rows enter, as in the unbiased
    estimator. At most ``FLOOR_MAX_ROWS`` rows are used.
    """
    rng = np.random.default_rng([seed, 1])
    if rows.shape[0] > FLOOR_MAX_ROWS:
        rows = rows[np.sort(rng.choice(rows.shape[0], size=FLOOR_MAX_ROWS, replace=False))]
    changed = rows.copy()
    start = 0
    for encoding in encodings:
        if isinstance(encoding, NumericEncoding):
            present = changed[:, start + 1] == 0.0 if encoding.missing_indicator else slice(None)
            changed[present, start] += FLOOR_SHIFT
        else:
            block = changed[:, start : start + encoding.width]
            candidates = np.flatnonzero(block[:, :-1].sum(axis=1) > 0.0)
            n_moved = min(candidates.size, round(FLOOR_SHARE * rows.shape[0]))
            moved = rng.choice(candidates, size=n_moved, replace=False)
            block[moved] = 0.0
            block[moved, -1] = 1.0
        start += encoding.width
    return paired_shift_mmd2(rows, changed, bandwidth)
