"""``driftwarden validate --connect``: open what the config names, without running or sending.

For each monitor: a sample of ``SAMPLE_ROWS`` rows of its source's latest
window, ``REFERENCE_ROWS`` rows of its reference, and in them each
configured column and the performance columns, judged by the code a run
uses: ``monitor.columns.require_columns`` says whether a column is there,
``detectors.fit_profile`` and ``detectors.compare_column`` whether its values
fit its kind (a ``numeric`` column of text is refused, a categorical one of
nearly all distinct values is an ``identifier``), ``detectors.fit_performance``
whether the label and prediction make a model's metrics. For each receiver:
where the delivery worker would connect (its notifier's request for an
example message, or a ``DirectNotifier``'s host and port), the worker's
egress check of that host (a metadata address is reported, never
contacted), then a TCP connection that is closed at once: nothing is sent.

Each check is bounded by the timeouts that bound a run or a delivery (a SQL
source's ``connect_timeout`` and ``statement_timeout``, ``delivery.timeout``),
and monitors and receivers are checked a few at a time in parallel. What a
check says passes through the config's redactor (``monitor.redaction``):
secrets show as the variables that hold them.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from detectors import compare_column, fit_profile
from monitor.columns import DataError, require_columns
from monitor.config import (
    ColumnSettings,
    MonitorSettings,
    PerformanceSettings,
    ReceiverSettings,
    Settings,
)
from monitor.delivery.egress import EgressPolicy, EgressRefused
from monitor.notifiers._template import EXAMPLE_EVENT
from monitor.notifiers.base import AnyNotifier, DirectNotifier, OutboundMessage
from monitor.notifiers.registry import NOTIFIERS, build_notifiers
from monitor.performance import window_columns
from monitor.profiles import fit_reference_performance, reference_request
from monitor.references import load_reference
from monitor.runner import unexpected_reason
from monitor.scheduler import build_trigger, latest_slot
from monitor.secrets import SecretError
from monitor.sinks import RUN_COMPLETED, RunCompleted
from monitor.sources import LabelSource, build_label_source, build_source, join_labels
from monitor.sources.base import Source, SourceError, Window
from monitor.store.models import utcnow
from monitor.store.references import RunReference

SAMPLE_ROWS = 100
"""Rows sampled from a source's latest window: enough to see the columns and their values."""

REFERENCE_ROWS = 1000
"""Rows read of a reference: enough for the identifier rule (``detectors.column``) to judge."""

MAX_WORKERS = 4
"""Monitors and receivers checked at once: enough to overlap waiting, few enough for a CI box."""

_EXPECTED = (SourceError, SecretError, DataError, ValueError)
"""Errors whose messages are written for users (and never hold a secret's value)."""


@dataclass(frozen=True)
class Check:
    """One line of the report: a key of the config, the name it has, and what was found."""

    key: str
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'problem':<8} {self.key} ({self.name}): {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "ok": self.ok, "detail": self.detail}


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, _EXPECTED) else unexpected_reason(exc)


class _Unopened:
    """The stand-in source of a monitor whose source could not be built: a window reference
    reads it and says so; other references never read it."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def sample(self, window: Window | None, limit: int, seed: int) -> pd.DataFrame:
        raise SourceError(f"the monitor's source cannot be opened: {self._reason}")

    def close(self) -> None:
        return None


def latest_window(monitor: MonitorSettings, now: datetime) -> Window:
    """The window of the monitor's latest slot at ``now``, as the daemon would run it."""
    end = latest_slot(build_trigger(monitor.schedule), now) or now
    return Window(start=end - monitor.window, end=end)


def _dtype(frame: pd.DataFrame, column: str) -> str:
    return str(frame[column].dtype)


def _column_problem(
    column: ColumnSettings, reference: pd.DataFrame, current: pd.DataFrame
) -> str | None:
    """Why ``column`` cannot be tested as configured, judged as a run would judge it; or None."""
    try:
        require_columns(reference, [column.name], "the reference")
        profile = fit_profile(reference[column.name], column.kind)
        if len(current):
            require_columns(current, [column.name], "the latest window")
        values = current[column.name] if len(current) else reference[column.name]
        result = compare_column(profile, values, method=column.method)
    except (DataError, ValueError) as exc:
        return str(exc)
    if result.status == "identifier":
        dtype = _dtype(reference, column.name)
        hint = f'; its values are {dtype} numbers: kind = "numeric"?' if "float" in dtype else ""
        return f"{result.reason}{hint}"
    if result.status in ("invalid_values", "all_missing"):
        where = "the latest window" if len(current) else "the reference"
        return f"in {where}: {result.reason}"
    return None


