"""Alert rules: what a monitor's run must show for an alert to count as hit.

A rule only looks at one run's facts and says hit, clear or unknown;
``state`` turns a sequence of those into pending, firing and resolved, and
``grouping`` decides what receivers are told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from monitor.alerts.event import Severity
from monitor.durations import MAX_DURATION
from monitor.settings_base import MAX_RULE_NAME, SettingsModel, as_duration
from monitor.vocabulary import ResultCheck, RunStatus

Condition = Literal["hit", "clear", "unknown"]


@dataclass(frozen=True)
class ColumnFact:
    """What a rule needs to know of one column result."""

    column: str
    method: str
    check: ResultCheck
    drifted: bool
    status: str
    missing_share: float | None
    new_category_share: float | None


@dataclass(frozen=True)
class MetricFact:
    """One performance metric of one window, as a rule needs it."""

    metric: str
    estimated: bool
    degraded: bool
    status: str


@dataclass(frozen=True)
class PerformanceFacts:
    """The performance a run's rules judge (``monitor.performance.performance_facts``).

    ``realized``: the metrics of the newest window whose labels reached
    their coverage, when this run evaluated it (its own window, or a past
    one whose late labels it counted); empty otherwise, so a run that
    learned nothing new about performance changes no alert. ``current``:
    the run's own window, realized once its labels are in, else estimated.
    """

    realized: Sequence[MetricFact] = ()
    current: Sequence[MetricFact] = ()


@dataclass(frozen=True)
class RunFacts:
    """One run as rules see it."""

    status: RunStatus
    drifted: bool
    reason: str
    columns: Sequence[ColumnFact]
    now: datetime
    last_success: datetime | None
    performance: PerformanceFacts = PerformanceFacts()
    segment_columns: Sequence[ColumnFact] = ()
    """The columns' results inside the run's segments (``monitor.segments``): a
    ``column_drift`` rule hits on its column drifting in any segment too."""

    def drift_columns(self) -> list[ColumnFact]:
        return [c for c in self.columns if c.check == "drift"]


class RuleBase(SettingsModel):
    """What every rule type shares: its name, hysteresis, severity and receivers.

    ``resolve_after`` defaults to 2 clean runs so that a column flipping
    between drifted and not on every run stays firing instead of paging on
    every flip.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=MAX_RULE_NAME)
    for_runs: int = Field(default=1, ge=1, alias="for")
    resolve_after: int = Field(default=2, ge=1)
    severity: Severity = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    repeat_interval: timedelta | None = None
    receivers: tuple[str, ...] | None = None

    _check_repeat = field_validator("repeat_interval", mode="before")(
        lambda value: None if value is None else as_duration(value)
    )


class DatasetDriftRule(RuleBase):
    """Hit when at least ``share`` of the columns drifted; by default, when the run drifted.

    Without ``share`` the rule follows the monitor-level decision (any column,
    the multivariate test, a performance drop), the same one `check` exits on.
    """

    type: Literal["dataset_drift"]
    share: float | None = Field(default=None, gt=0, le=1)

    def evaluate(self, facts: RunFacts) -> Condition:
        if facts.status != "succeeded":
            return "unknown"
        if self.share is None:
            return "hit" if facts.drifted else "clear"
        columns = facts.drift_columns()
        if not columns:
            return "unknown"
        drifted = sum(c.drifted for c in columns)
        return "hit" if drifted / len(columns) >= self.share else "clear"


class ColumnDriftRule(RuleBase):
    """Hit when any of the named columns drifted."""

    type: Literal["column_drift"]
    columns: tuple[str, ...] = Field(min_length=1)

    def evaluate(self, facts: RunFacts) -> Condition:
        if facts.status != "succeeded":
            return "unknown"
        watched = [c for c in facts.drift_columns() if c.column in self.columns]
        if not watched:
            return "unknown"
        in_segments = [c for c in facts.segment_columns if c.column in self.columns]
        return "hit" if any(c.drifted for c in watched + in_segments) else "clear"


class PerformanceRule(RuleBase):
    """Hit when a performance metric is degraded: beyond its noise band (and floor, if any).

    ``metric`` picks one of the monitor's metrics (default: any). Without
    ``estimated`` the rule reads realized metrics only, of the newest window
    whose labels reached their coverage; with ``estimated = true`` it reads
    the current window: its realized metrics once its labels are in, its
    CBPE estimates until then.
    """

    type: Literal["performance"]
    metric: str | None = None
    estimated: bool = False

    def evaluate(self, facts: RunFacts) -> Condition:
        # An empty window may still have counted late labels of a past one.
        if facts.status not in ("succeeded", "empty"):
            return "unknown"
        seen = facts.performance.current if self.estimated else facts.performance.realized
        metrics = [
            m for m in seen if m.status == "ok" and (self.metric is None or m.metric == self.metric)
        ]
        if not metrics:
            return "unknown"
        return "hit" if any(m.degraded for m in metrics) else "clear"


