"""The statuses ``compare_column`` gives before any method runs: "identifier" and "constant".

The other statuses (empty, all_missing, invalid_values, insufficient_data)
are covered for every method in ``test_detectors_contract.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import detectors
from detectors.column import IDENTIFIER_DISTINCT_SHARE, IDENTIFIER_MIN_VALUES

CASES = [(name, kind) for name, spec in detectors.METHODS.items() for kind in sorted(spec.kinds)]
CASE_IDS = [f"{name}-{kind}" for name, kind in CASES]
CATEGORICAL = sorted(
    name for name, spec in detectors.METHODS.items() if "categorical" in spec.kinds
)


@pytest.mark.parametrize("method", CATEGORICAL)
def test_all_distinct_strings_are_an_identifier(method: str) -> None:
    reference = pd.Series([f"user-{i:05d}" for i in range(10_000)], name="user_id")
    profile = detectors.fit_profile(reference, "categorical")
    current = pd.Series([f"user-{i:05d}" for i in range(20_000, 21_000)])
    result = detectors.compare_column(profile, current, method=method)
    assert (result.status, result.drifted) == ("identifier", False)
    assert result.statistic is None and result.p_value is None and result.effect is None
    assert result.reason == (
        "'user_id' looks like an identifier: 10,000 distinct values in 10,000 reference rows; "
        "not tested for drift"
    )
    json.dumps(result.to_dict(), allow_nan=False)


def test_timestamps_stored_as_text_with_a_few_repeats_are_an_identifier() -> None:
    stamps = pd.date_range("2026-01-01", periods=9_900, freq="s").astype(str).tolist()
    reference = pd.Series(stamps + stamps[:100], name="created_at")  # 99% distinct
    profile = detectors.fit_profile(reference, "categorical")
    result = detectors.compare_column(profile, pd.Series(stamps[:50]))
    assert result.status == "identifier"
    assert "9,900 distinct values in 10,000 reference rows" in result.reason


def test_the_identifier_rule_boundaries() -> None:
    # Below the minimum size every small reference would look like an identifier.
    small = pd.Series(list("abcdefghij"), name="c")
    result = detectors.compare_column(detectors.fit_profile(small, "categorical"), small)
    assert result.status == "ok"
    # Just under the distinct share: tested as usual.
    n = 100
    distinct = int(IDENTIFIER_DISTINCT_SHARE * n) - 1
    values = [f"v{i}" for i in range(distinct)] + ["v0"] * (n - distinct)
    reference = pd.Series(values, name="c")
    assert n >= IDENTIFIER_MIN_VALUES
    result = detectors.compare_column(
        detectors.fit_profile(reference, "categorical"), reference, method="psi"
    )
    assert result.status == "ok"
    # A numeric column of distinct values is a measurement, not an identifier.
    numeric = pd.Series(np.arange(1000.0), name="amount")
    result = detectors.compare_column(detectors.fit_profile(numeric, "numeric"), numeric)
    assert result.status == "ok"


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_one_and_the_same_value_on_both_sides_is_constant(
    method: str, kind: detectors.ColumnKind
) -> None:
    value: object = 3.0 if kind == "numeric" else "on"
    profile = detectors.fit_profile(pd.Series([value] * 50 + [None] * 3, name="flag"), kind)
    result = detectors.compare_column(profile, pd.Series([value] * 20), method=method)
    assert (result.status, result.drifted) == ("constant", False)
    shown = "3" if kind == "numeric" else "on"
    assert result.reason == (
        f"'flag' holds one and the same value ({shown}) in all 50 reference and 20 current "
        "values; nothing to test"
    )
    assert result.effect is None and result.statistic is None


@pytest.mark.parametrize(("method", "kind"), CASES, ids=CASE_IDS)
def test_a_constant_reference_with_new_values_is_tested(
    method: str, kind: detectors.ColumnKind
) -> None:
    """New values after a constant reference are a real change: every method gives a
    defined, drifted result (no division by zero, no "constant" status)."""
    if kind == "numeric":
        profile = detectors.fit_profile(pd.Series([3.0] * 200, name="flag"), "numeric")
        currents = [pd.Series([5.0] * 100), pd.Series([3.0] * 50 + [5.0] * 50)]
    else:
        profile = detectors.fit_profile(pd.Series(["on"] * 200, name="flag"), "categorical")
        currents = [pd.Series(["off"] * 100), pd.Series(["on"] * 50 + ["off"] * 50)]
    for current in currents:
        result = detectors.compare_column(profile, current, method=method)
        assert result.status == "ok", result.reason
        assert result.drifted, result.reason
        json.dumps(result.to_dict(), allow_nan=False)


def test_every_status_is_a_known_literal() -> None:
    from typing import get_args

    assert {"identifier", "constant"} <= set(get_args(detectors.ResultStatus))