def _column_check(
    key: str, column: ColumnSettings, reference: pd.DataFrame, current: pd.DataFrame
) -> Check:
    problem = _column_problem(column, reference, current)
    if problem is not None:
        return Check(key, column.name, False, problem)
    where = f"{_dtype(reference, column.name)} in the reference"
    if len(current):
        where += f", {_dtype(current, column.name)} in the latest window"
    return Check(key, column.name, True, f"{column.kind}: {where}")


def _performance_checks(
    key: str, monitor: MonitorSettings, reference: pd.DataFrame, current: pd.DataFrame
) -> list[Check]:
    """The reference's model metrics fitted as a run fits them, the window's columns for them,
    and the label source (if any) asked for the labels of the window's ids."""
    perf = monitor.performance
    if perf is None:
        return []
    labels = None
    if perf.labels is not None:
        try:
            labels = build_label_source(perf.labels)
        except Exception as exc:
            return [Check(f"{key}.labels", perf.labels.type, False, _reason(exc))]
    try:
        return [
            _performance_check(key, monitor.name, perf, reference, current, labels),
            *([] if labels is None else [_labels_check(f"{key}.labels", perf, current, labels)]),
        ]
    finally:
        if labels is not None:
            labels.close()


def _performance_check(
    key: str,
    name: str,
    perf: PerformanceSettings,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    labels: LabelSource | None,
) -> Check:
    try:
        fitted = fit_reference_performance(perf, reference, labels)
        if len(current):
            require_columns(current, window_columns(perf), "the latest window")
    except Exception as exc:
        return Check(key, name, False, _reason(exc))
    metrics = ", ".join(fitted.metrics)
    return Check(key, name, True, f"{perf.task}: {metrics} fitted on {len(reference):,} rows")


def _labels_check(
    key: str, perf: PerformanceSettings, current: pd.DataFrame, labels: LabelSource
) -> Check:
    assert perf.labels is not None and perf.id_column is not None  # config checks both
    kind = perf.labels.type
    if perf.id_column not in current:
        return Check(key, kind, True, "opened; the latest window has no ids to look up")
    ids = current[perf.id_column]
    try:
        found = labels.labels(ids.tolist(), None)
    except Exception as exc:
        return Check(key, kind, False, _reason(exc))
    labelled = int(join_labels(ids, found).notna().sum())
    return Check(key, kind, True, f"{labelled} of {len(ids)} sampled predictions have a label")


def check_monitor(index: int, monitor: MonitorSettings, now: datetime) -> list[Check]:
    """The source's latest window, the reference, and the columns in both."""
    key = f"monitors[{index}]"
    window = latest_window(monitor, now)
    current = pd.DataFrame()
    try:
        source: Source = build_source(monitor.source)
    except Exception as exc:
        source = _Unopened(_reason(exc))
        checks = [Check(f"{key}.source", monitor.name, False, _reason(exc))]
    else:
        try:
            current = source.sample(window, SAMPLE_ROWS, seed=0)
            span = f"{window.start:%Y-%m-%d %H:%M:%S} .. {window.end:%Y-%m-%d %H:%M:%S} UTC"
            detail = (
                f"{len(current)} rows sampled from the latest window ({span})"
                if len(current)
                else f"the latest window ({span}) is empty: columns checked in the reference only"
            )
            checks = [Check(f"{key}.source", monitor.name, True, detail)]
        except Exception as exc:
            checks = [Check(f"{key}.source", monitor.name, False, _reason(exc))]
    try:
        request = dataclasses.replace(
            reference_request(monitor, window.start), reference_limit=REFERENCE_ROWS
        )
        reference = load_reference(request, source)
    except Exception as exc:
        checks.append(
            Check(f"{key}.reference", monitor.name, False, f"{_reason(exc)}; columns not checked")
        )
        return checks
    finally:
        source.close()
    checks.append(Check(f"{key}.reference", monitor.name, True, f"{len(reference):,} rows read"))
    checks += [
        _column_check(f"{key}.columns[{i}]", column, reference, current)
        for i, column in enumerate(monitor.columns)
    ]
    checks += [
        _segment_check(f"{key}.segments[{i}]", segment, reference, current)
        for i, segment in enumerate(monitor.segments)
    ]
    return checks + _performance_checks(f"{key}.performance", monitor, reference, current)


