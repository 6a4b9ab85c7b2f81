"""The `driftwarden` command.

Exit codes, for CI gates: 0 no drift, 1 drift, 2 error (bad config, data or
store; the message says which key, column or file). Since 1 means drift, an
unexpected error must never escape as Python's own exit 1: it exits 2 with one
line on stderr, and ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from argparse import Namespace
from collections.abc import Sequence
from pathlib import Path

from monitor import alert_commands, silence_commands
from monitor.commands import EXIT_ERROR
from monitor.config import Settings, load_settings
from monitor.logs import LogFormat, configure_logging
from monitor.secrets import SecretError
from monitor.settings_base import ConfigError


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        required=True,
        type=Path,
        help="TOML config file (see config.example.toml)",
    )


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="driftwarden", description="Drift monitoring for ML models in production."
    )
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING"))
    parser.add_argument(
        "--log-format",
        default="text",
        choices=("text", "json"),
        help="json: one JSON object per line on stderr (time, level, logger, message, ...)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an unexpected error"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the daemon (scheduler, delivery, HTTP)")
    _add_config(run)

    check = commands.add_parser("check", help="run every monitor once now; exit 1 on drift")
    _add_config(check)
    check.add_argument("--monitor", "-m", action="append", help="only this monitor (repeatable)")
    _add_format(check)

    compare = commands.add_parser(
        "compare", help="compare two Parquet/CSV files column by column; exit 1 on drift"
    )
    compare.add_argument("reference", type=Path)
    compare.add_argument("current", type=Path)
    compare.add_argument("--columns", help="comma-separated columns (default: all of reference)")
    _add_format(compare)

    validate = commands.add_parser("validate", help="check a config file and exit")
    _add_config(validate)
    validate.add_argument(
        "--connect",
        action="store_true",
        help="also read each source and reference and reach each receiver; exit 2 on a problem",
    )
    _add_format(validate)

    db = commands.add_parser("db", help="store maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="apply schema migrations")
    _add_config(upgrade)

    history = commands.add_parser("history", help="recent runs of one monitor")
    _add_config(history)
    history.add_argument("--monitor", "-m", required=True)
    history.add_argument("--limit", "-n", type=int, default=20)
    _add_format(history)

    deliveries = commands.add_parser("deliveries", help="the outbox: list and replay messages")
    delivery_commands = deliveries.add_subparsers(
        dest="deliveries_command", required=True, metavar="ACTION"
    )
    listing = delivery_commands.add_parser("list", help="recent messages, newest first")
    _add_config(listing)
    listing.add_argument(
        "--status", choices=("pending", "sending", "delivered", "dead", "superseded")
    )
    listing.add_argument("--limit", "-n", type=int, default=50)
    _add_format(listing)
    replay = delivery_commands.add_parser(
        "replay", help="send a dead or delivered message again (same message_id)"
    )
    _add_config(replay)
    replay.add_argument("id", metavar="ID", help="the row id or the message_id")
    backtest = commands.add_parser(
        "backtest",
        help="replay a monitor over past slots in memory, sending nothing; exit 1 if it alerts",
    )
    _add_config(backtest)
    backtest.add_argument("--monitor", "-m", required=True)
    backtest.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="T0",
        help="start of the range, included: ISO-8601 date or datetime (no offset: UTC)",
    )
    backtest.add_argument(
        "--to", dest="end", required=True, metavar="T1", help="end of the range, excluded"
    )
    _add_format(backtest)
    silence_commands.add_parsers(commands)
    alert_commands.add_parsers(commands)
    return parser


def _fail(message: str, log_format: LogFormat = "text", exc: BaseException | None = None) -> int:
    """The one line of an error; with ``--log-format json`` a JSON log line like every other."""
    if log_format == "json":
        logging.getLogger("driftwarden").error(message, exc_info=exc)
    else:
        print(f"driftwarden: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _unexpected(command: str, exc: Exception, settings: Settings | None, args: Namespace) -> int:
    """One line naming what failed (secrets shown as their variables); the traceback on --debug.

    In ``json`` the traceback is that line's ``exception`` field, not lines of its own.
    """
    text = " ".join(str(exc).split()) or "no message"
    if settings is not None:
        from monitor.daemon import resolved_secrets

        for env_name, value in resolved_secrets(settings):
            text = text.replace(value, f"${env_name}")
    if args.debug and args.log_format == "text":
        traceback.print_exc(file=sys.stderr)
    hint = "" if args.debug else " (--debug shows the traceback)"
    message = f"{command} failed unexpectedly: {type(exc).__name__}: {text[:500]}{hint}"
    return _fail(message, args.log_format, exc if args.debug else None)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format, tracebacks=args.debug)
    from monitor.backtest import BacktestError
    from monitor.compare import CompareError
    from monitor.daemon import DaemonError
    from monitor.delivery.admin import DeliveryAdminError
    from monitor.sources.base import SourceError
    from monitor.store.engine import StoreError

    settings: Settings | None = None
    try:
        if args.command != "compare":
            settings = load_settings(args.config)
        return _dispatch(args, settings)
    except (
        ConfigError,
        SecretError,
        StoreError,
        SourceError,
        CompareError,
        DaemonError,
        DeliveryAdminError,
        BacktestError,
    ) as exc:
        return _fail(str(exc), args.log_format)
    except KeyboardInterrupt:
        return EXIT_ERROR
    except Exception as exc:
        return _unexpected(args.command, exc, settings, args)


def _dispatch(args: argparse.Namespace, settings: Settings | None) -> int:
    from monitor import commands

    if args.command == "compare":
        return commands.compare(args.reference, args.current, args.columns, args.format)
    assert settings is not None  # every other command reads --config
    if args.command == "validate":
        return commands.validate(settings, args.config, args.connect, args.format)
    if args.command == "run":
        return commands.run(settings)
    if args.command == "check":
        return commands.check(settings, args.monitor, args.format)
    if args.command == "db":
        return commands.db_upgrade(settings)
    if args.command == "history":
        return commands.history(settings, args.monitor, args.limit, args.format)
    if args.command == "backtest":
        return commands.backtest(
            settings,
            args.monitor,
            args.start,
            args.end,
            args.format,
            quiet=args.log_level != "DEBUG",
        )
    if args.command == "silences":
        return silence_commands.run(settings, args)
    if args.command == "alerts":
        return alert_commands.run(settings, args)
    if args.command == "deliveries" and args.deliveries_command == "list":
        return commands.deliveries_list(settings, args.status, args.limit, args.format)
    if args.command == "deliveries":
        return commands.deliveries_replay(settings, args.id)
    return _fail(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
