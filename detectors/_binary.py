"""The 2 x 2 table shared by the binary-only tests (Fisher's exact, two-proportion Z).

Both tests compare the share of one category between reference and current,
so they need a column with at most two categories across both sides. A
column with more is not a crash but an outcome with status
``"invalid_values"`` (the values do not fit the method) and a reason that
names the categories and points to chi2 or gtest, which test any number of
categories. Its details still report unseen and vanished categories, because
a third category appearing in a binary column is often the news.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors._categories import MAX_LISTED, AlignedCounts, aligned_categories
from detectors._outcome import MethodOutcome
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


@dataclass(frozen=True)
class BinaryTable:
    """Counts of a column with one or two categories on reference and current.

    ``table`` is always 2 x 2: rows are reference and current, columns the
    two categories in sorted order (a zero column stands in for a second
    category when only one was seen anywhere). ``category`` is the first
    one, whose share the tests compare.
    """

    aligned: AlignedCounts
    table: npt.NDArray[np.int64]

    @property
    def category(self) -> str:
        """The category whose share is compared (the first in sorted order)."""
        return self.aligned.categories[0]

    @property
    def single_category(self) -> bool:
        """True when both sides hold the same one category (nothing to compare)."""
        return len(self.aligned.categories) == 1

    @property
    def reference_share(self) -> float:
        """Share of ``category`` in the reference."""
        return float(self.table[0, 0] / self.table[0].sum())

    @property
    def current_share(self) -> float:
        """Share of ``category`` in the current window."""
        return float(self.table[1, 0] / self.table[1].sum())


def binary_table(
    method: str, profile: ColumnProfile, current: PreparedColumn
) -> BinaryTable | MethodOutcome:
    """Return the 2 x 2 table, or the ``invalid_values`` outcome for more than two categories.

    >>> from detectors._prepare import prepare_categorical
    >>> import pandas as pd
    >>> profile = ColumnProfile(column="f", kind="categorical", n=3, n_missing=0,
    ...                         category_counts={"no": 2, "yes": 1})
    >>> table = binary_table("ztest", profile, prepare_categorical(pd.Series(["yes", "yes"])))
    >>> table.category, table.table.tolist()
    ('no', [[2, 1], [0, 2]])
    >>> outcome = binary_table("ztest", profile, prepare_categorical(pd.Series(["maybe"])))
    >>> outcome.status, outcome.reason  # doctest: +NORMALIZE_WHITESPACE
    ('invalid_values', "ztest tests a binary column but 'f' has 3 categories
    across reference and current (maybe, no, yes; 1 unseen in the reference);
    use chi2 or gtest")
    """
    aligned = aligned_categories(profile, current)
    n_categories = len(aligned.categories)
    if n_categories > 2:
        listed = ", ".join(aligned.categories[:MAX_LISTED])
        more = ", ..." if n_categories > MAX_LISTED else ""
        return MethodOutcome(
            statistic=None,
            p_value=None,
            drifted=False,
            status="invalid_values",
            reason=(
                f"{method} tests a binary column but {profile.column!r} has {n_categories} "
                f"categories across reference and current ({listed}{more}; "
                f"{len(aligned.unseen)} unseen in the reference); use chi2 or gtest"
            ),
            n_reference=profile.n,
            details=aligned.details(),
        )
    table = aligned.table()
    if n_categories == 1:
        table = np.hstack([table, np.zeros((2, 1), dtype=np.int64)])
    return BinaryTable(aligned=aligned, table=table)