def _segment_check(key: str, segment: str, reference: pd.DataFrame, current: pd.DataFrame) -> Check:
    """A segment column is in the reference and the latest window; how many values it has."""
    frames = [("the reference", reference)] + (
        [("the latest window", current)] if len(current) else []
    )
    for what, frame in frames:
        try:
            require_columns(frame, [segment], what)
        except DataError as exc:
            return Check(key, segment, False, str(exc))
    values = reference[segment].nunique()
    return Check(
        key, segment, True, f"{values} values in the {len(reference):,} reference rows read"
    )


def _example_message(receiver: ReceiverSettings) -> OutboundMessage:
    """What the receiver would be sent first: a firing alert, or a completed run for a sink."""
    if NOTIFIERS[receiver.type].sink:
        at = EXAMPLE_EVENT.started_at
        reference = RunReference("0" * 64, "file", "the files example.parquet")
        payload = RunCompleted("example", 1, at, "succeeded", False, (), reference).to_payload()
        return OutboundMessage("msg_example", RUN_COMPLETED, payload, at, 1)
    return OutboundMessage(
        "msg_example",
        EXAMPLE_EVENT.event_type,
        EXAMPLE_EVENT.to_payload(),
        EXAMPLE_EVENT.started_at,
        1,
    )


def receiver_endpoint(notifier: AnyNotifier, receiver: ReceiverSettings) -> tuple[str, int] | None:
    """The host and port the worker connects to for this receiver; None if it sends nothing.

    An HTTP notifier's request is built (reading its secrets) but never sent
    nor authenticated: authentication may fetch a token over the network.
    """
    if isinstance(notifier, DirectNotifier):
        return notifier.host, notifier.port
    request = notifier.build_request(_example_message(receiver))
    if request is None:
        return None
    url = request.url
    return url.host, url.port or (443 if url.scheme == "https" else 80)


def check_receiver(
    index: int,
    receiver: ReceiverSettings,
    notifier: AnyNotifier,
    egress: EgressPolicy,
    timeout: float,
) -> Check:
    """Where the receiver's messages go, whether the egress check allows it, and a TCP connect."""
    key = f"receivers[{index}]"
    try:
        endpoint = receiver_endpoint(notifier, receiver)
    except SecretError as exc:
        return Check(key, receiver.name, False, f"cannot tell where it sends: {exc}")
    except Exception as exc:
        # A request being built may quote its URL or a header: the class only.
        detail = f"cannot tell where it sends: {type(exc).__name__} while building the request"
        return Check(key, receiver.name, False, detail)
    if endpoint is None:
        return Check(key, receiver.name, True, "sends nothing to reach")
    host, port = endpoint
    try:
        egress.check_host(host)
    except EgressRefused as exc:
        return Check(key, receiver.name, False, f"not contacted: {exc}")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except TimeoutError:
        detail = f"cannot connect to {host}:{port}: no answer within {timeout:g}s"
        return Check(key, receiver.name, False, detail)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        return Check(key, receiver.name, False, f"cannot connect to {host}:{port}: {why}")
    return Check(key, receiver.name, True, f"{host}:{port} accepts connections")


def run_connect_checks(
    settings: Settings,
    redact: Callable[[str], str],
    *,
    egress: EgressPolicy | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> list[Check]:
    """Every monitor's checks, then every receiver's, in config order; details redacted."""
    policy = egress if egress is not None else EgressPolicy(settings.delivery.allow_hosts)
    notifiers = build_notifiers(settings.receivers)
    timeout = settings.delivery.timeout.total_seconds()
    now = clock()
    with ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="connect-check") as pool:
        monitors = [
            pool.submit(check_monitor, i, monitor, now)
            for i, monitor in enumerate(settings.monitors)
        ]
        receivers = [
            pool.submit(check_receiver, i, r, notifiers[r.name], policy, timeout)
            for i, r in enumerate(settings.receivers)
        ]
        found = [c for f in monitors for c in f.result()] + [f.result() for f in receivers]
    return [dataclasses.replace(check, detail=redact(check.detail)) for check in found]
