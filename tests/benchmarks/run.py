"""Detector speed and memory: driftwarden's default report vs. a plain scipy loop vs. sorting alone.

Run with `make bench`. Prints one table measured in this run; never a pass/fail test.

Data (issue 4): reference and current of DRIFTWARDEN_BENCH_ROWS (default
1,000,000) rows x 25 columns, seeded: 20 numeric columns (1% missing, two of
them shifted by 0.05 sd in the current) and 5 categorical columns with 3,
10, 50, 200 and 1,000 categories.

Measured, each in a fresh subprocess so that one measurement's memory does
not leak into the next:

(a) driftwarden's default column-wise report, as `driftwarden compare` runs
    it: fit each reference column's profile and test the current column
    with the automatic method choice, one column at a time, then
    Benjamini-Hochberg and the dataset decision ("fit + test"); the fit
    alone; and the test alone against stored profiles (profiles fitted,
    serialised with to_dict and rebuilt before the clock starts, as the
    daemon loads them);
(b) a plain loop of scipy.stats per column: ks_2samp on the non-missing
    values, chi2_contingency on a crosstab of the categories;
(c) the sort-and-count floor, the least work an exact report must do:
    np.sort of every numeric column and the category counts
    (Series.value_counts) of every categorical one, of both frames, and of
    the current frame alone (the floor of the test against stored profiles).

Every step's process also measures its floor (both frames; the reference
alone for the fit, the current frame alone for the test against stored
profiles) on the same frames just before the step, so that a step and the
floor it is divided by share the machine's load. Targets (issue 14): full
report <= 4x its floor, test against stored profiles <= 3x the floor of the
current frame alone.

Wall time is time.perf_counter around one run of the step. Memory: the
step's peak is the growth of the process's resident set during the step, its
high-water mark (VmHWM, reset through /proc/self/clear_refs just before the
step) minus the resident set when the step starts, after glibc's malloc_trim
has returned the heap left free by building the frames (else the step would
reuse it unseen); where /proc cannot reset it, the growth of getrusage's
peak. "Peak memory / frames" is (the two frames' own bytes + the step's
peak) / the frames' own bytes (target <= 1.3): what the step needs beyond
the data it was handed, the interpreter and libraries left out. tracemalloc
is not used: tracing every allocation would slow the step being timed.

Then the monitor-level false-alarm rate of the default decision over
DRIFTWARDEN_BENCH_PAIRS (default 200) seeded no-drift pairs of 25 columns
with DRIFTWARDEN_BENCH_PAIR_ROWS (default 10,000) rows per side.

Then `driftwarden backtest` over 720 hourly slots (tests/benchmarks/backtest.py),
against its 60 s target, and last performance evaluation (realized + estimated)
of a 100,000-row window against the drift tests of the same window
(tests/benchmarks/performance.py), against its 2x target, and last a
10M-row PostgreSQL window pulled three ways and profiled in SQL
(tests/benchmarks/in_database.py: rows moved, wall time, verdicts;
DRIFTWARDEN_BENCH_INDB_ROWS, _REFERENCE_ROWS and _SAMPLE shrink it), then
what fitting a trailing reference ahead saves the first run of a refit period
(tests/benchmarks/trailing.py), what drift per segment costs and finds
(tests/benchmarks/segments.py: 20 segments, one shifted), and last the soak: 500 monitors "every 5m"
over PostgreSQL tables of 10,000 rows a window, real daemons for 15 minutes
(tests/benchmarks/soak.py: slots run, lateness, RSS, store connections;
DRIFTWARDEN_BENCH_SOAK_ARGS, e.g. "--monitors 100 --duration 300" (shell words), changes
the plan).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import shlex
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


def fit_and_report(reference: pd.DataFrame, current: pd.DataFrame) -> bool:
    """The full report as `driftwarden compare` runs it: each column fitted, then tested."""
    results = [
        compare_column(fit_profile(reference[name], kind_of(name)), current[name])
        for name in current.columns
    ]
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


def sort_and_count_floor(*frames: pd.DataFrame) -> None:
    """Sort every numeric column and count every categorical one of ``frames``."""
    for frame in frames:
        for name in frame.columns:
            if kind_of(name) == "numeric":
                np.sort(frame[name].to_numpy())
            else:
                frame[name].value_counts(sort=False)


def step_peak_tracker() -> Callable[[], int]:
    """Start tracking the resident-set growth of a step; call the result after the step.

    Linux resets the high-water mark through /proc/self/clear_refs, so the
    step's own peak is seen even when building the frames peaked higher;
    elsewhere the growth of getrusage's lifetime peak is the best available.
    glibc first hands the heap that building the frames freed back to the
    system (malloc_trim): kept, the step would reuse it unseen.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)
    try:
        Path("/proc/self/clear_refs").write_text("5")
        start = _proc_status_kb("VmRSS")
        return lambda: max(_proc_status_kb("VmHWM") - start, 0) * 1024
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return lambda: max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, 0) * 1024


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def measure(step: str, rows: int) -> dict[str, Any]:
    """Run one step and its floor in this (fresh) process; return seconds and bytes."""
    reference = make_frame(rows, seed=1, shift=0.0)
    current = make_frame(rows, seed=2, shift=0.05)
    frames = int(reference.memory_usage(deep=True).sum() + current.memory_usage(deep=True).sum())
    action: Callable[[], object]
    floor_frames: tuple[pd.DataFrame, ...] = (reference, current)
    if step == "report":
        action = lambda: fit_and_report(reference, current)  # noqa: E731
    elif step == "test_only":
        stored = {n: p.to_dict() for n, p in fit_all(reference).items()}
        profiles = {
            n: ColumnProfile.from_dict(json.loads(json.dumps(d))) for n, d in stored.items()
        }
        del stored
        action = lambda: report(profiles, current)  # noqa: E731
        floor_frames = (current,)
    elif step == "fit_only":
        action = lambda: fit_all(reference)  # noqa: E731
        floor_frames = (reference,)
    else:
        action = lambda: scipy_loop(reference, current)  # noqa: E731
    start = time.perf_counter()
    sort_and_count_floor(*floor_frames)
    floor = time.perf_counter() - start
    step_peak = step_peak_tracker()
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "floor": floor, "added": step_peak(), "frames": frames}


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


