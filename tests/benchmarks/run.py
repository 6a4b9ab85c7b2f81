"""Detector speed: driftwarden's column-wise report vs. a plain scipy loop vs. sorting alone.

Run with `make bench`. Prints wall times and ratios measured in this one run;
never used as a pass/fail test. Sizes: DRIFTWARDEN_BENCH_ROWS (default
1,000,000) rows of 20 numeric columns (1% missing) and 5 categorical
columns (3 to 1,000 categories), seeded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from detectors import apply_correction, fit_profile, test_column

N_NUMERIC = 20
CATEGORY_COUNTS = (3, 10, 50, 200, 1000)


def make_frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for index in range(N_NUMERIC):
        values = rng.normal(shift if index < 2 else 0.0, 1.0, rows)
        values[rng.random(rows) < 0.01] = np.nan
        columns[f"num_{index}"] = values
    for count in CATEGORY_COUNTS:
        weights = rng.dirichlet(np.ones(count))
        columns[f"cat_{count}"] = pd.Categorical(rng.choice(count, rows, p=weights).astype(str))
    return pd.DataFrame(columns)


def kind_of(name: str) -> str:
    return "numeric" if name.startswith("num_") else "categorical"


def timed(label: str, action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    print(f"  {label:<44} {seconds:8.2f} s")
    return seconds


def main() -> None:
    rows = int(os.environ.get("DRIFTWARDEN_BENCH_ROWS", "1000000"))
    print(f"reference and current: {rows:,} rows x {N_NUMERIC + len(CATEGORY_COUNTS)} columns")
    reference = make_frame(rows, seed=1, shift=0.0)
    current = make_frame(rows, seed=2, shift=0.05)
    names = list(reference.columns)
    profiles: dict[str, object] = {}

    def fit() -> None:
        for name in names:
            profiles[name] = fit_profile(reference[name], kind_of(name))  # type: ignore[arg-type]

    def test_against_profiles() -> None:
        apply_correction([test_column(profiles[n], current[n]) for n in names])  # type: ignore[arg-type]

    def scipy_loop() -> None:
        for name in names:
            ref, cur = reference[name], current[name]
            if kind_of(name) == "numeric":
                stats.ks_2samp(ref.dropna().to_numpy(), cur.dropna().to_numpy())
            else:
                table = pd.crosstab(
                    pd.concat([ref, cur], ignore_index=True).astype(str),
                    np.repeat([0, 1], [len(ref), len(cur)]),
                )
                stats.chi2_contingency(table.to_numpy(), correction=False)

    def sort_floor() -> None:
        for name in names[:N_NUMERIC]:
            np.sort(reference[name].to_numpy())
            np.sort(current[name].to_numpy())

    fit_seconds = timed("driftwarden fit (reference profiles)", fit)
    test_seconds = timed("driftwarden test against stored profiles", test_against_profiles)
    scipy_seconds = timed("plain scipy.stats loop (ks_2samp, chi2)", scipy_loop)
    floor_seconds = timed("floor: np.sort of every numeric column", sort_floor)
    report = fit_seconds + test_seconds
    print(f"  ratio report (fit+test) / scipy loop       {report / scipy_seconds:8.2f}")
    print(f"  ratio report (fit+test) / sort floor       {report / floor_seconds:8.2f}")
    print(f"  ratio test alone / fit                     {test_seconds / fit_seconds:8.2f}")


if __name__ == "__main__":
    main()
