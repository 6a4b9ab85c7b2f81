"""Detector speed and memory: driftwarden's default report vs. a plain scipy loop vs. sorting alone.

Run with `make bench`. Prints one table measured in this run; never a pass/fail test.

Data (issue 4): reference and current of DRIFTWARDEN_BENCH_ROWS (default
1,000,000) rows x 25 columns, seeded: 20 numeric columns (1% missing, two of
them shifted by 0.05 sd in the current) and 5 categorical columns with 3,
10, 50, 200 and 1,000 categories.

Measured, each in a fresh subprocess so that one measurement's memory does
not leak into the next:

(a) driftwarden's default column-wise report: fit every reference profile and
    test every current column with the automatic method choice, then
    Benjamini-Hochberg and the dataset decision ("fit + test"); and the test
    alone against stored profiles (profiles fitted, serialised with to_dict
    and rebuilt before the clock starts, as the daemon loads them);
(b) a plain loop of scipy.stats per column: ks_2samp on the non-missing
    values, chi2_contingency on a crosstab of the categories;
(c) the floor: np.sort of every numeric column of both frames.

Wall time is time.perf_counter around the step. Memory is the process's
peak resident set size (getrusage), which includes the interpreter, the
libraries and the two frames; "peak RSS / frames" compares it with the two
frames' own size (target: <= 2). tracemalloc is not used: tracing every
allocation would slow the step being timed.

Then the monitor-level false-alarm rate of the default decision over
DRIFTWARDEN_BENCH_PAIRS (default 200) seeded no-drift pairs of 25 columns
with DRIFTWARDEN_BENCH_PAIR_ROWS (default 10,000) rows per side.

Then `driftwarden backtest` over 720 hourly slots (tests/benchmarks/backtest.py),
against its 60 s target, and last performance evaluation (realized + estimated)
of a 100,000-row window against the drift tests of the same window
(tests/benchmarks/performance.py), against its 2x target.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from detectors import (
    ColumnKind,
    ColumnProfile,
    apply_correction,
    compare_column,
    decide,
    fit_profile,
)

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
        weights = np.random.default_rng(1000 + count).dirichlet(np.ones(count))
        columns[f"cat_{count}"] = pd.Categorical(rng.choice(count, rows, p=weights).astype(str))
    return pd.DataFrame(columns)


def kind_of(name: str) -> ColumnKind:
    return "numeric" if name.startswith("num_") else "categorical"


def fit_all(reference: pd.DataFrame) -> dict[str, ColumnProfile]:
    return {name: fit_profile(reference[name], kind_of(name)) for name in reference.columns}


def report(profiles: dict[str, ColumnProfile], current: pd.DataFrame) -> bool:
    results = [compare_column(profiles[name], current[name]) for name in current.columns]
    return decide(apply_correction(results)).drifted


def scipy_loop(reference: pd.DataFrame, current: pd.DataFrame) -> None:
    for name in reference.columns:
        ref, cur = reference[name], current[name]
        if kind_of(name) == "numeric":
            stats.ks_2samp(ref.dropna().to_numpy(), cur.dropna().to_numpy())
        else:
            table = pd.crosstab(
                pd.concat([ref, cur], ignore_index=True).astype(str),
                np.repeat([0, 1], [len(ref), len(cur)]),
            )
            stats.chi2_contingency(table.to_numpy(), correction=False)


def sort_floor(reference: pd.DataFrame, current: pd.DataFrame) -> None:
    for name in list(reference.columns)[:N_NUMERIC]:
        np.sort(reference[name].to_numpy())
        np.sort(current[name].to_numpy())


def sort_current_floor(current: pd.DataFrame) -> None:
    for name in list(current.columns)[:N_NUMERIC]:
        np.sort(current[name].to_numpy())


def measure(step: str, rows: int) -> dict[str, Any]:
    """Run one step in this (fresh) process; return seconds and memory in bytes."""
    reference = make_frame(rows, seed=1, shift=0.0)
    current = make_frame(rows, seed=2, shift=0.05)
    frames = int(reference.memory_usage(deep=True).sum() + current.memory_usage(deep=True).sum())
    action: Callable[[], object]
    if step == "report":
        action = lambda: report(fit_all(reference), current)  # noqa: E731
    elif step == "test_only":
        stored = {n: p.to_dict() for n, p in fit_all(reference).items()}
        profiles = {
            n: ColumnProfile.from_dict(json.loads(json.dumps(d))) for n, d in stored.items()
        }
        del stored
        action = lambda: report(profiles, current)  # noqa: E731
    elif step == "fit_only":
        action = lambda: fit_all(reference)  # noqa: E731
    elif step == "scipy":
        action = lambda: scipy_loop(reference, current)  # noqa: E731
    elif step == "sort_current":
        action = lambda: sort_current_floor(current)  # noqa: E731
    else:
        action = lambda: sort_floor(reference, current)  # noqa: E731
    # Peak resident memory of this fresh process, not tracemalloc: tracing every
    # allocation would slow the very step being timed.
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "added": max(peak - before, 0), "frames": frames, "peak": peak}


def in_subprocess(step: str, rows: int) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--measure", step, str(rows)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def no_drift_false_alarms(pairs: int, rows: int) -> int:
    alarms = 0
    for seed in range(pairs):
        reference = make_frame(rows, seed=10_000 + 2 * seed, shift=0.0)
        current = make_frame(rows, seed=10_001 + 2 * seed, shift=0.0)
        alarms += report(fit_all(reference), current)
    return alarms


def main() -> None:
    rows = int(os.environ.get("DRIFTWARDEN_BENCH_ROWS", "1000000"))
    pairs = int(os.environ.get("DRIFTWARDEN_BENCH_PAIRS", "200"))
    pair_rows = int(os.environ.get("DRIFTWARDEN_BENCH_PAIR_ROWS", "10000"))
    print(f"reference and current: {rows:,} rows x {N_NUMERIC + len(CATEGORY_COUNTS)} columns")
    labels = {
        "report": "(a) driftwarden report: fit + test",
        "fit_only": "    of which fit (reference profiles)",
        "test_only": "(a) test alone against stored profiles",
        "scipy": "(b) plain scipy.stats loop",
        "sort": "(c) floor: np.sort of numeric columns",
        "sort_current": "(c') floor of the test alone: np.sort of the current's numeric columns",
    }
    measured = {step: in_subprocess(step, rows) for step in labels}
    frames_mb = measured["report"]["frames"] / 1e6
    print(f"the two frames in memory: {frames_mb:,.0f} MB")
    print()
    print(
        "| step | wall time (s) | step's own peak (MB) | (frames + step peak) / frames "
        "| process peak RSS / frames |"
    )
    print("|---|---:|---:|---:|---:|")
    for step, label in labels.items():
        m = measured[step]
        print(
            f"| {label.strip()} | {m['seconds']:.2f} | {m['added'] / 1e6:,.0f} | "
            f"{(m['frames'] + m['added']) / m['frames']:.2f} | {m['peak'] / m['frames']:.2f} |"
        )
    a, b, c = (measured[s]["seconds"] for s in ("report", "scipy", "sort"))
    test_alone, fit = measured["test_only"]["seconds"], measured["fit_only"]["seconds"]
    print()
    print(f"| ratio a/b (report / scipy loop) | {a / b:.2f} |")
    print("|---|---:|")
    print(f"| ratio a/c (report / sort floor) | {a / c:.2f} |")
    print(f"| ratio test alone / fit | {test_alone / fit:.2f} |")
    test_floor = measured["sort_current"]["seconds"]
    print(f"| ratio test alone / its floor (c') | {test_alone / test_floor:.2f} |")
    alarms = no_drift_false_alarms(pairs, pair_rows)
    print(
        f"| monitor-level false alarms, default decision, {pairs} no-drift pairs of 25 columns "
        f"x {pair_rows:,} rows | {alarms} ({alarms / pairs:.1%}) |"
    )
    print()
    sys.stdout.flush()
    subprocess.run([sys.executable, str(Path(__file__).with_name("backtest.py"))], check=True)
    print()
    sys.stdout.flush()
    subprocess.run([sys.executable, str(Path(__file__).with_name("performance.py"))], check=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
