"""Multiple-testing correction across the columns of a run."""

from __future__ import annotations

import pytest

import detectors


def p_result(column: str, p_value: float) -> detectors.ColumnResult:
    return detectors.ColumnResult(
        column=column,
        method="ks",
        statistic=0.2,
        p_value=p_value,
        threshold=0.05,
        drifted=p_value < 0.05,
        n_reference=100,
        n_current=50,
        status="ok",
        reason="raw",
    )


DISTANCE = detectors.ColumnResult(
    column="d",
    method="psi",
    statistic=0.3,
    p_value=None,
    threshold=0.2,
    drifted=True,
    n_reference=100,
    n_current=50,
    status="ok",
    reason="PSI 0.3 >= 0.2",
)
EMPTY = detectors.ColumnResult(
    column="e",
    method="ks",
    statistic=None,
    p_value=None,
    threshold=0.05,
    drifted=False,
    n_reference=100,
    n_current=0,
    status="empty",
    reason="current window is empty",
)


def test_bonferroni_and_holm_by_hand() -> None:
    inputs = [p_result("a", 0.01), p_result("b", 0.04), p_result("c", 0.03)]
    bonferroni = detectors.apply_correction(inputs, correction="bonferroni")
    assert [r.p_value_adjusted for r in bonferroni] == pytest.approx([0.03, 0.12, 0.09])
    assert [r.drifted for r in bonferroni] == [True, False, False]
    holm = detectors.apply_correction(inputs, correction="holm")
    assert [r.p_value_adjusted for r in holm] == pytest.approx([0.03, 0.06, 0.06])


def test_none_keeps_p_values_and_caps_at_one() -> None:
    results = detectors.apply_correction(
        [p_result("a", 0.01), p_result("b", 0.6)], correction="none"
    )
    assert [r.p_value_adjusted for r in results] == [0.01, 0.6]
    capped = detectors.apply_correction(
        [p_result("a", 0.6), p_result("b", 0.7)], correction="bonferroni"
    )
    assert [r.p_value_adjusted for r in capped] == [1.0, 1.0]


def test_distances_and_bad_data_pass_through_unchanged_and_order_is_kept() -> None:
    inputs = [DISTANCE, p_result("a", 0.02), EMPTY, p_result("b", 0.03)]
    results = detectors.apply_correction(inputs, alpha=0.05)
    assert results[0] is DISTANCE and results[2] is EMPTY
    assert [r.column for r in results] == ["d", "a", "e", "b"]
    assert results[1].p_value_adjusted == pytest.approx(0.03)
    assert results[1].drifted and results[1].threshold == 0.05
    assert results[1].reason == ("adjusted p-value 0.03 < 0.05 (bh over 2 tests; raw p-value 0.02)")
    assert inputs[1].p_value_adjusted is None and inputs[1].reason == "raw"


def test_correction_can_clear_a_raw_detection() -> None:
    results = detectors.apply_correction(
        [p_result(str(i), 0.04) for i in range(3)] + [p_result("z", 0.9)]
    )
    assert not any(r.drifted for r in results)
    assert results[0].reason.startswith("adjusted p-value 0.05333 >= 0.05")


def test_no_p_values_at_all() -> None:
    assert detectors.apply_correction([DISTANCE]) == [DISTANCE]
    assert detectors.apply_correction([]) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"correction": "fdr"}, "unknown correction"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        detectors.apply_correction([p_result("a", 0.1)], **kwargs)  # type: ignore[arg-type]


def test_result_rejects_nan_and_drifted_bad_data() -> None:
    with pytest.raises(ValueError, match="finite"):
        p_result("a", float("nan"))
    with pytest.raises(ValueError, match="cannot be drifted"):
        detectors.ColumnResult(
            column="x",
            method="ks",
            statistic=None,
            p_value=None,
            threshold=0.05,
            drifted=True,
            n_reference=0,
            n_current=0,
            status="empty",
            reason="",
        )
