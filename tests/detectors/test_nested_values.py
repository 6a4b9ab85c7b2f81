"""Columns of lists, structs or bytes are refused by name: no test can compare them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from detectors import compare_column, fit_profile

REFUSED = "drift tests compare numbers, strings and booleans only"


@pytest.mark.parametrize(
    ("values", "held"),
    [
        ([[1, 2], [3]], "list values (list)"),
        ([np.array([1, 2]), np.array([3])], "list values (numpy.ndarray)"),
        ([(1, 2), (3,)], "list values (tuple)"),
        ([{"a": 1}, {"a": 2}], "struct values (dict)"),
        ([b"a", b"b"], "bytes values (bytes)"),
        (["a", None, [1]], "list values (list)"),
        ([1, b"b"], "bytes values (bytes)"),
    ],
)
@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_nested_values_are_refused_naming_the_column_and_type(
    values: list[object], held: str, kind: str
) -> None:
    column = pd.Series(values * 10, name="tags", dtype=object)
    with pytest.raises(ValueError) as fitting:
        fit_profile(column, kind)  # type: ignore[arg-type]
    assert str(fitting.value) == f"column 'tags' holds {held}; {REFUSED}"
    reference = fit_profile(pd.Series(["a", "b"] * 10, name="tags"), "categorical")
    with pytest.raises(
        ValueError, match=f"^column 'tags' holds {held.replace('(', '.').replace(')', '.')}"
    ):
        compare_column(reference, column)


def test_an_arrow_list_column_is_refused_by_its_type() -> None:
    column = pd.Series(
        pd.array([[1], [2, 3]] * 10, dtype=pd.ArrowDtype(pa.list_(pa.int64()))), name="tags"
    )
    with pytest.raises(ValueError) as raised:
        fit_profile(column, "categorical")
    assert str(raised.value) == f"column 'tags' has the type list<item: int64>; {REFUSED}"


@pytest.mark.parametrize(
    "values", [["a", None, "b"], [1, 2.5, None], ["a", 1, 2.5], [True, False], ["x", pd.NA]]
)
def test_object_columns_of_scalars_are_tested(values: list[object]) -> None:
    column = pd.Series(values * 10, name="c", dtype=object)
    profile = fit_profile(column, "categorical")
    assert compare_column(profile, column).drifted is False
