"""Issue 12's acceptance: model performance replayed on public data, labels a day late.

NannyML's synthetic car-loan classifier (``tests.public_data``): its
analysis period's predictions with scores sit in one SQL table, the true
outcomes in another whose ``arrived_at`` is each prediction's time plus a
day, and the reference is NannyML's reference file. Every 14-day slot of
the analysis period goes through ``run_check`` with a clock that reads the
slot, on SQLite and on PostgreSQL; the same replay also runs through
``backtest`` with the labels in a CSV file. The model's accuracy falls
from 0.944 to about 0.916 (ROC AUC 0.971 to 0.960) from row 25,000 on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn import metrics as sk
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.backfill import label_sources
from monitor.backtest import run_backtest, to_text
from monitor.config import MonitorSettings, Settings, parse_settings
from monitor.metrics import Metrics
from monitor.runner import RunContext, run_check
from monitor.sources import build_source
from monitor.store.models import AlertRow, AlertTransitionRow, PerformanceRow
from monitor.store.queries import get_run
from tests.public_data import CAR_LOAN, nannyml_files
from tests.support import Clock

ONSET_ROW = 25_000
"""NannyML's car-loan analysis degrades from its 25,000th row (the middle of the period)."""

SCHEDULE = timedelta(days=14)
LABEL_DELAY = timedelta(days=1)
METRIC_TOLERANCE = 1e-9
"""Realized metrics are scikit-learn's on the same rows: equal but for float summation order."""


