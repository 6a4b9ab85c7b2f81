"""The process's logging: text lines for people, or one JSON object per line for a pipeline.

What a record is about (the monitor, the run, the receiver and message of a
delivery) is attached by context, not by argument: the runner and the
delivery worker open ``log_context(...)`` around a run or a delivery, and a
filter on the handler copies those fields onto every record logged inside
it, by whichever module (profiles, sources, alerting) or library. That keeps
the many existing log calls as they are and spares every helper a
``monitor`` parameter it would only pass on. The fields live in a
``contextvars.ContextVar``, so they are per thread (each run and the
delivery loop have their own) and a ``with`` block cannot leak them into
the next run. A call may still pass a field itself with ``extra=`` (an
alert's ``rule``); a field set that way wins over the context.

Nothing here adds text to a message: what a record says is what its call
wrote, and the calls never write secrets (``monitor.redaction``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final, Literal

LogFormat = Literal["text", "json"]

CONTEXT_FIELDS: Final = ("monitor", "run_id", "receiver", "message_id", "rule")
"""The fields a JSON line carries when they are known, in this order after the message."""

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

QUIET_LOGGERS: Final = ("httpx", "httpcore", "apscheduler", "alembic")
"""Kept at WARNING: httpx logs every request with its full URL, which may hold a token;
APScheduler logs every job execution, Alembic every plugin it loads. None of that
belongs in an operator's log at INFO."""

_context: ContextVar[Mapping[str, object]] = ContextVar(
    "driftwarden_log_context", default=MappingProxyType({})
)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Attach ``fields`` (of ``CONTEXT_FIELDS``) to every record logged inside the block.

    Nested blocks add to the outer one's fields; each is undone when its block ends.

    >>> with log_context(monitor="churn"), log_context(run_id=7):
    ...     dict(current_context())
    {'monitor': 'churn', 'run_id': 7}
    >>> dict(current_context())
    {}
    """
    unknown = sorted(set(fields) - set(CONTEXT_FIELDS))
    if unknown:
        raise ValueError(f"unknown log context fields {unknown}; known: {list(CONTEXT_FIELDS)}")
    token = _context.set(MappingProxyType({**_context.get(), **fields}))
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> Mapping[str, object]:
    """The fields ``log_context`` blocks around this point attach (read-only)."""
    return _context.get()


class ContextFilter(logging.Filter):
    """Copies the current ``log_context`` fields onto each record, unless it has them already."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: what a log pipeline parses without rules.

    Keys: ``time`` (ISO-8601 UTC, milliseconds), ``level``, ``logger``,
    ``message``, then each of ``CONTEXT_FIELDS`` the record carries, then
    ``exception``. An exception is one string field, never extra lines: its
    whole traceback when ``tracebacks`` (``--debug``), else only its type, as
    its message may quote what the call's own message was careful to leave
    out.

    >>> record = logging.LogRecord("driftwarden.runner", logging.INFO, __file__, 1,
    ...     "run %d of monitor %s: %s", (7, "churn", "no drift"), None)
    >>> record.created, record.monitor, record.run_id = 0.0, "churn", 7
    >>> print(JsonFormatter(tracebacks=False).format(record))  # doctest: +NORMALIZE_WHITESPACE
    {"time": "1970-01-01T00:00:00.000Z", "level": "INFO", "logger": "driftwarden.runner",
     "message": "run 7 of monitor churn: no drift", "monitor": "churn", "run_id": 7}
    """

    def __init__(self, *, tracebacks: bool) -> None:
        super().__init__()
        self._tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, object] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = (
                self.formatException(record.exc_info)
                if self._tracebacks
                else record.exc_info[0].__name__
            )
        return json.dumps(line, ensure_ascii=False, default=str)


def build_handler(log_format: LogFormat, *, tracebacks: bool) -> logging.Handler:
    """A stderr handler in ``log_format`` that attaches the ``log_context`` fields."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter(tracebacks=tracebacks))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(level: str, log_format: LogFormat, *, tracebacks: bool) -> None:
    """The root logger writes ``log_format`` to stderr at ``level`` (``--log-level``).

    As ``logging.basicConfig``, it leaves a root logger that already has
    handlers (a test runner's) alone. Every library logs through the root
    logger: uvicorn (``monitor.api.build_server`` keeps it from installing
    handlers of its own), APScheduler, and Python's warnings once captured, so
    that in ``json`` every line on stderr is a JSON object.
    """
    logging.basicConfig(level=level, handlers=[build_handler(log_format, tracebacks=tracebacks)])
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if log_format == "json":
        logging.captureWarnings(True)
