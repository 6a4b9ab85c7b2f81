"""What a result says about the form its window was tested in.

A window tested in the "counts" form (``detectors.window_summary``) says so:
its result's details carry ``form = "counts"`` and ``resolution`` (the cells
or categories counted) and its reason ends with a sentence naming them, so
nobody reads a test on a sketch as a test on rows (a result without
``form`` was tested on rows). A categorical summary
that hit its limit of categories counted the rarest ones together; the
reference is then counted the same way (``counted_profile``), so both sides
of the table have the same categories.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from detectors._categories import OTHER
from detectors._prepare import PreparedColumn
from detectors.profile import ColumnProfile


def form_details(current: PreparedColumn) -> dict[str, Any]:
    """For counts: ``form``, ``resolution`` and what it counts (cells or categories); rows: none.

    >>> counts = {"a": 3}
    >>> form_details(PreparedColumn(n_total=3, n_missing=0, category_counts=counts))
    {}
    >>> form_details(PreparedColumn(n_total=3, n_missing=0, category_counts=counts, form="counts"))
    {'form': 'counts', 'resolution': 1, 'resolution_of': 'categories'}
    """
    if current.form == "rows":
        return {}
    if current.cells is not None:
        return {
            "form": "counts",
            "resolution": int(current.cells.counts.size),
            "resolution_of": "reference-quantile cells",
        }
    counts = current.category_counts or {}
    details: dict[str, Any] = {
        "form": "counts",
        "resolution": len(counts),
        "resolution_of": "categories",
    }
    if OTHER in counts:
        details["lumped_rows"] = int(counts[OTHER])
    return details


def form_sentence(details: Mapping[str, Any], n_current: int) -> str:
    """The sentence a reason ends with when its window was tested as counts, else "".

    Read off the result's details (``form_details``), so that a reason
    rewritten later (``detectors.correction``) ends with it too.

    >>> form_sentence({"form": "counts", "resolution": 1001,
    ...     "resolution_of": "reference-quantile cells"}, 20_000)
    "; tested on a sketch: the window's 20,000 values counted in 1,001 reference-quantile cells"
    """
    if details.get("form") != "counts":
        return ""
    resolution = int(details["resolution"])
    if details.get("resolution_of") != "categories":
        return (
            f"; tested on a sketch: the window's {n_current:,} values counted in "
            f"{resolution:,} {details.get('resolution_of')}"
        )
    if "lumped_rows" in details:
        return (
            f"; tested on the window's category counts: the {resolution - 1:,} commonest "
            f"categories, the other {int(details['lumped_rows']):,} rows counted together on "
            "both sides"
        )
    return f"; tested on the window's exact counts of {resolution:,} categories"


def counted_profile(profile: ColumnProfile, current: PreparedColumn) -> ColumnProfile:
    """The profile to test ``current`` against: with the same categories lumped as the window.

    Only a categorical summary over its category limit lumps (under
    ``OTHER``); every reference category it does not name is then counted
    under ``OTHER`` too.

    >>> profile = ColumnProfile(column="c", kind="categorical", n=6, n_missing=0,
    ...     category_counts={"a": 3, "b": 2, "c": 1})
    >>> window = PreparedColumn(n_total=4, n_missing=0, form="counts",
    ...     category_counts={"a": 3, OTHER: 1})
    >>> counted_profile(profile, window).category_counts == {"a": 3, OTHER: 3}
    True
    """
    counts = current.category_counts
    if current.form != "counts" or counts is None or OTHER not in counts:
        return profile
    reference = profile.category_counts or {}
    kept = {category: n for category, n in reference.items() if category in counts}
    lumped = sum(n for category, n in reference.items() if category not in counts)
    return dataclasses.replace(profile, category_counts={**kept, OTHER: lumped})
