"""The load the suite puts on the daemon: data with planted drift, monitors, receivers.

Every monitor runs "every 2s" over a 2-second window whose drift flips on
and off, so alerts fire and resolve every few seconds:

- ``file-a``, ``file-b``: Parquet files whose ``x`` and ``c`` shift in every
  other period of 10 s (``file-a``) and 14 s (``file-b``);
- ``demo``: the built-in demo source, drifting 8 s in every 16;
- ``sql``: a table in the suite's own PostgreSQL, shifting every other 12 s;
- ``hung-tcp``: a SQL source whose server (``TcpFault("hang")``) accepts and never
  answers; ``hung-pg``: a query that waits in ``pg_sleep`` for a day.

Each drifting monitor tells three receivers: ``healthy`` (always 200),
``flaky`` (refuses for a while, then comes back) and ``hung`` (never answers).
Only keys that exist in the config today are written; ``--set`` adds others
(``apply_overrides``), so the same scenario runs before and after a change.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

SCHEDULE = "every 2s"
SLOT_SECONDS = 2.0
ROWS_PER_SECOND = 100
HEALTHY_MONITORS = ("file-a", "file-b", "demo", "sql")
HUNG_MONITORS = ("hung-tcp", "hung-pg")
STEADY_MONITOR = "file-a"
"""The healthy monitor whose runs are counted against its slots while the hung ones exist."""
RECORDING_RECEIVERS = ("healthy", "flaky")
LATENCY_RECEIVER = "healthy"
FILE_PERIODS = {"file-a": 10, "file-b": 14}
SQL_PERIOD = 12
ENV_PREFIX = "RELIABILITY_"

_COLUMNS = [
    {"name": "x", "kind": "numeric"},
    {"name": "y", "kind": "numeric"},
    {"name": "c", "kind": "categorical"},
]
_CATEGORIES = np.array(["a", "b", "c"])
_CALM_SHARES = [0.6, 0.3, 0.1]
_SHIFTED_SHARES = [0.1, 0.3, 0.6]


def _rows(rng: np.random.Generator, n: int, shifted: np.ndarray) -> pd.DataFrame:
    calm = rng.choice(_CATEGORIES, n, p=_CALM_SHARES)
    moved = rng.choice(_CATEGORIES, n, p=_SHIFTED_SHARES)
    return pd.DataFrame(
        {
            "x": rng.normal(0.0, 1.0, n) + np.where(shifted, 1.5, 0.0),
            "y": rng.normal(5.0, 2.0, n),
            "c": np.where(shifted, moved, calm),
        }
    )


def write_files(directory: Path, start: datetime, end: datetime, seed: int) -> None:
    """The reference and one live Parquet file per file monitor, covering [start, end)."""
    rng = np.random.default_rng(seed)
    _rows(rng, 3000, np.zeros(3000, dtype=bool)).to_parquet(directory / "reference.parquet")
    seconds = (end - start).total_seconds()
    n = int(seconds * ROWS_PER_SECOND)
    offsets = np.sort(rng.uniform(0.0, seconds, n))
    epoch = start.timestamp() + offsets
    for name, period in FILE_PERIODS.items():
        shifted = (np.floor(epoch / period) % 2) == 1
        frame = _rows(rng, n, shifted)
        frame.insert(0, "ts", pd.Timestamp(start) + pd.to_timedelta(offsets, unit="s"))
        frame.to_parquet(directory / f"live-{name}.parquet")


def write_table(url: str, start: datetime, end: datetime, seed: int) -> None:
    """Table ``events`` of the SQL monitors, generated in the database itself."""
    engine = create_engine(url)
    step = f"{1000 // ROWS_PER_SECOND} milliseconds"
    normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
    shifted = f"(floor(extract(epoch FROM ts) / {SQL_PERIOD})::bigint % 2 = 1)"
    try:
        with engine.begin() as connection:
            connection.execute(text("SELECT setseed(:seed)"), {"seed": (seed % 1000) / 1000})
            connection.execute(
                text(
                    f"""
                    CREATE TABLE events AS
                    SELECT ts,
                           {normal} + CASE WHEN {shifted} THEN 1.5 ELSE 0 END AS x,
                           5 + 2 * {normal} AS y,
                           CASE WHEN random() < CASE WHEN {shifted} THEN 0.1 ELSE 0.6 END
                                THEN 'a'
                                WHEN random() < 0.5 THEN 'b'
                                ELSE 'c' END AS c
                    FROM generate_series(CAST(:start AS timestamptz),
                                         CAST(:end AS timestamptz),
                                         CAST('{step}' AS interval)) AS ts
                    """
                ),
                {"start": start, "end": end},
            )
            connection.execute(text("CREATE INDEX events_ts ON events (ts)"))
    finally:
        engine.dispose()


def _demo_reference_end(cycle: int, calm: int) -> datetime:
    """A past window end in the demo's calm phase (phase < cycle - drift)."""
    end = datetime(2026, 1, 1, tzinfo=UTC)
    phase = int(end.timestamp()) % cycle
    return end - timedelta(seconds=phase) + timedelta(seconds=calm // 2)


def _monitor(name: str, receivers: list[str], source: dict[str, Any], reference: Any) -> Any:
    return {
        "name": name,
        "schedule": SCHEDULE,
        "window": "2s",
        "receivers": receivers,
        "source": source,
        "reference": reference,
        "columns": _COLUMNS,
        # Pooled windows would keep a column drifted for 16 runs after a flip.
        "thresholds": {"sequential_scales": []},
    }


def build_config(
    directory: Path,
    port: int,
    hung_sources: int,
    hung_receiver: bool,
) -> dict[str, Any]:
    """The daemon's config as a TOML document; URLs come from ``RELIABILITY_*`` variables."""
    receivers = [*RECORDING_RECEIVERS, *(["hung"] if hung_receiver else [])]
    file_reference = {"type": "file", "path": str(directory / "reference.parquet")}
    monitors = [
        _monitor(
            name,
            receivers,
            {
                "type": "file",
                "path": str(directory / f"live-{name}.parquet"),
                "timestamp_column": "ts",
            },
            file_reference,
        )
        for name in FILE_PERIODS
    ]
    demo_end = _demo_reference_end(16, 8)
    demo = _monitor(
        "demo",
        receivers,
        {
            "type": "demo",
            "rows_per_window": 300,
            "drift_cycle": "16s",
            "drift_for": "8s",
            "drift_columns": ["income", "device"],
        },
        {
            "type": "window",
            "start": (demo_end - timedelta(seconds=2)).isoformat(),
            "end": demo_end.isoformat(),
        },
    )
    demo["columns"] = [
        {"name": "income", "kind": "numeric"},
        {"name": "age", "kind": "numeric"},
        {"name": "device", "kind": "categorical"},
    ]
    monitors.append(demo)
    sql_source = {"type": "sql", "url_env": f"{ENV_PREFIX}SOURCE_URL", "timestamp_column": "ts"}
    monitors.append(_monitor("sql", receivers, {**sql_source, "table": "events"}, file_reference))
    # Hung monitors come last: a daemon that catches up slots in config order meets them last.
    hung = [
        _monitor(
            "hung-tcp",
            [],
            {**sql_source, "url_env": f"{ENV_PREFIX}HUNG_SOURCE_URL", "table": "events"},
            file_reference,
        ),
        _monitor(
            "hung-pg",
            [],
            {
                **sql_source,
                "query": "SELECT * FROM events WHERE (SELECT true FROM pg_sleep(86400))",
            },
            file_reference,
        ),
    ]
    monitors.extend(hung[:hung_sources])
    return {
        "store": {"url_env": f"{ENV_PREFIX}STORE_URL"},
        "server": {"listen": f"127.0.0.1:{port}"},
        # Slots missed while a daemon was down are what catch_up is for.
        "scheduler": {"catch_up": True},
        "delivery": {"backoff_initial": "500ms", "backoff_max": "15s"},
        "monitors": monitors,
        "receivers": [
            {"name": name, "type": "webhook", "url_env": f"{ENV_PREFIX}{name.upper()}_URL"}
            for name in receivers
        ],
    }


class OverrideError(ValueError):
    """A ``--set`` that does not fit the document; the message names it."""


def parse_override(text_: str) -> tuple[list[str], Any]:
    """``a.b.c=VALUE``: VALUE as a TOML value (``"5s"``, ``20``, ``true``), else as a string."""
    path, sep, raw = text_.partition("=")
    if not sep or not path.strip():
        raise OverrideError(f'--set {text_!r}: expected "dotted.key=value"')
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path.strip().split("."), value


def apply_overrides(document: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Set each ``dotted.key=value`` in ``document``; a list element is named or ``*``.

    >>> doc = {"scheduler": {}, "monitors": [{"name": "a"}, {"name": "b"}]}
    >>> apply_overrides(doc, ["scheduler.run_timeout=20s", 'monitors.b.window="4s"'])["scheduler"]
    {'run_timeout': '20s'}
    >>> doc["monitors"]
    [{'name': 'a'}, {'name': 'b', 'window': '4s'}]
    """
    for override in overrides:
        path, value = parse_override(override)
        _set(document, path, value, override)
    return document


def _set(node: Any, path: list[str], value: Any, override: str) -> None:
    head, rest = path[0], path[1:]
    if isinstance(node, list):
        chosen = [item for item in node if head in ("*", item.get("name"))]
        if not chosen:
            names = ", ".join(str(item.get("name")) for item in node)
            raise OverrideError(f"--set {override!r}: no element named {head!r} (known: {names})")
        for item in chosen:
            _set(item, rest, value, override)
        return
    if not rest:
        node[head] = value
        return
    child = node.setdefault(head, {})
    if not isinstance(child, dict | list):
        raise OverrideError(f"--set {override!r}: {head!r} is a value, not a table")
    _set(child, rest, value, override)


def to_toml(document: Mapping[str, Any]) -> str:
    """TOML for the plain documents ``build_config`` makes (tables, arrays of tables, values).

    >>> print(to_toml({"a": 1, "t": {"s": "x"}, "m": [{"n": "p", "u": {"k": [1, 2]}}]}))
    a = 1
    <BLANKLINE>
    [t]
    s = "x"
    <BLANKLINE>
    [[m]]
    n = "p"
    <BLANKLINE>
    [m.u]
    k = [1, 2]
    <BLANKLINE>
    """
    lines: list[str] = []
    _emit(lines, [], document, array=False)
    return "\n".join(lines).lstrip("\n") + "\n"


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit(lines: list[str], path: list[str], table: Mapping[str, Any], array: bool) -> None:
    values = {k: v for k, v in table.items() if not isinstance(v, dict) and not _is_tables(v)}
    if path:
        header = ".".join(_key(part) for part in path)
        lines.append("")
        lines.append(f"[[{header}]]" if array else f"[{header}]")
    lines.extend(f"{_key(key)} = {_value(value)}" for key, value in values.items())
    for key, value in table.items():
        if isinstance(value, dict):
            _emit(lines, [*path, key], value, array=False)
        elif _is_tables(value):
            for item in value:
                _emit(lines, [*path, key], item, array=True)


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum()
    return key if bare else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