@dataclass(frozen=True)
class CarLoan:
    reference: Path
    predictions: pd.DataFrame
    """The analysis rows with their outcome (``repaid``) and its ``arrived_at``."""
    onset: datetime

    @property
    def slots(self) -> list[datetime]:
        """Every 14-day slot (on the scheduler's grid) whose window holds analysis rows, + 1."""
        origin = datetime(2000, 1, 1, tzinfo=UTC)
        first = self.predictions["timestamp"].min().to_pydatetime()
        last = self.predictions["timestamp"].max().to_pydatetime()
        slot = origin + ((first - origin) // SCHEDULE + 1) * SCHEDULE
        slots = []
        while slot <= last + 2 * SCHEDULE:
            slots.append(slot)
            slot += SCHEDULE
        return slots


@pytest.fixture(scope="module")
def car_loan() -> CarLoan:
    files = nannyml_files(CAR_LOAN)
    reference, analysis, targets = (files[name] for name in CAR_LOAN)
    rows = pd.read_csv(analysis).merge(pd.read_csv(targets), on="id", validate="one_to_one")
    rows["timestamp"] = pd.to_datetime(rows["timestamp"], utc=True)
    rows["arrived_at"] = rows["timestamp"] + LABEL_DELAY
    onset = rows["timestamp"].iloc[ONSET_ROW].to_pydatetime()
    return CarLoan(reference=reference, predictions=rows, onset=onset)


def monitor_config(car_loan: CarLoan, source: dict[str, Any], labels: dict[str, Any]) -> Settings:
    return parse_settings(
        {
            "monitors": [
                {
                    "name": "car_loan",
                    "schedule": "every 14d",
                    "window": "14d",
                    "source": source,
                    "reference": {"type": "file", "path": str(car_loan.reference)},
                    "columns": [
                        {"name": "car_value", "kind": "numeric"},
                        {"name": "salary_range", "kind": "categorical"},
                    ],
                    "performance": {
                        "task": "classification",
                        "prediction": "y_pred",
                        "score": "y_pred_proba",
                        "id_column": "id",
                        "labels": {
                            **labels,
                            "id_column": "id",
                            "label_column": "repaid",
                            "arrived_at_column": "arrived_at",
                            # A day-late window has 13 of its 14 days labelled at its own
                            # run (93%): its realized metrics wait for the next run.
                            "coverage": 0.95,
                            "max_wait": "7d",
                        },
                    },
                    "rules": [
                        {"name": "realized", "type": "performance"},
                        {"name": "estimated", "type": "performance", "estimated": True},
                    ],
                }
            ]
        }
    )


def sql_tables(car_loan: CarLoan, url: str) -> None:
    """Predictions (no outcome) and outcomes (with arrival) in two tables of one database."""
    engine = sa.create_engine(url)
    rows = car_loan.predictions
    text_times = engine.dialect.name == "sqlite"
    predictions = rows.drop(columns=["repaid", "arrived_at"])
    outcomes = rows[["id", "repaid", "arrived_at"]]
    if text_times:  # SQLite has no timestamp type: ISO-8601 text, as the SQL source expects
        predictions = predictions.assign(timestamp=predictions["timestamp"].dt.strftime("%F %T.%f"))
        outcomes = outcomes.assign(arrived_at=outcomes["arrived_at"].dt.strftime("%F %T.%f"))
    with engine.begin() as connection:
        predictions.to_sql("loan_predictions", connection, index=False, chunksize=5_000)
        outcomes.to_sql("loan_outcomes", connection, index=False, chunksize=5_000)
        connection.execute(sa.text("CREATE INDEX ix_loan_outcomes_id ON loan_outcomes (id)"))
    engine.dispose()


@dataclass(frozen=True)
class Replay:
    monitor: MonitorSettings
    runs: list[int]
    """Run id of each slot, oldest first."""
    slots: list[datetime]


def run_replay(car_loan: CarLoan, engine: Engine, store_url: str, tmp_path: Path) -> Replay:
    """Every slot of the analysis period through ``run_check``, clock at the slot."""
    data_url = store_url if store_url.startswith("postgresql") else f"sqlite:///{tmp_path}/data.db"
    sql_tables(car_loan, data_url)
    settings = monitor_config(
        car_loan,
        {
            "type": "sql",
            "url": data_url,
            "table": "loan_predictions",
            "timestamp_column": "timestamp",
        },
        {"type": "sql", "url": data_url, "table": "loan_outcomes"},
    )
    monitor = settings.monitors[0]
    clock = Clock(car_loan.slots[0])
    source = build_source(monitor.source)
    labels = label_sources([monitor])
    ctx = RunContext(
        engine=engine,
        metrics=Metrics(),
        sources={monitor.name: source},
        labels=labels,
        worker_id="acceptance",
        base_url="http://127.0.0.1:8470",
        clock=clock,
    )
    runs = []
    for slot in car_loan.slots:
        clock.now = slot
        outcome = run_check(ctx, monitor, slot, "schedule")
        assert outcome is not None and outcome.status in ("succeeded", "empty"), outcome
        runs.append(outcome.run_id)
    source.close()
    for label_source in labels.values():
        label_source.close()
    return Replay(monitor, runs, car_loan.slots)


def test_car_loan_replay_on_the_store(
    car_loan: CarLoan, engine: Engine, store_url: str, tmp_path: Path
) -> None:
    """The four claims of the acceptance, on one replay per store."""
    replay = run_replay(car_loan, engine, store_url, tmp_path)
    realized_metrics_are_scikit_learns_on_the_joined_rows(replay, car_loan, engine)
    estimated_roc_auc_is_within_001_of_realized_on_average(replay, engine)
    the_rule_fires_after_the_onset_and_at_most_once_before(replay, car_loan, engine)
    late_labels_change_a_past_windows_result_and_the_alert_follows(replay, engine)
    print("\n".join(replay_table(replay, car_loan, engine)))


def window_rows(car_loan: CarLoan, start: datetime, end: datetime) -> pd.DataFrame:
    stamps = car_loan.predictions["timestamp"]
    return car_loan.predictions[(stamps >= start) & (stamps < end)]


def sklearn_metrics(rows: pd.DataFrame) -> dict[str, float]:
    truth, predicted, scores = rows["repaid"], rows["y_pred"], rows["y_pred_proba"]
    return {
        "accuracy": sk.accuracy_score(truth, predicted),
        "precision": sk.precision_score(truth, predicted),
        "recall": sk.recall_score(truth, predicted),
        "f1": sk.f1_score(truth, predicted),
        "roc_auc": sk.roc_auc_score(truth, scores),
        "average_precision": sk.average_precision_score(truth, scores),
    }


def latest(engine: Engine, run_id: int) -> dict[tuple[str, bool], PerformanceRow]:
    with Session(engine) as session:
        rows = session.scalars(
            select(PerformanceRow).where(
                PerformanceRow.window_run_id == run_id, PerformanceRow.latest.is_(True)
            )
        ).all()
        session.expunge_all()
    return {(row.metric, row.estimated): row for row in rows}


def side(car_loan: CarLoan, start: datetime, end: datetime) -> str:
    """Where a window lies: entirely before the onset, across it, or entirely after."""
    if end <= car_loan.onset:
        return "before"
    return "after" if start >= car_loan.onset else "across"


def realized_metrics_are_scikit_learns_on_the_joined_rows(
    replay: Replay, car_loan: CarLoan, engine: Engine
) -> None:
    checked = 0
    for run_id, slot in zip(replay.runs, replay.slots, strict=True):
        start = slot - SCHEDULE
        rows = window_rows(car_loan, start, slot)
        stored = latest(engine, run_id)
        if rows.empty:
            assert stored == {}
            continue
        expected = sklearn_metrics(rows)
        for metric, value in expected.items():
            row = stored[(metric, False)]
            assert row.status == "ok" and row.final, (slot, metric, row.reason)
            assert row.coverage == 1.0 and row.n_labelled == row.n_predictions == len(rows)
            assert row.statistic == pytest.approx(value, abs=METRIC_TOLERANCE), (slot, metric)
        checked += 1
    assert checked == 22


def estimated_roc_auc_is_within_001_of_realized_on_average(replay: Replay, engine: Engine) -> None:
    gaps = []
    for run_id in replay.runs:
        stored = latest(engine, run_id)
        if stored:
            estimated, realized = stored[("roc_auc", True)], stored[("roc_auc", False)]
            assert estimated.method == "estimated_roc_auc" and estimated.final
            assert estimated.statistic is not None and realized.statistic is not None
            gaps.append(abs(estimated.statistic - realized.statistic))
    assert len(gaps) == 22
    assert float(np.mean(gaps)) < 0.01


def the_rule_fires_after_the_onset_and_at_most_once_before(
    replay: Replay, car_loan: CarLoan, engine: Engine
) -> None:
    degraded: dict[str, list[bool]] = {"before": [], "across": [], "after": []}
    for run_id, slot in zip(replay.runs, replay.slots, strict=True):
        stored = latest(engine, run_id)
        if stored:
            where = side(car_loan, slot - SCHEDULE, slot)
            realized = [row for (_, estimated), row in stored.items() if not estimated]
            degraded[where].append(any(row.degraded for row in realized))
    assert len(degraded["after"]) == 10 and all(degraded["after"])
    assert len(degraded["before"]) == 11 and sum(degraded["before"]) <= 1

    first_after = next(
        index
        for index, slot in enumerate(replay.slots)
        if side(car_loan, slot - SCHEDULE, slot) == "after"
    )
    firing = transitions(engine, "realized", "firing")
    # Realized metrics count a run late (labels a day late, 95% coverage): the run after
    # the first degraded window's own run fires, and the alert stays firing.
    assert firing and firing[0] <= replay.runs[first_after + 1]
    assert not [r for r in transitions(engine, "realized", "resolved") if r > firing[0]]
    estimated = transitions(engine, "estimated", "firing")
    assert estimated and estimated[0] <= replay.runs[first_after]


def transitions(engine: Engine, rule: str, to_state: str) -> list[int]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AlertTransitionRow.run_id)
                .join(AlertRow, AlertRow.id == AlertTransitionRow.alert_id)
                .where(AlertRow.rule == rule, AlertTransitionRow.to_state == to_state)
                .order_by(AlertTransitionRow.id)
            )
        )


