"""Performance evaluation vs the drift tests of the same window (issue 12: at most 2x).

A window of DRIFTWARDEN_BENCH_PERFORMANCE_ROWS (default 100,000) rows:

(a) the typical drift test: its 25 columns (``run.make_frame``: 20 numeric,
    5 categorical) against stored column profiles, with the automatic method
    choice, Benjamini-Hochberg and the dataset decision;
(b) performance: a binary model's labels, predictions and scores against a
    stored performance profile, realized (``compare_performance``: accuracy,
    precision, recall, F1, ROC AUC, average precision) plus estimated
    (``estimate_performance``: CBPE's five).

Both references have as many rows as the window; profiles are fitted,
stored (``to_dict``/``to_bytes``) and reloaded before the clock starts, as
the daemon loads them. Each step is timed REPEATS times and the fastest is
kept (the least disturbed by other work on the machine).

    .venv/bin/python tests/benchmarks/performance.py
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from detectors import ColumnProfile  # noqa: E402
from detectors.performance import (  # noqa: E402
    PerformanceProfile,
    compare_performance,
    estimate_performance,
    fit_performance,
)
from tests.benchmarks.run import fit_all, make_frame, report  # noqa: E402

REPEATS = 5
TARGET = 2.0


def scored(seed: int, rows: int) -> pd.DataFrame:
    """A binary model's window as the daemon samples it: label, prediction and score columns."""
    rng = np.random.default_rng(seed)
    scores = 1 / (1 + np.exp(-(-1.0 + 2.5 * rng.normal(0, 1, rows))))
    return pd.DataFrame(
        {"label": rng.random(rows) < scores, "prediction": scores >= 0.5, "score": scores}
    )


def fastest(step: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rows = int(os.environ.get("DRIFTWARDEN_BENCH_PERFORMANCE_ROWS", "100000"))
    reference, current = make_frame(rows, seed=1, shift=0.0), make_frame(rows, seed=2, shift=0.05)
    stored = {name: json.dumps(p.to_dict()) for name, p in fit_all(reference).items()}
    columns = {name: ColumnProfile.from_dict(json.loads(d)) for name, d in stored.items()}
    fit_start = time.perf_counter()
    labelled = scored(3, rows)
    fitted = fit_performance(
        labelled["label"], labelled["prediction"], labelled["score"], task="classification"
    )
    fit_seconds = time.perf_counter() - fit_start
    performance = PerformanceProfile.from_bytes(fitted.to_bytes())
    window = scored(4, rows)
    truth, predicted, scores = window["label"], window["prediction"], window["score"]

    def evaluate() -> None:
        compare_performance(performance, truth, predicted, scores, level=1e-4)
        estimate_performance(performance, predicted, scores, level=1e-4)

    drift = fastest(lambda: report(columns, current))
    realized = fastest(
        lambda: compare_performance(performance, truth, predicted, scores, level=1e-4)
    )
    estimated = fastest(lambda: estimate_performance(performance, predicted, scores, level=1e-4))
    both = fastest(evaluate)
    ratio = both / drift
    print(f"window: {rows:,} rows; fastest of {REPEATS} runs each")
    print()
    print("| step | wall time (s) |")
    print("|---|---:|")
    print(f"| (a) drift tests, 25 columns, stored profiles | {drift:.3f} |")
    print(f"| (b) performance, realized (6 metrics) | {realized:.3f} |")
    print(f"| (b) performance, estimated (CBPE, 5 metrics) | {estimated:.3f} |")
    print(f"| (b) performance, realized + estimated | {both:.3f} |")
    print(f"| fit of the performance profile (once per reference) | {fit_seconds:.2f} |")
    print()
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"| ratio (b) / (a) | {ratio:.2f} ({verdict} the target <= {TARGET:g}) |")
    print("|---|---:|")


if __name__ == "__main__":
    main()
