"""Speed of `driftwarden backtest`: a month of hourly slots from one Parquet file.

Run with `python tests/benchmarks/backtest.py` (also part of `make bench`).
Prints one measurement of this run; never a pass/fail test.

Data, seeded: one Parquet file written with pyarrow's defaults (so a single
row group: row-group statistics cannot skip anything) holding 720 hourly
windows of 1,000 rows x 15 columns (6 float, 3 integer, 3 boolean, 3
categorical) plus the timestamp, stationary throughout, and a 20,000-row
reference file from the same distribution. The monitor tests every column
with the automatic method choice and the default alert rule.

Measured: the wall time of the whole command in a fresh process
(`python -m monitor.cli backtest ...`: start-up, config, in-memory store,
reference fit and 720 runs), against the 60 s target, and its CPU time.
With ``--profile`` the command also runs in this process under cProfile:
a table of where the time goes (source, detectors, sequential tests,
store, alerts), then the functions with the largest cumulative time.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SLOTS = 720
ROWS_PER_SLOT = 1_000
REFERENCE_ROWS = 20_000
TARGET_SECONDS = 60.0
START = datetime(2026, 10, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]

FLOATS = [f"f{index}" for index in range(6)]
INTEGERS = [f"i{index}" for index in range(3)]
BOOLEANS = [f"b{index}" for index in range(3)]
CATEGORIES = {"c0": 3, "c1": 12, "c2": 40}


def make_rows(rows: int, rng: np.random.Generator) -> dict[str, object]:
    columns: dict[str, object] = {}
    for index, name in enumerate(FLOATS):
        columns[name] = rng.normal(10.0 * index, 1.0 + index, rows)
    for index, name in enumerate(INTEGERS):
        columns[name] = rng.poisson(3 + 5 * index, rows).astype(np.int64)
    for index, name in enumerate(BOOLEANS):
        columns[name] = rng.random(rows) < 0.2 + 0.2 * index
    for name, count in CATEGORIES.items():
        weights = np.random.default_rng(count).dirichlet(np.ones(count))
        columns[name] = np.array([f"v{k}" for k in range(count)])[
            rng.choice(count, rows, p=weights)
        ]
    return columns


def write_data(directory: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(20261001)
    total = SLOTS * ROWS_PER_SLOT
    step = timedelta(hours=1) / ROWS_PER_SLOT
    timestamps = pd.date_range(START, periods=total, freq=pd.Timedelta(step))
    current = pd.DataFrame({"ts": timestamps, **make_rows(total, rng)})
    source = directory / "events.parquet"
    pq.write_table(pa.Table.from_pandas(current, preserve_index=False), source)
    reference = directory / "reference.parquet"
    pq.write_table(
        pa.Table.from_pandas(pd.DataFrame(make_rows(REFERENCE_ROWS, rng)), preserve_index=False),
        reference,
    )
    return source, reference


def write_config(directory: Path, source: Path, reference: Path) -> Path:
    kinds = {name: "numeric" for name in FLOATS + INTEGERS}
    kinds.update({name: "categorical" for name in BOOLEANS + list(CATEGORIES)})
    columns = "".join(
        f'[[monitors.columns]]\nname = "{name}"\nkind = "{kind}"\n\n'
        for name, kind in kinds.items()
    )
    config = directory / "config.toml"
    config.write_text(
        f"""[store]
url = "sqlite:///{directory}/never-created.db"

[[monitors]]
name = "bench"
schedule = "every 1h"
window = "1h"

[monitors.source]
type = "file"
path = "{source}"
timestamp_column = "ts"

[monitors.reference]
type = "file"
path = "{reference}"

