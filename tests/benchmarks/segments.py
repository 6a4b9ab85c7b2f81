"""What drift per segment costs and finds: 5 columns, 20 segments, 6,000-row windows.

Prints, without segments and with ``segments = ["country"]`` (20 values,
about 300 rows each in a window), the time to fit a 100,000-row reference,
the stored profile's size, the statistics' time per run (the run's own code:
``plan_segments``, ``evaluate``, ``evaluate_segments``), and the share of
seeded runs that drift when one segment's ``amount`` moves by ``SHIFT``
standard deviations, at a level of 0.05 (``thresholds.alpha``):

    .venv/bin/python tests/benchmarks/segments.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor.evaluation import evaluate, prepare_window  # noqa: E402
from monitor.levels import monitor_levels  # noqa: E402
from monitor.profiles import fit_reference  # noqa: E402
from monitor.segments import evaluate_segments, plan_segments, segmented_verdict  # noqa: E402
from tests.monitor.segment_support import segment_monitor, segmented_rows  # noqa: E402

RUNS = 30
SHIFT = 1.0
WINDOW_ROWS = 6_000


def main() -> None:
    for segments in ([], ["country"]):
        monitor = segment_monitor(segments=segments)
        rng = np.random.default_rng(1)
        reference = segmented_rows(rng, 100_000)
        started = time.perf_counter()
        profile = fit_reference(monitor, reference)
        fit = time.perf_counter() - started
        levels = monitor_levels(monitor)
        windows = [
            segmented_rows(rng, WINDOW_ROWS, shifted="C03", shift=SHIFT) for _ in range(RUNS)
        ]
        drifted = 0
        started = time.perf_counter()
        for current in windows:
            plan = plan_segments(monitor, profile, current)
            prepared = prepare_window(monitor, profile, current)
            results = evaluate(
                monitor, profile, current, prepared, levels, segments=len(plan.report.tested)
            )
            found = evaluate_segments(monitor, profile, current, plan, levels)
            drifted += segmented_verdict(monitor, results, found)[0]
        per_run = (time.perf_counter() - started) / RUNS
        print(
            f"segments={segments}: fit {fit * 1000:.0f} ms, profile "
            f"{len(profile.to_bytes()) / 1024:.0f} KiB, {per_run * 1000:.0f} ms per run, "
            f"{drifted} of {RUNS} runs drifted with a {SHIFT:g} sd shift in country=C03"
        )


if __name__ == "__main__":
    main()