SCRIPTS = ("backtest.py", "performance.py", "in_database.py", "trailing.py", "segments.py")
"""The benchmarks that print their own tables after the detectors' (the soak comes last)."""


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
    }
    measured = {step: in_subprocess(step, rows) for step in labels}
    frames_mb = measured["report"]["frames"] / 1e6
    print(f"the two frames in memory: {frames_mb:,.0f} MB")
    print()
    print(
        "| step | wall time (s) | its floor (c), same process (s) | step / floor "
        "| step's own peak (MB) | (frames + step peak) / frames |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for step, label in labels.items():
        m = measured[step]
        floor_of = {"test_only": "current frame", "fit_only": "reference frame"}.get(
            step, "both frames"
        )
        print(
            f"| {label.strip()} | {m['seconds']:.2f} | {m['floor']:.2f} ({floor_of}) | "
            f"{m['seconds'] / m['floor']:.2f} | {m['added'] / 1e6:,.0f} | "
            f"{(m['frames'] + m['added']) / m['frames']:.2f} |"
        )
    report_m, test_m = measured["report"], measured["test_only"]
    peak = max((m["frames"] + m["added"]) / m["frames"] for m in (report_m, test_m))
    print()
    print("| target (issue 14) | measured | target |")
    print("|---|---:|---:|")
    print(
        f"| full report / sort-and-count floor of both frames "
        f"| {report_m['seconds'] / report_m['floor']:.2f} | <= 4 |"
    )
    print(
        f"| test against stored profiles / floor of the current frame "
        f"| {test_m['seconds'] / test_m['floor']:.2f} | <= 3 |"
    )
    print(f"| peak memory / loaded frames (report and test, the larger) | {peak:.2f} | <= 1.3 |")
    print()
    scipy_seconds = measured["scipy"]["seconds"]
    print(f"| ratio a/b (report / scipy loop) | {report_m['seconds'] / scipy_seconds:.2f} |")
    print("|---|---:|")
    print(f"| ratio test alone / fit | {test_m['seconds'] / measured['fit_only']['seconds']:.2f} |")
    alarms = no_drift_false_alarms(pairs, pair_rows)
    print(
        f"| monitor-level false alarms, default decision, {pairs} no-drift pairs of 25 columns "
        f"x {pair_rows:,} rows | {alarms} ({alarms / pairs:.1%}) |"
    )
    for script in SCRIPTS:
        print()
        sys.stdout.flush()
        subprocess.run([sys.executable, str(Path(__file__).with_name(script))], check=True)
    print()
    sys.stdout.flush()
    soak_args = shlex.split(os.environ.get("DRIFTWARDEN_BENCH_SOAK_ARGS", ""))
    subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.soak", *soak_args],
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
