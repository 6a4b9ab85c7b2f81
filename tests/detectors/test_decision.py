"""Drift = significant AND large enough; noise floors; automatic choice; the dataset decision."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import detectors
from detectors.jensenshannon import jensen_shannon_distance
from detectors.psi import population_stability_index

# --- effect floors -----------------------------------------------------------


@pytest.fixture(scope="module")
def million_row_profile() -> detectors.ColumnProfile:
    rng = np.random.default_rng(10)
    return detectors.fit_profile(pd.Series(rng.normal(0, 1, 1_000_000), name="x"), "numeric")


def test_negligible_shift_on_a_million_rows_is_significant_but_not_drift(
    million_row_profile: detectors.ColumnProfile,
) -> None:
    current = pd.Series(np.random.default_rng(11).normal(0.01, 1, 1_000_000))
    result = detectors.compare_column(million_row_profile, current)
    assert result.method == "ks"
    assert result.p_value is not None and result.p_value < 0.05
    assert result.effect is not None and result.effect_floor == 0.04
    assert result.effect < 0.04
    assert not result.drifted
    assert result.reason.endswith(": significant but too small to call drift")
    assert "KS statistic" in result.reason and "< floor 0.04" in result.reason
    # Correction keeps the raw p-value and applies the same floor.
    (corrected,) = detectors.apply_correction([result])
    assert corrected.p_value == result.p_value and corrected.p_value_adjusted is not None
    assert not corrected.drifted
    assert corrected.reason.startswith("adjusted p-value ")
    assert corrected.reason.endswith("significant but too small to call drift")


def test_half_sigma_shift_on_a_million_rows_is_drift(
    million_row_profile: detectors.ColumnProfile,
) -> None:
    current = pd.Series(np.random.default_rng(12).normal(0.5, 1, 1_000_000))
    result = detectors.compare_column(million_row_profile, current)
    assert result.drifted and result.effect is not None and result.effect > 0.15
    assert "KS statistic" in result.reason and ">= floor 0.04" in result.reason
    (corrected,) = detectors.apply_correction([result])
    assert corrected.drifted


def ks_result(column: str, p_value: float, effect: float) -> detectors.ColumnResult:
    return detectors.ColumnResult(
        column=column,
        method="ks",
        statistic=effect,
        p_value=p_value,
        threshold=0.05,
        drifted=p_value < 0.05 and effect >= 0.04,
        n_reference=100,
        n_current=100,
        status="ok",
        reason="",
        effect=effect,
        effect_floor=0.04,
    )


def test_correction_combines_adjusted_p_value_with_effect_floor() -> None:
    results = detectors.apply_correction(
        [ks_result("big", 1e-6, 0.3), ks_result("tiny", 1e-6, 0.01), ks_result("noise", 0.5, 0.3)]
    )
    assert [r.drifted for r in results] == [True, False, False]
    assert results[0].reason.endswith("and KS statistic 0.3 >= floor 0.04")
    assert results[1].reason.endswith(
        "KS statistic 0.01 < floor 0.04: significant but too small to call drift"
    )
    assert results[2].reason.startswith("adjusted p-value 0.5 >= 0.05")
    assert results[2].reason.endswith("; KS statistic 0.3 (floor 0.04)")
    assert [r.p_value for r in results] == [1e-6, 1e-6, 0.5]
    assert json.loads(json.dumps(results[0].to_dict()))["effect_floor"] == 0.04


# --- noise floors -------------------------------------------------------------


def thousand_category_pair(seed: int) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(1000))
    reference = pd.Series(rng.choice(1000, 10_000, p=weights), name="merchant")
    return reference, pd.Series(rng.choice(1000, 10_000, p=weights))


@pytest.mark.parametrize("method", ["psi", "jensenshannon"])
def test_thousand_categories_with_ten_thousand_rows_and_no_drift_is_not_drift(method: str) -> None:
    reference, current = thousand_category_pair(21)
    profile = detectors.fit_profile(reference, "categorical")
    result = detectors.compare_column(profile, current, method=method)
    configured = detectors.get_method(method).default_threshold
    assert result.status == "ok" and not result.drifted
    assert result.details["configured_threshold"] == configured
    assert result.details["noise_floor"] is not None
    assert result.threshold == max(configured, result.details["noise_floor"])


@pytest.mark.parametrize("distance", [population_stability_index, jensen_shannon_distance])
def test_histogram_noise_floor_false_alarm_rate_is_about_one_percent(distance: object) -> None:
    """200 no-drift pairs, 1,000 categories, 2,000 rows: the floor is a 1% permutation test."""
    floor_of = detectors.histogram_noise_floor(distance)  # type: ignore[arg-type]
    alarms = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        weights = rng.dirichlet(np.ones(1000))
        profile = detectors.fit_profile(
            pd.Series(rng.choice(1000, 2000, p=weights), name="c"), "categorical"
        )
        current = detectors._prepare.prepare_categorical(
            pd.Series(rng.choice(1000, 2000, p=weights))
        )
        counts = detectors._histograms.histograms(profile, current)
        alarms += distance(counts.reference, counts.current) >= floor_of(profile, current, 0.01)  # type: ignore[operator]
    # Binomial(200, 0.01) exceeds 7 with probability < 0.001 (the floor is a 200-draw estimate).
    assert alarms <= 7


def test_noise_floor_shrinks_with_sample_size_and_binds_only_for_small_windows() -> None:
    rng = np.random.default_rng(4)
    profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, 20_000), name="x"), "numeric")
    small = detectors.compare_column(profile, pd.Series(rng.normal(0, 1, 50)), method="wasserstein")
    large = detectors.compare_column(
        profile, pd.Series(rng.normal(0, 1, 20_000)), method="wasserstein"
    )
    assert small.details["noise_floor"] > large.details["noise_floor"]
    assert small.threshold == small.details["noise_floor"] > 0.1
    assert "noise floor" in small.reason and "configured threshold 0.1" in small.reason
    assert large.threshold == 0.1 and "noise floor" not in large.reason
    assert not small.drifted and not large.drifted


def test_noise_floors_are_seeded() -> None:
    reference, current = thousand_category_pair(3)
    profile = detectors.fit_profile(reference, "categorical")
    first = detectors.compare_column(profile, current, method="psi")
    assert detectors.compare_column(profile, current, method="psi") == first


# --- automatic choice ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "n_reference", "n_current", "n_categories", "expected"),
    [
        ("numeric", 1_000_000, 100_000, None, "ks"),
        ("numeric", 20, 5, None, "ks"),
        ("categorical", 5_000, 300, 2, "fisher"),
        ("categorical", 5_000, 5_000, 2, "chi2"),
        ("categorical", 100_000, 10_000, 50, "chi2"),
        ("categorical", 1_000_000, 1_000_000, 1_000, "chi2"),
        ("categorical", 10_000, 2_000, 1_000, {"jensenshannon", "psi"}),
        ("categorical", 100, 100, None, "chi2"),
    ],
)
def test_choose_method_table(
    kind: detectors.ColumnKind,
    n_reference: int,
    n_current: int,
    n_categories: int | None,
    expected: str | set[str],
) -> None:
    chosen = detectors.choose_method(kind, n_reference, n_current, n_categories)
    assert chosen in (expected if isinstance(expected, set) else {expected})
    assert chosen in detectors.METHODS


def test_sparse_choice_prefers_jensenshannon_once_it_has_a_noise_floor() -> None:
    expected = "jensenshannon" if detectors.get_method("jensenshannon").noise_floor else "psi"
    assert detectors.choose_method("categorical", 10_000, 2_000, 1_000) == expected


def test_test_column_uses_the_choice() -> None:
    rng = np.random.default_rng(5)
    binary = detectors.fit_profile(pd.Series(rng.choice(["y", "n"], 200), name="b"), "categorical")
    assert (
        detectors.compare_column(binary, pd.Series(rng.choice(["y", "n"], 100))).method == "fisher"
    )
    assert (
        detectors.compare_column(
            binary, pd.Series(rng.choice(["y", "n"], 100)), method="chi2"
        ).method
        == "chi2"
    )


def test_choice_table_is_markdown_naming_every_chosen_method() -> None:
    table = detectors.choice_table()
    assert table.startswith("| kind | when | method | why |\n|---|---|---|---|\n")
    for name in ("`ks`", "`fisher`", "`chi2`", "`jensenshannon`"):
        assert name in table


def test_choose_method_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="kind"):
        detectors.choose_method("text", 10, 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        detectors.choose_method("numeric", -1, 10)


# --- dataset decision ----------------------------------------------------------


def column(
    name: str, drifted: bool, status: detectors.ResultStatus = "ok"
) -> detectors.ColumnResult:
    return detectors.ColumnResult(
        column=name,
        method="ks",
        statistic=None if status != "ok" else 0.2,
        p_value=None if status != "ok" else 0.001,
        threshold=0.05,
        drifted=drifted,
        n_reference=100,
        n_current=0 if status != "ok" else 100,
        status=status,
        reason="",
    )


MULTIVARIATE = detectors.ColumnResult(
    column="*",
    method="mmd",
    statistic=0.02,
    p_value=0.001,
    threshold=0.05,
    drifted=True,
    n_reference=1000,
    n_current=500,
    status="ok",
    reason="p-value 0.001 < 0.05",
)


def test_default_is_any_column() -> None:
    quiet = detectors.decide([column("a", False), column("b", False)])
    assert (quiet.drifted, quiet.fired, quiet.reason) == (
        False,
        (),
        "no drift: 0 of 2 columns drifted",
    )
    loud = detectors.decide([column("a", False), column("b", True)])
    assert loud.drifted and loud.fired == ("any_column",)
    assert loud.drifted_columns == ("b",) and loud.share_drifted == 0.5 and loud.n_columns == 2
    assert loud.reason == "drift: 1 of 2 columns drifted (b)"


def test_multivariate_alone_makes_the_run_drifted() -> None:
    decision = detectors.decide([column("a", False)], multivariate=MULTIVARIATE)
    assert decision.drifted and decision.fired == ("multivariate",)
    assert decision.multivariate_drifted is True
    assert (
        decision.reason
        == "drift: 0 of 1 columns drifted; multivariate mmd drifted (p-value 0.001 < 0.05)"
    )


def test_share_rule_is_opt_in_and_key_columns_always_decide() -> None:
    results = [column("a", True), column("b", False), column("c", False), column("d", True)]
    half = detectors.decide(results, rule="share", share=0.5)
    assert half.drifted and half.fired == ("share",)
    assert half.reason == "drift: drift share 0.5 >= 0.5 (2 of 4 columns drifted: a, d)"
    most = detectors.decide(results, rule="share", share=0.75)
    assert not most.drifted and most.reason.startswith("no drift: drift share 0.5 < 0.75")
    keyed = detectors.decide(results, rule="share", share=0.75, key_columns=["d", "b"])
    assert keyed.drifted and keyed.fired == ("key_column",) and keyed.key_columns_drifted == ("d",)
    assert keyed.reason.endswith("; key column d drifted")


def test_bad_data_columns_count_in_the_share_but_never_drift() -> None:
    decision = detectors.decide(
        [column("a", True), column("b", False, "empty")], rule="share", share=0.6
    )
    assert not decision.drifted and decision.share_drifted == 0.5


def test_decision_is_json_safe_and_frozen() -> None:
    decision = detectors.decide([column("a", True)], multivariate=MULTIVARIATE)
    assert json.loads(json.dumps(decision.to_dict()))["fired"] == ["any_column", "multivariate"]
    with pytest.raises(AttributeError):
        decision.drifted = False  # type: ignore[misc]


def test_no_columns() -> None:
    decision = detectors.decide([])
    assert not decision.drifted and decision.n_columns == 0 and decision.share_drifted == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rule": "majority"}, "unknown decision rule"),
        ({"rule": "share"}, "needs a share"),
        ({"rule": "share", "share": 1.5}, "needs a share"),
        ({"share": 0.5}, 'only used by rule="share"'),
        ({"key_columns": ["zzz"]}, r"key columns \['zzz'\] are not among"),
        ({"key_columns": "a"}, "sequence of column names"),
    ],
)
def test_bad_decision_arguments_raise(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        detectors.decide([column("a", True)], **kwargs)  # type: ignore[arg-type]
