"""A window summarised where it lives: counts instead of rows (the "counts" form).

A window of 100M rows need not travel to be tested. What the count-based
methods need of it is a few thousand numbers, which a database can count
itself (``monitor.sources.sql_profile`` does on PostgreSQL):

* a numeric column: its finite values counted in the reference's fine
  cells, ``summary_edges(profile)`` (quantiles at every 1/``SUMMARY_CELLS``,
  plus the profile's bin edges and the sequential sketch grid, so that the
  binned distances and the pooled sketches are exact sums of cells), and
  its missing (null or NaN) and infinite values;
* a categorical column: its category counts, up to ``MAX_SUMMARY_CATEGORIES``
  categories (the rarest beyond them counted together, on both sides of the
  test: ``detectors._forms.counted_profile``); a reference that looks like an
  identifier needs no categories at all (``counts_categories``).

A summary is a ``PreparedColumn`` of form "counts", tested by the same
``compare_prepared`` as rows, by the methods whose spec accepts counts
(``MethodSpec.forms``): the categorical tests and distances see exactly the
counts they would count from rows; psi, jensenshannon, hellinger and kl of
a numeric column see exactly their bins; KS is taken at the cell edges,
never above the exact statistic, so its p-value is never below the exact
one and the test keeps its level. At 1,000 cells the gap to the exact
statistic is at most about a thousandth (one cell's share), far below KS's
effect floor of 0.04. ``summarise_column`` makes the same summary from rows,
which is what the database's counts must equal.

>>> import numpy as np
>>> import pandas as pd
>>> from detectors import compare_prepared, fit_profile
>>> rng = np.random.default_rng(4)
>>> profile = fit_profile(pd.Series(rng.normal(0, 1, 50_000), name="x"), "numeric")
>>> shifted = summarise_column(profile, pd.Series(rng.normal(0.3, 1, 20_000)))
>>> shifted.form, shifted.cells.counts.size
('counts', 1009)
>>> result = compare_prepared(profile, shifted)
>>> result.method, result.drifted, result.details["form"], result.details["resolution"]
('ks', True, 'counts', 1009)
>>> print(result.reason)  # doctest: +ELLIPSIS
p-value ... < 0.05 and KS statistic 0.1225 >= floor 0.04; tested on a sketch: the window's \
20,000 values counted in 1,009 reference-quantile cells
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors._binning import bin_counts
from detectors._categories import OTHER
from detectors._cells import CellCounts
from detectors._prepare import PreparedColumn
from detectors.column import looks_like_identifier, prepare_column
from detectors.profile import ColumnProfile
from detectors.sequential import reference_grid

SUMMARY_CELLS: Final = 1000
"""Reference-quantile cells of a numeric summary (its resolution: a cell holds 0.1 %)."""

MAX_SUMMARY_CATEGORIES: Final = 10_000
"""Categories a categorical summary names; the rarest beyond them are counted together."""


@dataclass(frozen=True)
class WindowSummary:
    """Every configured column of one window in the counts form, and the window's row count.

    ``len()`` is the number of rows the window holds (not of the rows that
    were read: none were), so code that asks how large a window was reads a
    summary as it reads a frame. ``result_rows`` is how many rows the
    summary's queries returned, the data that travelled instead of the rows.
    """

    n_rows: int
    columns: Mapping[str, PreparedColumn]
    result_rows: int = 0

    def __len__(self) -> int:
        return self.n_rows


def summary_edges(profile: ColumnProfile, cells: int = SUMMARY_CELLS) -> npt.NDArray[np.float64]:
    """The ascending distinct edges a numeric window is counted on for ``profile``.

    The inverted-CDF reference quantiles at 1/cells, ..., 1 - 1/cells, the
    profile's bin edges and the sequential sketch grid (fewer when quantiles
    repeat: a discrete column's values become edges of their own).

    >>> from detectors import fit_profile
    >>> profile = fit_profile(pd.Series(np.arange(10_000.0), name="x"), "numeric")
    >>> edges = summary_edges(profile)
    >>> edges.size, bool(np.all(np.isin(profile.bin_edges, edges)))
    (1008, True)
    """
    if cells < 2:
        raise ValueError(f"a summary needs at least 2 cells, got {cells}")
    values = profile.sorted_values
    if profile.kind != "numeric" or values is None or values.size == 0:
        return np.empty(0, dtype=np.float64)
    ranks = np.ceil(values.size * np.arange(1, cells) / cells).astype(np.int64) - 1
    quantiles = values[np.clip(ranks, 0, values.size - 1)]
    bin_edges = profile.bin_edges if profile.bin_edges is not None else np.empty(0)
    edges = np.union1d(np.union1d(quantiles, bin_edges), reference_grid(profile))
    return np.asarray(edges, dtype=np.float64)


def counts_categories(profile: ColumnProfile) -> bool:
    """Whether a categorical summary for ``profile`` must count categories.

    Not for a reference that looks like an identifier: no test runs on such
    a column, so its summary needs only how many values are missing.
    """
    return not looks_like_identifier(profile)


def numeric_summary(
    edges: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    *,
    n_total: int,
    n_missing: int,
    n_infinite: int,
) -> PreparedColumn:
    """A numeric column's summary from counts made elsewhere (e.g. by a database).

    ``counts`` has ``len(edges) + 1`` entries, the finite values in
    ``(-inf, e0]``, ..., ``(e_last, inf)``; missing values are nulls and NaN.
    """
    cells = CellCounts(np.asarray(edges, dtype=np.float64), np.asarray(counts, dtype=np.int64))
    if cells.n + n_missing + n_infinite != n_total:
        raise ValueError(
            f"a numeric summary's counts add up to {cells.n + n_missing + n_infinite:,}, "
            f"not its {n_total:,} rows"
        )
    return PreparedColumn(
        n_total=n_total,
        n_missing=n_missing,
        n_infinite=n_infinite,
        cells=cells,
        form="counts",
    )


def categorical_summary(
    counts: Mapping[str, int],
    *,
    n_total: int,
    n_missing: int,
    max_categories: int = MAX_SUMMARY_CATEGORIES,
) -> PreparedColumn:
    """A categorical column's summary from category counts (keys as ``category_key`` writes them).

    Beyond ``max_categories`` categories the rarest (ties: the later keys)
    are counted together under ``OTHER``; so are the non-missing values that
    ``counts`` does not name (a database that returned the commonest only).

    >>> summary = categorical_summary({"a": 5, "b": 1, "c": 2}, n_total=9, n_missing=1,
    ...     max_categories=2)
    >>> summary.category_counts == {"a": 5, "c": 2, OTHER: 1}
    True
    """
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:max_categories])
    lumped = n_total - n_missing - sum(kept.values())
    if lumped < 0:
        raise ValueError(
            f"a categorical summary counts {sum(kept.values()):,} values, more than its "
            f"{n_total - n_missing:,} non-missing rows"
        )
    if lumped:
        kept[OTHER] = kept.get(OTHER, 0) + lumped
    return PreparedColumn(
        n_total=n_total,
        n_missing=n_missing,
        category_counts=dict(sorted(kept.items())),
        form="counts",
    )


def summarise_column(
    profile: ColumnProfile, current: pd.Series, *, max_categories: int = MAX_SUMMARY_CATEGORIES
) -> PreparedColumn:
    """The summary of ``current`` for ``profile``, from its rows: what a database must count.

    Values are cleaned as for a test on rows (``prepare_column``), so a
    column of unparsable text keeps its ``n_unparsable`` and is reported as
    invalid the same way.
    """
    prepared = prepare_column(profile, current)
    if profile.kind == "numeric":
        assert prepared.numeric is not None
        edges = summary_edges(profile)
        return PreparedColumn(
            n_total=prepared.n_total,
            n_missing=prepared.n_missing,
            n_infinite=prepared.n_infinite,
            n_unparsable=prepared.n_unparsable,
            unparsable_examples=prepared.unparsable_examples,
            cells=CellCounts(edges, bin_counts(edges, prepared.numeric)),
            form="counts",
        )
    counts = (prepared.category_counts or {}) if counts_categories(profile) else {}
    return categorical_summary(
        counts,
        n_total=prepared.n_total,
        n_missing=prepared.n_missing,
        max_categories=max_categories,
    )


def summarise_frame(profiles: Mapping[str, ColumnProfile], frame: pd.DataFrame) -> WindowSummary:
    """``summarise_column`` of every profiled column of ``frame``."""
    return WindowSummary(
        n_rows=len(frame),
        columns={
            name: summarise_column(profile, frame[name]) for name, profile in profiles.items()
        },
    )