class DataQualityRule(RuleBase):
    """Hit when a column's missing share or share of unseen categories is above a limit."""

    type: Literal["data_quality"]
    max_missing_share: float | None = Field(default=None, ge=0, le=1)
    max_new_category_share: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _some_limit(self) -> DataQualityRule:
        if self.max_missing_share is None and self.max_new_category_share is None:
            raise ValueError("set max_missing_share or max_new_category_share")
        return self

    def evaluate(self, facts: RunFacts) -> Condition:
        if facts.status != "succeeded":
            return "unknown"
        for column in facts.drift_columns():
            if _above(column.missing_share, self.max_missing_share) or _above(
                column.new_category_share, self.max_new_category_share
            ):
                return "hit"
        return "clear"


def _above(value: float | None, limit: float | None) -> bool:
    return value is not None and limit is not None and value > limit


class RunFailedRule(RuleBase):
    """Hit when the run could not complete (source down, bad config or data)."""

    type: Literal["run_failed"]

    def evaluate(self, facts: RunFacts) -> Condition:
        return "hit" if facts.status == "failed" else "clear"


class NoDataRule(RuleBase):
    """Hit when the window is empty, or no run succeeded for longer than ``stale_after``."""

    type: Literal["no_data"]
    stale_after: timedelta | None = None

    _check_stale = field_validator("stale_after", mode="before")(
        lambda value: None if value is None else as_duration(value)
    )

    def evaluate(self, facts: RunFacts) -> Condition:
        if facts.status == "empty":
            return "hit"
        if facts.status == "succeeded":
            return "clear"
        if self.stale_after is not None and facts.last_success is not None:
            return "hit" if facts.now - facts.last_success > self.stale_after else "unknown"
        return "unknown"


RuleSettings = Annotated[
    DatasetDriftRule
    | ColumnDriftRule
    | PerformanceRule
    | DataQualityRule
    | RunFailedRule
    | NoDataRule,
    Field(discriminator="type"),
]


DEFAULT_QUIET_RUNS = 3
"""Hits before a default ``no_data`` or ``run_failed`` rule fires: one empty window at night
or one failed run (a database restart) pages nobody, a pipeline that stays dead does."""
DEFAULT_STALE_PERIODS = 3
"""Schedule periods without a successful run after which a failed run counts as no data."""


def default_rules(drift_share: float | None, period: timedelta) -> tuple[RuleSettings, ...]:
    """A monitor without rules alerts on drift, and on a pipeline gone quiet or broken.

    ``drift`` follows the monitor-level decision (the one `check` exits on).
    ``no_data`` says data stopped arriving, whatever the cause: a run hits it
    when its window is empty, or when it failed and no run succeeded for
    three periods of the schedule (``period``); the third hit since the last
    success fires it. ``run_failed`` says the run itself breaks (source down,
    bad credentials, a configured column gone): it fires on the third failed
    run in a row, which is also what covers a monitor that never succeeded,
    for which no_data has no last success to be stale against.

    >>> [(r.name, r.for_runs) for r in default_rules(None, timedelta(hours=1))]
    [('drift', 1), ('no_data', 3), ('run_failed', 3)]
    >>> default_rules(None, timedelta(minutes=5))[1].stale_after
    datetime.timedelta(seconds=900)
    """
    quiet = {"for": DEFAULT_QUIET_RUNS}
    return (
        DatasetDriftRule(name="drift", type="dataset_drift", share=drift_share),
        NoDataRule.model_validate(
            {
                "name": "no_data",
                "type": "no_data",
                "stale_after": min(DEFAULT_STALE_PERIODS * period, MAX_DURATION),
                **quiet,
            }
        ),
        RunFailedRule.model_validate({"name": "run_failed", "type": "run_failed", **quiet}),
    )


def rule_labels(monitor: str, rule: RuleSettings) -> Mapping[str, str]:
    """The labels silences match on: the rule's own plus monitor, rule and severity."""
    return {**rule.labels, "monitor": monitor, "rule": rule.name, "severity": rule.severity}