def late_labels_change_a_past_windows_result_and_the_alert_follows(
    replay: Replay, engine: Engine
) -> None:
    """The realized alert fired on a run that counted a past window's late labels."""
    fired_on = transitions(engine, "realized", "firing")[0]
    assert fired_on in replay.runs
    later = get_run(engine, fired_on)
    assert later is not None
    backfilled = {v.window_run_id for v in later.performance.backfilled if v.degraded}
    assert backfilled, "the firing run counted no past window's labels"
    past = max(backfilled)
    assert past != fired_on
    with Session(engine) as session:
        versions = session.scalars(
            select(PerformanceRow)
            .where(PerformanceRow.window_run_id == past, PerformanceRow.metric == "accuracy")
            .order_by(PerformanceRow.id)
        ).all()
        history = [
            (v.estimated, v.status, v.evaluated_run_id, v.latest, v.degraded) for v in versions
        ]
        shares = [v.coverage for v in versions if not v.estimated]
    # At its own run: estimated, and realized awaiting the labels of its last day (13 of
    # 14 days labelled, 95% needed); the firing run counted them and replaced that version.
    assert history == [
        (False, "awaiting_labels", past, False, False),
        (True, "ok", past, True, history[1][4]),
        (False, "ok", fired_on, True, True),
    ]
    assert shares[0] is not None and 0.9 < shares[0] < 0.95 and shares[1] == 1.0
    detail = get_run(engine, past)
    assert detail is not None
    window = {(v.metric, v.estimated): v for v in detail.performance.window}
    assert window[("accuracy", False)].evaluated_run_id == fired_on
    assert [v.status for v in detail.performance.history if v.metric == "accuracy"] == [
        "awaiting_labels",
        "ok",
    ]


