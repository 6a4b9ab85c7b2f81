"""`driftwarden silences add|list|expire`: mute notifications for a while (deploys, known bugs)."""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import datetime

from sqlalchemy import Engine

from monitor.alerts.silences import Matcher, Silence
from monitor.config import Settings
from monitor.durations import parse_duration
from monitor.settings_base import ConfigError
from monitor.store.alerts import add_silence, expire_silence, list_silences
from monitor.store.engine import make_engine, upgrade
from monitor.store.models import utcnow


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    silences = commands.add_parser("silences", help="mute alert notifications by label matchers")
    actions = silences.add_subparsers(dest="silences_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a silence")
    add.add_argument("--config", "-c", required=True)
    add.add_argument(
        "--matcher",
        "-m",
        action="append",
        required=True,
        help='label matcher: "monitor=demo", "rule!=drift", "severity=~warn.*" (repeatable)',
    )
    add.add_argument("--duration", "-d", default="2h", help='how long, e.g. "30m", "2h" (2h)')
    add.add_argument("--start", help="ISO-8601 start (default: now)")
    add.add_argument("--comment", required=True, help="why (shown in `silences list`)")
    add.add_argument("--author", default=None, help="who (default: the login name)")
    listing = actions.add_parser("list", help="active and upcoming silences")
    listing.add_argument("--config", "-c", required=True)
    listing.add_argument("--all", action="store_true", help="include expired silences")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("--config", "-c", required=True)
    expire.add_argument("id", type=int)


def _silence_dict(silence: Silence) -> dict[str, object]:
    return {
        "id": silence.id,
        "matchers": [str(m) for m in silence.matchers],
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "comment": silence.comment,
        "created_by": silence.created_by,
    }


def run(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.store.resolved_url())
    upgrade(engine)
    try:
        return _dispatch(engine, args)
    finally:
        engine.dispose()


def _dispatch(engine: Engine, args: argparse.Namespace) -> int:
    now = utcnow()
    if args.silences_command == "add":
        try:
            matchers = [Matcher.parse(text) for text in args.matcher]
            duration = parse_duration(args.duration)
            start = datetime.fromisoformat(args.start) if args.start else now
        except ValueError as exc:
            raise ConfigError(f"silences add: {exc}") from None
        if start.tzinfo is None:
            raise ConfigError("silences add: --start needs a time zone, e.g. 2026-12-01T09:00Z")
        silence = add_silence(
            engine,
            matchers,
            start,
            start + duration,
            args.comment,
            args.author or getpass.getuser(),
        )
        print(f"silence {silence.id} added until {silence.ends_at.isoformat()}")
        return 0
    if args.silences_command == "list":
        silences = list_silences(engine, include_expired=args.all, now=now)
        if args.format == "json":
            print(json.dumps([_silence_dict(s) for s in silences], indent=2))
            return 0
        if not silences:
            print("no silences")
        for s in silences:
            state = "active" if s.active(now) else ("expired" if s.ends_at <= now else "upcoming")
            shown = ",".join(str(m) for m in s.matchers)
            print(
                f"{s.id:>4}  {state:<8}  {shown}  until {s.ends_at:%Y-%m-%d %H:%M}Z  "
                f"{s.created_by}: {s.comment}"
            )
        return 0
    if not expire_silence(engine, args.id, now):
        raise ConfigError(f"silences expire: no silence with id {args.id}")
    print(f"silence {args.id} expired")
    return 0
