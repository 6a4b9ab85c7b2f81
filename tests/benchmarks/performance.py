"""Performance evaluation vs the drift tests of the same window (issue 12: at most 2x).

A window of DRIFTWARDEN_BENCH_PERFORMANCE_ROWS (default 100,000) rows:

(a) the typical drift test: its 25 columns (``run.make_frame``: 20 numeric,
    5 categorical) against stored column profiles, with the automatic method
    choice, Benjamini-Hochberg and the dataset decision;
(b) performance: a binary model's labels, predictions and scores against a
    stored performance profile, realized (``compare_performance``: accuracy,
    precision, recall, F1, ROC AUC, average precision) plus estimated
    (``estimate_performance``: CBPE's five);
(c) the monitor's own path around (b): the window's labels looked up by id
    in an SQLite label table (``SqlLabelSource``, 1,000 ids a query) and
    joined to the predictions, then ``monitor.performance.judge_window``
    (coverage, realized and estimated at the run's level).

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
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from detectors import ColumnProfile  # noqa: E402
from detectors.performance import (  # noqa: E402
    PerformanceProfile,
    compare_performance,
    estimate_performance,
    fit_performance,
)
from monitor.config import parse_settings  # noqa: E402
from monitor.performance import judge_window  # noqa: E402
from monitor.sources import build_label_source, join_labels  # noqa: E402
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
    lookup, judged = monitor_path(performance, window)
    print(f"window: {rows:,} rows; fastest of {REPEATS} runs each")
    print()
    print("| step | wall time (s) |")
    print("|---|---:|")
    print(f"| (a) drift tests, 25 columns, stored profiles | {drift:.3f} |")
    print(f"| (b) performance, realized (6 metrics) | {realized:.3f} |")
    print(f"| (b) performance, estimated (CBPE, 5 metrics) | {estimated:.3f} |")
    print(f"| (b) performance, realized + estimated | {both:.3f} |")
    print(f"| (c) labels looked up by id in SQLite and joined | {lookup:.3f} |")
    print(f"| (c) judge_window: coverage, realized + estimated | {judged:.3f} |")
    print(f"| fit of the performance profile (once per reference) | {fit_seconds:.2f} |")
    print()
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"| ratio (b) / (a) | {ratio:.2f} ({verdict} the target <= {TARGET:g}) |")
    monitor_ratio = judged / drift
    verdict = "meets" if monitor_ratio <= TARGET else "misses"
    print(f"| ratio (c, judge_window) / (a) | {monitor_ratio:.2f} ({verdict} the target) |")
    print(f"| ratio (c, lookup + judge_window) / (a) | {(lookup + judged) / drift:.2f} |")
    print("|---|---:|")


def monitor_path(profile: PerformanceProfile, window: pd.DataFrame) -> tuple[float, float]:
    """Seconds of (label lookup and join, judge_window) of one window, fastest of REPEATS."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/labels.db"
        ids = np.arange(len(window))
        engine = sa.create_engine(url)
        pd.DataFrame({"id": ids, "label": window["label"]}).to_sql("labels", engine, index=False)
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE INDEX ix_labels_id ON labels (id)"))
        engine.dispose()
        settings = parse_settings(
            {
                "monitors": [
                    {
                        "name": "bench",
                        "schedule": "every 1h",
                        "source": {"type": "demo"},
                        "reference": {"type": "window", "start": "2026-01-01", "end": "2026-01-02"},
                        "columns": [{"name": "x", "kind": "numeric"}],
                        "performance": {
                            "task": "classification",
                            "prediction": "prediction",
                            "score": "score",
                            "id_column": "id",
                            "labels": {
                                "type": "sql",
                                "url": url,
                                "table": "labels",
                                "id_column": "id",
                                "label_column": "label",
                            },
                        },
                    }
                ]
            }
        )
        perf = settings.monitors[0].performance
        assert perf is not None and perf.labels is not None
        rows = window.drop(columns=["label"]).assign(id=ids)
        source = build_label_source(perf.labels)
        try:
            joined = join_labels(rows["id"], source.labels(rows["id"].tolist(), None))
            lookup = fastest(
                lambda: join_labels(rows["id"], source.labels(rows["id"].tolist(), None))
            )
        finally:
            source.close()
        judged = fastest(lambda: judge_window(perf, profile, rows, joined, 1e-4))
    return lookup, judged


if __name__ == "__main__":
    main()
