"""Power table: detection rate of mean shifts for the numeric methods (not a pytest test).

Run: `.venv/bin/python tests/benchmarks/power.py` (prints a Markdown table).

For every numeric method in the registry, shift sizes 0.1 and 0.25 sd and
n = 1k, 10k, 100k rows per side (reference and current of the same size,
standard normal, the current's mean shifted), the share of TRIALS seeded
trials (default 50, DRIFTWARDEN_POWER_TRIALS) in which ``compare_column`` calls
the column drifted with the method's defaults: p < 0.05 AND effect >= the
method's effect floor for p-value tests, distance >= max(threshold, noise
floor) for distances. No multiple-testing correction (one column).

Floors are meant to be visible here: the numeric floors sit at the effect of
a 0.1 sd shift, so 0.1 sd is detected about half the time or less however
large the window, while 0.25 sd is always detected once the p-value allows.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

import detectors

SHIFTS = (0.1, 0.25)
SIZES = (1_000, 10_000, 100_000)


def detection_rate(method: str, shift: float, n: int, trials: int) -> float:
    hits = 0
    for trial in range(trials):
        rng = np.random.default_rng([n, int(shift * 1000), trial])
        profile = detectors.fit_profile(pd.Series(rng.normal(0, 1, n), name="x"), "numeric")
        result = detectors.compare_column(
            profile, pd.Series(rng.normal(shift, 1, n)), method=method
        )
        hits += result.drifted
    return hits / trials


def main() -> None:
    trials = int(os.environ.get("DRIFTWARDEN_POWER_TRIALS", "50"))
    methods = sorted(name for name, spec in detectors.METHODS.items() if "numeric" in spec.kinds)
    columns = [(shift, n) for shift in SHIFTS for n in SIZES]
    header = " | ".join(f"{shift:g} sd, n={n:,}" for shift, n in columns)
    print(f"Detection rate over {trials} seeded trials per cell (reference and current of n rows).")
    print()
    print(f"| method | floor | {header} |")
    print("|---|---|" + "---:|" * len(columns))
    start = time.perf_counter()
    for method in methods:
        spec = detectors.get_method(method)
        floor = (
            f"{spec.effect_name} {spec.effect_floor:g}"
            if spec.has_p_value and spec.effect_floor is not None
            else (f"max({spec.default_threshold:g}, noise)" if not spec.has_p_value else "none")
        )
        rates = [detection_rate(method, shift, n, trials) for shift, n in columns]
        print(f"| {method} | {floor} | " + " | ".join(f"{rate:.0%}" for rate in rates) + " |")
    print()
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
