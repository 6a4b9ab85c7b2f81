"""What the HTTP API answers, as models: FastAPI checks each answer against them and
publishes them in ``/openapi.json``.

They mirror ``RunSummary.to_dict``, ``RunDetail.to_dict`` and
``ResultView.to_dict`` (``monitor.store.queries``), ``RunReference.to_dict``
(``monitor.store.references``) and ``list_alerts`` (``monitor.alert_listing``),
key for key; times are ISO-8601 strings in UTC, as those give them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from monitor.alerts.event import Severity
from monitor.vocabulary import AlertState, ResultCheck, RunStatus

MONITOR_NAME = r"^[A-Za-z0-9_.-]+$"
"""What a monitor name may hold (``monitors[].name`` in the config)."""
MONITOR_NAME_LENGTH = 200
"""The longest name the store holds (``monitors.name``)."""

IsoTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class ErrorDetail(BaseModel):
    detail: str


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "not ready"]
    checks: dict[str, bool] = Field(description="each check by name: store, scheduler, delivery")
    hung_runs: list[str] | None = Field(
        default=None, description="when degraded: monitors whose run is past its deadline"
    )


class ResultModel(BaseModel):
    check: ResultCheck
    column: str
    method: str
    statistic: float | None
    p_value: float | None
    p_value_adjusted: float | None
    threshold: float | None
    effect: float | None
    effect_floor: float | None
    drifted: bool
    n_reference: int
    n_current: int
    status: str
    reason: str
    details: dict[str, Any]
    segment: str | None = Field(
        description='the segment it tested ("country=DE"); null for the whole window'
    )


class SegmentModel(BaseModel):
    """A segment a run tested (``monitor.segment_report.Segment``)."""

    segment: str = Field(description='"column=value"')
    column: str
    value: str
    n_current: int
    n_reference: int


class SkippedSegmentsModel(BaseModel):
    """The segments of one reason a run did not test."""

    reason: Literal["too_few_rows", "not_in_reference", "over_max_segments"]
    explanation: str
    count: int = Field(description="how many segments were skipped for it")
    segments: list[str] = Field(description="the largest of them (at most 20)")


class SegmentsModel(BaseModel):
    tested: list[SegmentModel] = Field(description="by rows in the window, most first")
    skipped: list[SkippedSegmentsModel]


class DriftedSegmentModel(BaseModel):
    segment: str
    columns: list[str] = Field(description="the columns that drifted in it")


class AlertChangeModel(BaseModel):
    """One alert a run changed: its rule went from one state to another."""

    model_config = ConfigDict(populate_by_name=True)

    rule: str
    from_state: AlertState = Field(alias="from")
    to_state: AlertState = Field(alias="to")


class ReferenceModel(BaseModel):
    """``RunReference.to_dict`` (``monitor.store.references``): what a run was tested against."""

    key: str = Field(description="the key its stored profile is filed under")
    type: str = Field(description="the reference type: file, sql, window or trailing")
    origin: str = Field(description="where its rows came from (never a URL)")
    start: IsoTime | None = Field(description="the period of the source it covers, if any")
    end: IsoTime | None


class RunModel(BaseModel):
    id: int
    monitor: str
    scheduled_for: IsoTime
    trigger: str
    status: RunStatus
    started_at: IsoTime
    finished_at: IsoTime | None
    window_start: IsoTime
    window_end: IsoTime
    drifted: bool | None
    reason: str | None
    n_reference: int | None
    n_current: int | None
    drifted_columns: list[str] = Field(description="the whole window's drifted columns")
    drifted_segments: list[DriftedSegmentModel] = Field(
        description="the segments with drifted columns (monitors with segments)"
    )
    segments: SegmentsModel | None = Field(
        description="the segments tested and skipped, with the reason; null without segments"
    )
    reference: ReferenceModel | None = Field(
        description="the reference the run was tested against; null for a failed run"
    )
    alert_transitions: list[AlertChangeModel] = Field(
        description="the alerts this run changed, in the order it changed them"
    )


class PerformanceModel(BaseModel):
    """One metric of one window, realized or estimated (``PerformanceView.to_dict``)."""

    window_start: IsoTime
    window_end: IsoTime
    window_run_id: int = Field(description="the run of the window's own slot")
    evaluated_run_id: int | None = Field(description="the run that computed this version")
    column: str
    metric: str
    kind: Literal["realized", "estimated"]
    method: str
    value: float | None
    reference_value: float | None
    lower: float | None
    upper: float | None
    threshold: float | None
    degraded: bool
    effect: float | None
    effect_floor: float | None
    status: str
    reason: str
    coverage: float | None = Field(description="labelled share of the window's predictions")
    n_predictions: int
    n_labelled: int | None
    n_current: int
    evaluated_at: IsoTime
    final: bool = Field(description="no later label can change it (max_wait has passed)")


class RunPerformanceModel(BaseModel):
    window: list[PerformanceModel] = Field(description="the run's window, latest state")
    history: list[PerformanceModel] = Field(description="its realized metrics as labels arrived")
    backfilled: list[PerformanceModel] = Field(
        description="earlier windows this run evaluated again as their labels arrived"
    )


class RunDetailModel(RunModel):
    results: list[ResultModel]
    performance: RunPerformanceModel
    url: str = Field(description="this run's address, under server.public_url")


class RunPage(BaseModel):
    runs: list[RunModel] = Field(description="newest first")
    next_before_id: int | None = Field(description="pass as before_id for the next page")


class AlertModel(BaseModel):
    """Where one rule's alert stands; type, severity and labels are the rule's in the config."""

    monitor: str
    rule: str
    type: str
    severity: Severity
    labels: dict[str, str]
    state: AlertState
    since: IsoTime = Field(description="when it entered this state")
    started_at: IsoTime | None = Field(description="when its latest firing began")
    episode: int = Field(description="how many times it fired")
    run_id: int | None = Field(description="the run that put it in this state")


class AlertTransitionModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    monitor: str
    rule: str
    severity: Severity
    from_state: AlertState = Field(alias="from")
    to_state: AlertState = Field(alias="to")
    at: IsoTime
    run_id: int = Field(description="the run that made the change")


class AlertList(BaseModel):
    alerts: list[AlertModel] = Field(description="every configured rule's alert, by monitor, rule")
    transitions: list[AlertTransitionModel] = Field(description="recent changes, newest first")


def _json_error(description: str) -> dict[str, Any]:
    # Declared as content, not as a "model": FastAPI would file a model under the
    # route's own media type, and an HTML page's refusals are JSON all the same.
    schema = ErrorDetail.model_json_schema()
    return {"description": description, "content": {"application/json": {"schema": schema}}}


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _json_error("no bearer token, or not a configured one"),
    403: _json_error("the token's scope does not allow this"),
}
STORE_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: _json_error("the store is unavailable"),
}
RUN_NOT_FOUND = _json_error("no such run (or an id no run can have)")
PAGE_NOT_FOUND: dict[str, Any] = {
    "description": "no such run or monitor: an HTML page; JSON when the path matches no route "
    "at all (a name with a line break)",
    "content": {
        "text/html": {"schema": {"type": "string"}},
        "application/json": {"schema": ErrorDetail.model_json_schema()},
    },
}
