"""What each CLI command does, separate from argument parsing so tests can call it."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from monitor.compare import compare_frames
from monitor.config import Settings, missing_secrets
from monitor.delivery.signing import SigningKeyError, signing_key
from monitor.notifiers.registry import signing_secrets
from monitor.report import MonitorReport, to_json, to_text
from monitor.runner import run_check
from monitor.secrets import SecretError, resolve_secret
from monitor.settings_base import ConfigError, http_url_problem
from monitor.sources.file import read_frame
from monitor.store.engine import make_engine, upgrade
from monitor.store.models import utcnow
from monitor.store.outbox import Status
from monitor.store.queries import list_runs

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


def _exit_code(reports: list[MonitorReport]) -> int:
    if any(report.status in ("failed", "empty") for report in reports):
        return EXIT_ERROR
    return EXIT_DRIFT if any(report.drifted for report in reports) else EXIT_OK


def _print(reports: list[MonitorReport], output_format: str) -> None:
    print(to_json(reports) if output_format == "json" else to_text(reports))


NO_MONITORS = "monitors: the config defines no [[monitors]]"


def malformed_secrets(settings: Settings) -> list[str]:
    """One message per secret that is set but cannot work, naming its key and variable.

    A signing secret must be a Standard Webhooks secret and a receiver's
    ``url_env`` an http(s) URL; either would otherwise fail every delivery.
    The messages never hold the value. Unset ones are ``missing_secrets``'.
    """
    signing = signing_secrets(settings.receivers)
    problems = []
    for index, receiver in enumerate(settings.receivers):
        checks = [
            ("url_env", getattr(receiver, "url_env", None), http_url_problem),
            ("secret_env", signing[receiver.name], _signing_secret_problem),
        ]
        for field_name, env_name, problem_of in checks:
            key = f"receivers[{index}].{field_name}"
            if env_name is None:
                continue
            try:
                value = resolve_secret(env_name, key)
            except SecretError:
                continue
            problem = problem_of(value)
            if problem is not None:
                problems.append(f"{key}: the value of {env_name} is unusable: {problem}")
    return problems


def _signing_secret_problem(secret: str) -> str | None:
    try:
        signing_key(secret)
    except SigningKeyError as exc:
        return str(exc)
    return None


def validate(
    settings: Settings, path: Path, connect: bool = False, output_format: str = "text"
) -> int:
    """Valid config; secrets not set here are warnings (CI validating a config may lack them).

    A secret that is set but malformed is an error: the daemon would refuse it.
    ``connect`` also opens every source and reference and reaches every
    receiver (``monitor.connect_checks``): exit 2 when any of that fails.
    """
    if not settings.monitors:
        raise ConfigError(f"{path}: {NO_MONITORS}")
    malformed = malformed_secrets(settings)
    if malformed:
        raise SecretError(f"{path}: " + "; ".join(malformed))
    from monitor.auth import check_exposure

    warnings = list(missing_secrets(settings))
    try:
        check_exposure(settings.server)
    except ConfigError as exc:
        warnings.append(f"`run` will refuse to start: {exc}")
    checks = []
    if connect:
        from monitor.connect_checks import run_connect_checks
        from monitor.daemon import build_redactor

        checks = run_connect_checks(settings, build_redactor(settings))
    problems = sum(not check.ok for check in checks)
    summary = f"{len(settings.monitors)} monitors, {len(settings.receivers)} receivers"
    if output_format == "json":
        report = {
            "config": str(path),
            "valid": True,
            "monitors": len(settings.monitors),
            "receivers": len(settings.receivers),
            "warnings": warnings,
            "checks": [check.to_dict() for check in checks],
            "problems": problems,
        }
        print(json.dumps(report, indent=2))
    else:
        print(f"{path}: valid ({summary})")
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for check in checks:
            print(check.line())
        if connect:
            print(f"{path}: {len(checks)} checks, {problems} problems")
    return EXIT_ERROR if problems else EXIT_OK


def run(settings: Settings) -> int:
    """The daemon refuses to start with nothing to monitor or a secret missing or malformed.

    Better now than at the first alert.
    """
    from monitor.daemon import run_daemon

    if not settings.monitors:
        raise ConfigError(f"cannot start: {NO_MONITORS}")
    unusable = missing_secrets(settings) + malformed_secrets(settings)
    if unusable:
        raise SecretError("cannot start: " + "; ".join(unusable))
    return run_daemon(settings)


def db_upgrade(settings: Settings) -> int:
    engine = make_engine(settings.store.resolved_url())
    upgrade(engine)
    engine.dispose()
    print("store is at the latest schema")
    return EXIT_OK


def check(settings: Settings, monitor_names: list[str] | None, output_format: str) -> int:
    """Run the chosen monitors once, now, stored like scheduled runs (trigger "check")."""
    from monitor.daemon import build_services

    monitors = (
        [settings.monitor(name) for name in monitor_names] if monitor_names else settings.monitors
    )
    if not monitors:
        raise ConfigError(f"nothing to check: {NO_MONITORS}")
    services = build_services(settings)
    reports = []
    for monitor in monitors:
        outcome = run_check(services.context, monitor, utcnow(), "check")
        if outcome is None:
            reports.append(MonitorReport(monitor.name, "skipped", None, "slot already claimed"))
            continue
        reports.append(
            MonitorReport(
                monitor.name,
                outcome.status,
                outcome.drifted,
                outcome.reason,
                outcome.results,
                outcome.run_id,
            )
        )
    services.engine.dispose()
    _print(reports, output_format)
    return _exit_code(reports)


def compare(reference: Path, current: Path, columns: str | None, output_format: str) -> int:
    reference_frame = read_frame(str(reference), "auto", limit=None, seed=0)
    current_frame = read_frame(str(current), "auto", limit=None, seed=0)
    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    results = compare_frames(reference_frame, current_frame, columns=chosen)
    drifted = any(result.drifted for result in results)
    drifted_names = [result.column for result in results if result.drifted]
    reason = f"{len(drifted_names)} of {len(results)} columns drifted" + (
        f" ({', '.join(drifted_names)})" if drifted_names else ""
    )
    _print([MonitorReport(None, "compared", drifted, reason, results)], output_format)
    return EXIT_DRIFT if drifted else EXIT_OK


def history(settings: Settings, monitor: str, limit: int, output_format: str) -> int:
    """The monitor's last runs, each with its outcome in the report pages' words and the
    alerts it changed."""
    from monitor.pages.formatting import verdict

    settings.monitor(monitor)
    engine = make_engine(settings.store.resolved_url())
    upgrade(engine)
    runs = list_runs(engine, monitor=monitor, limit=limit, before_id=None)
    engine.dispose()
    if output_format == "json":
        print(json.dumps([run.to_dict() for run in runs], indent=2))
        return EXIT_OK
    if not runs:
        print(f"monitor {monitor}: no runs stored yet")
        return EXIT_OK
    for run in runs:
        # The report pages' word: only a run that succeeded can be "ok".
        drift = verdict(run.status, run.drifted)
        reference = f"  [reference {run.reference.summary()}]" if run.reference else ""
        changes = ", ".join(f"{t.rule} {t.from_state}->{t.to_state}" for t in run.alert_transitions)
        print(
            f"{run.id:>6}  {run.scheduled_for:%Y-%m-%d %H:%M:%S}Z  {run.trigger:<8}  "
            f"{run.status:<9}  {drift:<7}  {run.reason or ''}{reference}"
            + (f"  [alerts: {changes}]" if changes else "")
        )
    return EXIT_OK


def deliveries_list(
    settings: Settings, status: Status | None, limit: int, output_format: str
) -> int:
    from monitor.delivery.admin import list_deliveries, render

    engine = make_engine(settings.store.resolved_url())
    upgrade(engine)
    try:
        views = list_deliveries(engine, status, limit)
    finally:
        engine.dispose()
    print(render(views, output_format))
    return EXIT_OK


def deliveries_replay(settings: Settings, key: str) -> int:
    """Back to pending now; the daemon's worker sends it at its next poll."""
    from monitor.delivery.admin import replay_delivery

    engine = make_engine(settings.store.resolved_url())
    upgrade(engine)
    try:
        view = replay_delivery(engine, key, utcnow())
    finally:
        engine.dispose()
    print(
        f"delivery {view.id} ({view.message_id} to {view.receiver}) is pending again "
        f"(earlier attempts kept: {view.attempts})"
    )
    return EXIT_OK


def backtest(
    settings: Settings,
    monitor_name: str,
    start: str,
    end: str,
    output_format: str,
    *,
    quiet: bool = True,
) -> int:
    """Replay a monitor over past slots in memory; exit 1 when an alert would have fired.

    ``quiet`` keeps the runner's log line per run (and warning per failed run)
    and the alerts' line per firing and resolution out of stderr: the output
    lists every run with its reason and every alert already.
    """
    from monitor.backtest import parse_moment, run_backtest
    from monitor.backtest import to_json as backtest_json
    from monitor.backtest import to_text as backtest_text

    monitor = settings.monitor(monitor_name)
    first, last = parse_moment(start, "--from"), parse_moment(end, "--to")
    loggers = [logging.getLogger(name) for name in ("driftwarden.runner", "driftwarden.alerting")]
    levels = [logger.level for logger in loggers]
    if quiet:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
    try:
        result = run_backtest(settings, monitor, first, last)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    print(backtest_json(result) if output_format == "json" else backtest_text(result))
    return EXIT_DRIFT if result.fired else EXIT_OK