{columns}"""
    )
    return config


def arguments(config: Path) -> list[str]:
    first = START + timedelta(hours=1)
    last = first + timedelta(hours=SLOTS)
    return [
        "backtest",
        "--config",
        str(config),
        "--monitor",
        "bench",
        "--from",
        first.isoformat(),
        "--to",
        last.isoformat(),
        "--format",
        "json",
    ]


def time_command(config: Path) -> tuple[float, float, int, str]:
    """Wall and CPU time of the command in a fresh process, its exit code and its summary.

    CPU time (user + system) is printed too: on a shared machine the wall time
    also counts what other processes took.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "monitor.cli", *arguments(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if completed.returncode not in (0, 1):
        raise SystemExit(f"backtest failed ({completed.returncode}): {completed.stderr.strip()}")
    body = json.loads(completed.stdout)
    runs = body["runs"]
    drifted = sum(run["drifted"] is True for run in runs)
    failed = sum(run["status"] == "failed" for run in runs)
    fired = sum(alert["state"] == "firing" for alert in body["alerts"])
    summary = f"{len(runs)} runs, {drifted} drifted, {failed} failed, {fired} alerts fired"
    return seconds, cpu, completed.returncode, summary


PHASES = (
    ("whole backtest", "monitor/backtest.py", "run_backtest"),
    ("reference fit (once)", "monitor/backtest.py", "_fit_reference"),
    ("source: sample a window", "monitor/sources/file.py", "sample"),
    ("detectors: one window's tests", "monitor/evaluation.py", "evaluate"),
    ("sequential: pooled windows", "monitor/sequential.py", "sequential_tests"),
    ("store: claim the run", "monitor/store/runs.py", "claim_run"),
    ("store: finish the run (results)", "monitor/store/runs.py", "finish_run"),
    ("  of which alert rules and outbox", "monitor/alerting.py", "process_alerts"),
    ("metrics", "monitor/metrics.py", "record_successful_run"),
)
"""Where the time goes: cumulative seconds of these functions (those that exist)."""


def profile_command(config: Path, top: int = 25) -> str:
    sys.path.insert(0, str(ROOT))
    from monitor.cli import main

    profiler = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()):
        profiler.runcall(main, ["--log-level", "WARNING", *arguments(config)])
    report = io.StringIO()
    stats = pstats.Stats(profiler, stream=report)
    cumulative: dict[tuple[str, str], float] = {}
    # Stats.stats (the raw table, keyed by file, line and function) is not in typeshed.
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        for _label, suffix, name in PHASES:
            if function == name and filename.endswith(suffix):
                cumulative[suffix, name] = cumulative.get((suffix, name), 0.0) + row[3]
    total = cumulative.get(("monitor/backtest.py", "run_backtest"), 0.0) or 1.0
    lines = ["| phase, under cProfile | cumulative (s) | share |", "|---|---:|---:|"]
    for label, suffix, name in PHASES:
        if (suffix, name) in cumulative:
            spent = cumulative[suffix, name]
            lines.append(f"| {label} | {spent:.1f} | {spent / total:.0%} |")
    stats.sort_stats("cumulative").print_stats(top)
    return "\n".join(lines) + "\n\n" + report.getvalue()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="driftwarden-bench-") as name:
        directory = Path(name)
        source, reference = write_data(directory)
        config = write_config(directory, source, reference)
        size_mb = source.stat().st_size / 1e6
        print(
            f"backtest: {SLOTS} hourly slots x {ROWS_PER_SLOT:,} rows x 15 columns, "
            f"one Parquet file of {size_mb:.1f} MB ({pq.ParquetFile(source).num_row_groups} "
            f"row group), reference {REFERENCE_ROWS:,} rows"
        )
        seconds, cpu, code, summary = time_command(config)
        print(f"| backtest, {SLOTS} slots, whole command, wall time (s) | {seconds:.2f} |")
        print("|---|---:|")
        print(f"| CPU time, user + system (s) | {cpu:.2f} |")
        print(f"| ratio to the {TARGET_SECONDS:.0f} s target | {seconds / TARGET_SECONDS:.2f} |")
        print(f"| per slot (ms) | {1000 * seconds / SLOTS:.1f} |")
        print(f"| outcome (stationary data) | exit {code}: {summary} |")
        if "--profile" in sys.argv:
            print()
            print(profile_command(config))


if __name__ == "__main__":
    main()
