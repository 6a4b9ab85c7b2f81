"""Windows summarised as counts: which methods take them, exactness, calibration, agreement."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import detectors
from detectors import compare_prepared, fit_profile, prepare_column
from detectors._categories import OTHER
from detectors.choice import choose_method
from detectors.sequential import sketch_prepared
from detectors.window_summary import (
    MAX_SUMMARY_CATEGORIES,
    SUMMARY_CELLS,
    categorical_summary,
    numeric_summary,
    summarise_column,
    summarise_frame,
    summary_edges,
)
from tests.detectors.test_detectors_contract import BINARY_ONLY, reference_series, shifted_series

COUNTS_METHODS = {"ks", "chi2", "gtest", "fisher", "ztest", "psi", "jensenshannon"} | {
    "hellinger",
    "kl",
    "linf",
    "tv",
}
CASES = [(name, kind) for name, spec in detectors.METHODS.items() for kind in sorted(spec.kinds)]
COUNTS_CASES = [case for case in CASES if "counts" in detectors.METHODS[case[0]].forms]
ROWS_ONLY_CASES = [case for case in CASES if "counts" not in detectors.METHODS[case[0]].forms]


def test_the_registry_states_which_methods_accept_counts() -> None:
    accepting = {name for name, spec in detectors.METHODS.items() if "counts" in spec.forms}
    assert accepting == COUNTS_METHODS
    assert all("rows" in spec.forms for spec in detectors.METHODS.values())


@pytest.mark.parametrize(
    ("method", "kind"), COUNTS_CASES, ids=[f"{m}-{k}" for m, k in COUNTS_CASES]
)
def test_a_summary_is_tested_and_says_so(method: str, kind: detectors.ColumnKind) -> None:
    profile = fit_profile(reference_series(kind, method), kind)
    same = compare_prepared(
        profile, summarise_column(profile, reference_series(kind, method)), method=method
    )
    shifted = compare_prepared(
        profile, summarise_column(profile, shifted_series(kind, method)), method=method
    )
    assert (same.status, same.drifted, shifted.status, shifted.drifted) == ("ok", False, "ok", True)
    for result in (same, shifted):
        assert result.details["form"] == "counts"
        if kind == "numeric":
            assert result.details["resolution"] == summary_edges(profile).size + 1
            assert result.reason.endswith(
                f"; tested on a sketch: the window's {result.n_current:,} values counted in "
                f"{result.details['resolution']:,} reference-quantile cells"
            )
        else:
            categories = 2 if method in BINARY_ONLY else 3
            assert result.details["resolution"] == categories
            assert result.reason.endswith(
                f"; tested on the window's exact counts of {categories} categories"
            )


@pytest.mark.parametrize(
    ("method", "kind"), ROWS_ONLY_CASES, ids=[f"{m}-{k}" for m, k in ROWS_ONLY_CASES]
)
def test_a_method_that_needs_rows_refuses_a_summary(
    method: str, kind: detectors.ColumnKind
) -> None:
    profile = fit_profile(reference_series(kind), kind)
    with pytest.raises(ValueError) as raised:
        compare_prepared(profile, summarise_column(profile, reference_series(kind)), method=method)
    assert str(raised.value) == (
        f"method '{method}' needs the window's rows and cannot test column 'feature' summarised "
        "as counts; methods that can: hellinger, jensenshannon, kl, ks, psi"
    )


@pytest.mark.parametrize("method", ["psi", "jensenshannon", "hellinger", "kl"])
def test_binned_distances_of_a_summary_equal_those_of_the_rows(method: str) -> None:
    rng = np.random.default_rng(11)
    profile = fit_profile(pd.Series(rng.gamma(2.0, 1.0, 30_000), name="x"), "numeric")
    current = pd.Series(np.concatenate([rng.gamma(2.2, 1.0, 5_000), [np.nan, np.inf]]))
    rows = compare_prepared(profile, prepare_column(profile, current), method=method)
    counts = compare_prepared(profile, summarise_column(profile, current), method=method)
    assert counts.statistic == rows.statistic
    assert counts.threshold == rows.threshold
    assert counts.drifted == rows.drifted
    assert counts.details["current_counts"] == rows.details["current_counts"]
    assert counts.details["n_infinite_current"] == rows.details["n_infinite_current"] == 1
    assert counts.details["n_missing_current"] == rows.details["n_missing_current"] == 1


@pytest.mark.parametrize("method", sorted(COUNTS_METHODS - {"ks", "fisher", "ztest"}))
def test_categorical_tests_of_a_summary_equal_those_of_the_rows(method: str) -> None:
    profile = fit_profile(reference_series("categorical"), "categorical")
    current = shifted_series("categorical")
    rows = compare_prepared(profile, prepare_column(profile, current), method=method)
    counts = compare_prepared(profile, summarise_column(profile, current), method=method)
    assert (counts.statistic, counts.p_value, counts.drifted) == (
        rows.statistic,
        rows.p_value,
        rows.drifted,
    )


def test_ks_at_the_cell_edges_is_never_above_the_exact_statistic() -> None:
    rng = np.random.default_rng(5)
    profile = fit_profile(pd.Series(rng.normal(0, 1, 20_000), name="x"), "numeric")
    for shift in (0.0, 0.02, 0.1, 0.5):
        current = pd.Series(rng.normal(shift, 1, 3_000))
        rows = compare_prepared(profile, prepare_column(profile, current), method="ks")
        counts = compare_prepared(profile, summarise_column(profile, current), method="ks")
        assert rows.statistic is not None and counts.statistic is not None
        assert rows.p_value is not None and counts.p_value is not None
        assert counts.statistic <= rows.statistic
        assert rows.statistic - counts.statistic < 2 / SUMMARY_CELLS
        assert counts.p_value >= rows.p_value
        assert counts.details["statistic_at"] == "cell edges"


@pytest.mark.parametrize("level", [0.05, 0.01])
def test_ks_on_counts_keeps_its_false_alarm_rate(level: float) -> None:
    """1,000 seeded no-drift pairs (5,000 reference, 2,000 current rows) at ``level``.

    The rate may be below the level (KS of discrete counts errs on the safe
    side) but never above the upper end of its 99.9 % binomial interval
    (0.074 at 0.05, 0.022 at 0.01). Measured: 0.040 at 0.05 and 0.010 at
    0.01 (the same pairs on rows: 0.042 and 0.012).
    """
    rng = np.random.default_rng(2024)
    trials, alarms = 1_000, 0
    for _ in range(trials):
        profile = fit_profile(pd.Series(rng.normal(0, 1, 5_000), name="x"), "numeric")
        summary = summarise_column(profile, pd.Series(rng.normal(0, 1, 2_000)))
        result = compare_prepared(profile, summary, method="ks", threshold=level, effect_floor=0)
        alarms += result.drifted
    upper = stats.binom.ppf(0.9995, trials, level) / trials
    assert alarms / trials <= upper


def test_verdicts_on_counts_agree_with_verdicts_on_rows() -> None:
    """Clear shifts (0.5 sd, or shares moved by 0.2) and no shifts, default methods and levels.

    Measured: 399 of 400 agree; the one that does not is a no-drift window
    that rows call drifted at a p-value just under 0.05 and counts do not (a
    count test never sees more than its rows).
    """
    rng = np.random.default_rng(99)
    agree, total, disagreeing = 0, 0, []
    for kind in ("numeric", "categorical"):
        for shift in (0.0, 0.5):
            for _ in range(100):
                if kind == "numeric":
                    reference = pd.Series(rng.normal(0, 1, 20_000), name="x")
                    current = pd.Series(rng.normal(shift, 1, 1_000))
                else:
                    shares = np.array([0.5, 0.3, 0.2])
                    moved = shares + shift * np.array([-0.4, 0.1, 0.3])
                    reference = pd.Series(rng.choice(list("abc"), 20_000, p=shares), name="x")
                    current = pd.Series(rng.choice(list("abc"), 1_000, p=moved))
                profile = fit_profile(reference, kind)
                on_rows = compare_prepared(profile, prepare_column(profile, current))
                on_counts = compare_prepared(profile, summarise_column(profile, current))
                assert on_counts.method == on_rows.method
                agree += on_counts.drifted == on_rows.drifted
                total += 1
                if on_counts.drifted != on_rows.drifted:
                    disagreeing.append((kind, shift, on_rows.drifted, on_counts.drifted))
    assert (agree, total) == (399, 400)
    assert disagreeing == [("numeric", 0.0, True, False)]


def test_the_automatic_choice_picks_a_method_that_accepts_the_form() -> None:
    assert choose_method("numeric", 10_000, 1_000, form="counts") == "ks"
    assert choose_method("categorical", 5_000, 300, n_categories=2, form="counts") == "fisher"
    assert choose_method("categorical", 10_000, 2_000, 1_000, form="counts") == "jensenshannon"
    assert choose_method("categorical", 10**6, 10**5, 10, form="counts") == "chi2"


def test_summary_edges_hold_the_bins_and_the_sketch_grid() -> None:
    rng = np.random.default_rng(3)
    profile = fit_profile(pd.Series(rng.normal(0, 1, 100_000), name="x"), "numeric")
    edges = summary_edges(profile)
    assert edges.size >= SUMMARY_CELLS - 1
    assert bool(np.all(np.diff(edges) > 0))
    assert profile.bin_edges is not None
    assert bool(np.all(np.isin(profile.bin_edges, edges)))
    discrete = fit_profile(pd.Series(rng.integers(0, 4, 10_000), name="d"), "numeric")
    assert summary_edges(discrete).tolist() == [0.0, 1.0, 2.0, 3.0]


def test_a_pooled_sketch_of_a_summary_is_the_sketch_of_its_rows() -> None:
    rng = np.random.default_rng(8)
    profile = fit_profile(pd.Series(rng.normal(0, 1, 20_000), name="x"), "numeric")
    current = pd.Series(rng.normal(0.1, 1, 4_000))
    from_rows = sketch_prepared(profile, prepare_column(profile, current))
    from_counts = sketch_prepared(profile, summarise_column(profile, current))
    assert from_rows.counts is not None and from_counts.counts is not None
    assert from_counts.counts.tolist() == from_rows.counts.tolist()


def test_a_constant_column_summarised_is_constant() -> None:
    profile = fit_profile(pd.Series([3.0] * 50, name="x"), "numeric")
    result = compare_prepared(profile, summarise_column(profile, pd.Series([3.0] * 20)))
    assert result.status == "constant"
    moved = compare_prepared(profile, summarise_column(profile, pd.Series([3.0] * 10 + [4.0] * 10)))
    assert moved.status == "ok"
    assert moved.drifted


def test_categories_beyond_the_limit_are_counted_together_on_both_sides() -> None:
    rng = np.random.default_rng(6)
    names = [f"m{i:03d}" for i in range(300)]
    weights = rng.dirichlet(np.ones(300))
    profile = fit_profile(pd.Series(rng.choice(names, 30_000, p=weights), name="m"), "categorical")
    current = pd.Series(rng.choice(names, 5_000, p=weights))
    summary = summarise_column(profile, current, max_categories=50)
    counts = summary.category_counts
    assert counts is not None and len(counts) == 51
    assert sum(counts.values()) == 5_000
    result = compare_prepared(profile, summary, method="chi2")
    assert result.status == "ok"
    assert not result.drifted
    assert result.details["lumped_rows"] == counts[OTHER]
    assert set(result.details["reference_counts"]) == set(counts)
    assert "the 50 commonest categories" in result.reason
    assert MAX_SUMMARY_CATEGORIES >= 10_000


def test_an_identifier_summary_counts_no_categories() -> None:
    profile = fit_profile(pd.Series([f"id{i}" for i in range(1_000)], name="user"), "categorical")
    summary = summarise_column(profile, pd.Series([f"new{i}" for i in range(400)] + [None]))
    assert summary.category_counts == {OTHER: 400}
    assert compare_prepared(profile, summary).status == "identifier"


def test_summaries_from_elsewhere_must_add_up() -> None:
    edges = np.array([0.0, 1.0])
    column = numeric_summary(edges, np.array([1, 2, 3]), n_total=8, n_missing=1, n_infinite=1)
    assert (column.n_usable, column.form) == (6, "counts")
    with pytest.raises(ValueError, match="add up to 7, not its 8 rows"):
        numeric_summary(edges, np.array([1, 2, 3]), n_total=8, n_missing=1, n_infinite=0)
    with pytest.raises(ValueError, match="more than its 2 non-missing rows"):
        categorical_summary({"a": 3}, n_total=3, n_missing=1)


def test_a_frame_summary_has_every_column_and_the_window_size() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, math.nan], "c": ["a", "b", "a"]})
    profiles = {
        "x": fit_profile(pd.Series([1.0, 2.0, 3.0], name="x"), "numeric"),
        "c": fit_profile(pd.Series(["a", "b"], name="c"), "categorical"),
    }
    summary = summarise_frame(profiles, frame)
    assert len(summary) == 3
    assert summary.columns["x"].n_missing == 1
    assert summary.columns["c"].category_counts == {"a": 2, "b": 1}
