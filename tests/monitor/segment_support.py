"""Data and monitors with segments, shared by the segment tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from monitor.config import MonitorSettings, parse_settings
from tests.support import MIXED_COLUMNS, mixed_rows

COUNTRIES = tuple(f"C{index:02d}" for index in range(20))


def segmented_rows(
    rng: np.random.Generator,
    rows: int,
    *,
    shifted: str | None = None,
    shift: float = 0.0,
    countries: tuple[str, ...] = COUNTRIES,
) -> pd.DataFrame:
    """``mixed_rows`` with a ``country`` column spread evenly over ``countries``; the rows of
    ``shifted`` have their ``amount`` moved by ``shift`` standard deviations."""
    frame = mixed_rows(rng, rows)
    frame["country"] = rng.choice(countries, rows)
    if shifted is not None:
        frame.loc[frame["country"] == shifted, "amount"] += shift
    return frame


def segment_monitor(**overrides: Any) -> MonitorSettings:
    monitor: dict[str, Any] = {
        "name": "segmented",
        "schedule": "every 1h",
        "source": {"type": "demo"},
        "reference": {"type": "window", "start": "2026-01-01", "end": "2026-01-02"},
        "columns": [{"name": n, "kind": k} for n, k in MIXED_COLUMNS],
        "segments": ["country"],
        "thresholds": {"alpha": 0.05, "sequential_scales": []},
    }
    if "thresholds" in overrides and "alpha" not in overrides["thresholds"]:
        monitor["thresholds"] = {}
    monitor.update(overrides)
    return parse_settings({"monitors": [monitor]}).monitors[0]