def replay_table(replay: Replay, car_loan: CarLoan, engine: Engine) -> list[str]:
    """Window, realized and estimated ROC AUC and accuracy, their bands, the alerts per run."""
    fired = {
        run: rule
        for rule in ("realized", "estimated")
        for run in transitions(engine, rule, "firing")
    }
    lines = [
        "window end | side | AUC realized (band) | AUC estimated (band) | accuracy r/e | firing"
    ]
    for run_id, slot in zip(replay.runs, replay.slots, strict=True):
        stored = latest(engine, run_id)
        if not stored:
            continue
        cells = []
        for key in (("roc_auc", False), ("roc_auc", True)):
            row = stored[key]
            mark = "*" if row.degraded else ""
            band = f"({row.details['lower']:.4f}, {row.details['upper']:.4f})"
            cells.append(f"{row.statistic:.4f}{mark} {band}")
        realized, estimated = stored[("accuracy", False)], stored[("accuracy", True)]
        accuracy = f"{realized.statistic:.4f}/{estimated.statistic:.4f}"
        lines.append(
            f"{slot:%Y-%m-%d} | {side(car_loan, slot - SCHEDULE, slot)} | {cells[0]} | {cells[1]} "
            f"| {accuracy} | {fired.get(run_id, '')}"
        )
    return lines


def test_backtest_replays_the_quarter_with_labels_as_they_arrived(
    car_loan: CarLoan, tmp_path: Path
) -> None:
    predictions = tmp_path / "predictions.parquet"
    car_loan.predictions.drop(columns=["repaid", "arrived_at"]).to_parquet(predictions)
    outcomes = tmp_path / "outcomes.csv"
    car_loan.predictions[["id", "repaid", "arrived_at"]].to_csv(outcomes, index=False)
    settings = monitor_config(
        car_loan,
        {"type": "file", "path": str(predictions), "timestamp_column": "timestamp"},
        {"type": "file", "path": str(outcomes)},
    )
    onset_slot = next(s for s in car_loan.slots if s - SCHEDULE >= car_loan.onset)
    start, end = onset_slot - 3 * SCHEDULE, onset_slot + 4 * SCHEDULE
    result = run_backtest(settings, settings.monitors[0], start, end)
    assert [run.scheduled_for for run in result.runs] == [start + SCHEDULE * k for k in range(7)]
    fired = [(change.rule, change.at) for change in result.alerts if change.state == "firing"]
    # The estimate sees the drop at once, in the window across the onset; realized metrics
    # wait for that window's last day of labels, which the next slot counts.
    assert fired == [("estimated", onset_slot - SCHEDULE), ("realized", onset_slot)]
    across, after = result.runs[2], result.runs[3]
    assert across.scheduled_for == onset_slot - SCHEDULE
    own = across.performance[0]
    assert own.window_end == across.scheduled_for and not own.counted
    assert own.coverage.required == 0.95 and 0.9 < (own.coverage.share or 0) < 0.95
    assert any(r.drifted for r in own.estimated)
    assert [w.window_end for w in after.performance] == [onset_slot, onset_slot - SCHEDULE]
    backfilled = after.performance[1]
    assert backfilled.counted and backfilled.coverage.complete and backfilled.final
    assert any(r.drifted for r in backfilled.realized) and not backfilled.estimated
    text = to_text(result)
    assert f"{onset_slot:%Y-%m-%d %H:%M:%S}Z  alert realized FIRING" in text
    assert (
        f"performance of {onset_slot - 2 * SCHEDULE:%Y-%m-%d %H:%M} .. "
        f"{onset_slot - SCHEDULE:%Y-%m-%d %H:%M} (labels 100%): accuracy"
    ) in text
    payload = result.to_dict()["runs"][3]["performance"][1]
    assert payload["coverage"] == 1.0 and payload["final"] is True
    assert {m["kind"] for m in payload["metrics"]} == {"realized"}
    # A metric that fell is performance, not a drifted label column.
    assert all("repaid" not in run.drifted_columns for run in result.runs)
