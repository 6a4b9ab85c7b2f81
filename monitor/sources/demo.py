"""A synthetic source: the traffic of a credit-risk model that drifts on a timer.

It needs nothing installed and nothing configured, so a newcomer can watch a
monitor go from "no drift" to "drift" and back within minutes::

    [monitors.source]
    type = "demo"
    seed = 0                              # changes every generated row
    rows_per_window = 2000                # rows per sampled window
    drift_cycle = "2m"                    # one full calm + drifted cycle ...
    drift_for = "1m"                      # ... of which the last minute is drifted
    drift_columns = ["income", "device"]  # the inputs that move when drifted

Columns, one row per scored applicant:

================  =====================================================
``timestamp``     UTC, spread uniformly over the window, sorted
``age``           int, about Normal(42, 12) clipped to 18..90
``income``        float, log-normal, median 48,000
``credit_score``  int, about Normal(680, 60) clipped to 300..850
``tenure_months`` int, Gamma(2, 18): mean 36
``device``        "ios" 35%, "android" 45%, "web" 20%
``region``        "north" 30%, "south" 25%, "east" 20%, "west" 15%, "central" 10%
``prediction``    0/1: a fixed logistic model of the inputs (1 = predicted default,
                  about 20% of rows)
``label``         0/1: the prediction, flipped for 10% of the rows (accuracy 0.90)
================  =====================================================

**Which windows drift.** A window is *shifted* when its end falls in the last
``drift_for`` of a ``drift_cycle``: with ``phase = end (epoch seconds) mod
drift_cycle``, it is shifted iff ``phase >= drift_cycle - drift_for``. With the
defaults, a window ending at 12:00:30 is calm and one ending at 12:01:30 is
shifted. ``DemoSource.is_shifted(window)`` says which. A reference
(``window=None``) is never shifted and is stamped over the hour before
2024-01-01T00:00Z. (A ``window`` reference on this source follows the rule
above like any window: choose one whose end is in the calm phase.)

**What drifts.** In a shifted window each column listed in ``drift_columns``
moves clearly, and no other input moves:

- ``age``: +12 years (one standard deviation);
- ``income``: times 1.475 (the mean rises by about one standard deviation);
- ``credit_score``: -60 points (one standard deviation);
- ``tenure_months``: times 1.7 (the mean rises by about one standard deviation);
- ``device``: ios 15%, android 25%, web 60%;
- ``region``: the shares reverse (north 10% ... central 30%).

Every shifted window also has its label flipped for 25% of the rows instead of
10%, so accuracy drops by 15 points (0.90 -> 0.75): performance degrades even
if ``drift_columns`` is empty. ``prediction`` is the model's output, so it
follows its inputs: when a drifted input feeds the model (all of them do), the
share of predicted defaults moves too, as it would in production.

**Repeatability.** The rows of a window depend only on ``seed``, the ``seed``
argument of ``sample`` and the window's end: sampling the same window twice
gives the same frame. A window holds ``min(limit, rows_per_window)`` rows
whatever its length (an empty window, end <= start, holds none). The same
random draws feed calm and shifted windows, so a column that does not drift
has exactly the distribution it would have had in a calm window.

>>> from datetime import datetime, timezone
>>> from monitor.sources.base import Window
>>> source = DemoSource(DemoSourceSettings(type="demo", rows_per_window=500))
>>> calm = Window(datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
...               datetime(2024, 5, 1, 12, 0, 30, tzinfo=timezone.utc))
>>> source.is_shifted(calm)
False
>>> frame = source.sample(calm, limit=100, seed=0)
>>> frame.shape
(100, 9)
>>> frame.equals(source.sample(calm, limit=100, seed=0))
True
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from monitor.settings_base import as_duration
from monitor.sources._frames import check_limit, seed_entropy, utc_window
from monitor.sources.base import Window
from monitor.sources.spec import SourceSettingsModel, SourceSpec

NUMERIC_COLUMNS = ("age", "income", "credit_score", "tenure_months")
CATEGORICAL_COLUMNS = ("device", "region")
DRIFTABLE_COLUMNS = NUMERIC_COLUMNS + CATEGORICAL_COLUMNS
COLUMNS = ("timestamp", *DRIFTABLE_COLUMNS, "prediction", "label")

DEVICES = ("ios", "android", "web")
_DEVICE_SHARES = (0.35, 0.45, 0.20)
_DEVICE_SHARES_SHIFTED = (0.15, 0.25, 0.60)
REGIONS = ("north", "south", "east", "west", "central")
_REGION_SHARES = (0.30, 0.25, 0.20, 0.15, 0.10)
_REGION_SHARES_SHIFTED = (0.10, 0.15, 0.20, 0.25, 0.30)

_MEDIAN_INCOME = 48_000.0
_INCOME_SIGMA = 0.45
_LABEL_FLIP = 0.10
_LABEL_FLIP_SHIFTED = 0.25

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_REFERENCE_WINDOW = Window(
    datetime(2023, 12, 31, 23, 0, tzinfo=UTC),
    datetime(2024, 1, 1, 0, 0, tzinfo=UTC),
)

# The model: log-odds of default. Fixed, so predictions are a pure function of the inputs.
_DEVICE_EFFECT = np.array([-0.2, 0.1, 0.3])
_REGION_EFFECT = np.array([0.0, 0.1, -0.1, 0.05, -0.05])


class DemoSourceSettings(SourceSettingsModel):
    type: Literal["demo"]
    seed: int = 0
    rows_per_window: int = Field(default=2000, ge=1)
    drift_cycle: timedelta = Field(default=timedelta(minutes=2))
    drift_for: timedelta = Field(default=timedelta(minutes=1))
    drift_columns: tuple[
        Literal["age", "income", "credit_score", "tenure_months", "device", "region"], ...
    ] = ("income", "device")

    _check_durations = field_validator("drift_cycle", "drift_for", mode="before")(as_duration)

    @model_validator(mode="after")
    def _drift_fits_cycle(self) -> DemoSourceSettings:
        if self.drift_for >= self.drift_cycle:
            raise ValueError("drift_for must be shorter than drift_cycle")
        return self


class DemoSource:
    """Synthetic credit-risk traffic whose ``drift_columns`` shift on a timer (see the module)."""

    def __init__(self, settings: DemoSourceSettings) -> None:
        self.settings = settings

    def is_shifted(self, window: Window | None) -> bool:
        """True when the window's end lies in the drifted part of the cycle."""
        if window is None:
            return False
        cycle = self.settings.drift_cycle // _MICROSECOND
        drifted = self.settings.drift_for // _MICROSECOND
        phase = ((utc_window(window).end - _EPOCH) // _MICROSECOND) % cycle
        return phase >= cycle - drifted

    def close(self) -> None:
        """Nothing is held open between samples."""

    def sample(self, window: Window | None, limit: int, seed: int) -> pd.DataFrame:
        rows = min(check_limit(limit), self.settings.rows_per_window)
        if window is None:
            period, stamp = _REFERENCE_WINDOW, 0
        else:
            period = utc_window(window)
            stamp = 1 + ((period.end - _EPOCH) // _MICROSECOND) % (1 << 62)
        if period.end <= period.start:
            rows = 0
        rng = np.random.default_rng(seed_entropy(self.settings.seed, seed, stamp))
        return _generate(rng, rows, period, self.is_shifted(window), self.settings.drift_columns)


def _pick(uniform: np.ndarray, shares: tuple[float, ...]) -> np.ndarray:
    """Inverse-CDF draw of category indices from uniforms."""
    edges = np.cumsum(shares)[:-1]
    return np.searchsorted(edges, uniform, side="right")


def _generate(
    rng: np.random.Generator,
    rows: int,
    period: Window,
    shifted: bool,
    drift_columns: tuple[str, ...],
) -> pd.DataFrame:
    # One fixed sequence of draws whether shifted or not, so calm columns are untouched.
    age_z = rng.standard_normal(rows)
    income_z = rng.standard_normal(rows)
    credit_z = rng.standard_normal(rows)
    tenure_g = rng.gamma(2.0, 18.0, rows)
    device_u = rng.random(rows)
    region_u = rng.random(rows)
    flip_u = rng.random(rows)
    time_u = rng.random(rows)

    def moves(column: str) -> bool:
        return shifted and column in drift_columns

    age = np.clip(np.round(42 + 12 * age_z + (12 if moves("age") else 0)), 18, 90)
    income = np.round(
        _MEDIAN_INCOME * np.exp(_INCOME_SIGMA * income_z) * (1.475 if moves("income") else 1.0)
    )
    credit = np.clip(np.round(680 + 60 * credit_z - (60 if moves("credit_score") else 0)), 300, 850)
    tenure = np.round(tenure_g * (1.7 if moves("tenure_months") else 1.0))
    device = _pick(device_u, _DEVICE_SHARES_SHIFTED if moves("device") else _DEVICE_SHARES)
    region = _pick(region_u, _REGION_SHARES_SHIFTED if moves("region") else _REGION_SHARES)

    log_odds = (
        -1.2
        - 1.1 * (credit - 680) / 60
        - 0.7 * np.log(income / _MEDIAN_INCOME) / _INCOME_SIGMA
        - 0.3 * (age - 42) / 12
        - 0.2 * (tenure - 36) / 25
        + _DEVICE_EFFECT[device]
        + _REGION_EFFECT[region]
    )
    prediction = (1 / (1 + np.exp(-log_odds)) >= 0.5).astype(np.int64)
    flip = flip_u < (_LABEL_FLIP_SHIFTED if shifted else _LABEL_FLIP)
    label = np.where(flip, 1 - prediction, prediction)

    span = (period.end - period.start) // _MICROSECOND
    start = (period.start - _EPOCH) // _MICROSECOND
    offsets = np.minimum(np.floor(time_u * span).astype(np.int64), max(span - 1, 0))
    micros = np.sort(start + offsets)
    timestamp = pd.Series(micros.astype("datetime64[us]")).dt.tz_localize("UTC")

    return pd.DataFrame(
        {
            "timestamp": timestamp,
            "age": age.astype(np.int64),
            "income": income,
            "credit_score": credit.astype(np.int64),
            "tenure_months": tenure.astype(np.int64),
            "device": pd.Series(np.asarray(DEVICES, dtype=object)[device], dtype="str"),
            "region": pd.Series(np.asarray(REGIONS, dtype=object)[region], dtype="str"),
            "prediction": prediction,
            "label": label.astype(np.int64),
        }
    )


SPEC = SourceSpec(type="demo", settings=DemoSourceSettings, factory=DemoSource)
