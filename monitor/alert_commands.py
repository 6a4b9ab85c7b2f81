"""`driftwarden alerts list`: what is firing now, and what changed lately (``/api/alerts``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from monitor.alert_listing import DEFAULT_TRANSITIONS, ConfiguredRules, list_alerts
from monitor.config import Settings
from monitor.settings_base import ConfigError
from monitor.store.engine import make_engine, upgrade

STATES = ("inactive", "pending", "firing", "resolved")


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    alerts = commands.add_parser("alerts", help="where each rule's alert stands")
    actions = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="every rule's alert and the recent changes, with the runs that made them"
    )
    listing.add_argument("--config", "-c", required=True)
    listing.add_argument("--monitor", "-m", help="only this monitor")
    listing.add_argument("--state", choices=STATES, help="only alerts in it, and changes into it")
    listing.add_argument(
        "--limit", "-n", type=int, default=DEFAULT_TRANSITIONS, help="recent changes (50)"
    )
    listing.add_argument("--format", choices=("text", "json"), default="text")


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.monitor is not None:
        settings.monitor(args.monitor)
    if args.limit < 1:
        raise ConfigError(f"alerts list: --limit must be at least 1, got {args.limit}")
    engine = make_engine(settings.store.resolved_url())
    upgrade(engine)
    try:
        listing = list_alerts(
            engine, ConfiguredRules.of(settings.monitors), args.monitor, args.state, args.limit
        )
    finally:
        engine.dispose()
    print(json.dumps(listing, indent=2) if args.format == "json" else to_text(listing))
    return 0


def _run(run_id: int | None) -> str:
    return "-" if run_id is None else f"run {run_id}"


def _when(moment: str) -> str:
    """An API time as `history` writes one: "2026-11-25 12:00:30Z"."""
    return moment[:19].replace("T", " ") + "Z"


def to_text(listing: dict[str, Any]) -> str:
    """Two tables: the alerts by monitor and rule, then the changes, newest first.

    >>> print(to_text({"alerts": [], "transitions": []}))
    no alerts
    """
    alerts, changes = listing["alerts"], listing["transitions"]
    if not alerts and not changes:
        return "no alerts"
    lines = []
    for a in alerts:
        lines.append(
            f"{a['monitor']}  {a['rule']:<16}  {a['state']:<8}  {a['severity']:<8}  "
            f"since {_when(a['since'])}  {_run(a['run_id'])}"
        )
    if changes:
        lines += ["", "recent changes, newest first:"]
    for t in changes:
        lines.append(
            f"{_when(t['at'])}  {t['monitor']}  {t['rule']:<16}  "
            f"{t['from']} -> {t['to']}  {_run(t['run_id'])}"
        )
    return "\n".join(lines).lstrip("\n")
