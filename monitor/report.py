"""How `check` and `compare` print results: a readable table or JSON for CI."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors import ColumnResult


@dataclass(frozen=True)
class MonitorReport:
    """One monitor's outcome; ``monitor`` is None for `compare`, which has no monitor."""

    monitor: str | None
    status: str
    drifted: bool | None
    reason: str
    results: Sequence[ColumnResult] = field(default_factory=tuple)
    run_id: int | None = None


def column_entry(result: ColumnResult) -> dict[str, Any]:
    return {
        "column": result.column,
        "method": result.method,
        "statistic": result.statistic,
        "p_value": result.p_value,
        "p_value_adjusted": result.p_value_adjusted,
        "threshold": result.threshold,
        "effect": result.effect,
        "effect_floor": result.effect_floor,
        "drifted": result.drifted,
        "n_reference": result.n_reference,
        "n_current": result.n_current,
        "status": result.status,
        "reason": result.reason,
    }


def to_json(reports: Sequence[MonitorReport]) -> str:
    columns = []
    for report in reports:
        for result in report.results:
            entry = column_entry(result)
            if report.monitor is not None:
                entry = {"monitor": report.monitor, **entry}
            columns.append(entry)
    body: dict[str, Any] = {
        "drifted": any(report.drifted for report in reports),
        "columns": columns,
    }
    if any(report.monitor is not None for report in reports):
        body["monitors"] = [
            {
                "monitor": report.monitor,
                "run_id": report.run_id,
                "status": report.status,
                "drifted": report.drifted,
                "reason": report.reason,
            }
            for report in reports
        ]
    return json.dumps(body, indent=2)


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"


def to_text(reports: Sequence[MonitorReport]) -> str:
    lines: list[str] = []
    for report in reports:
        title = f"monitor {report.monitor}" if report.monitor else "comparison"
        run = f" (run {report.run_id})" if report.run_id is not None else ""
        lines.append(f"{title}{run}: {report.status}: {report.reason}")
        if report.results:
            header = ("column", "method", "statistic", "p-value", "threshold", "drifted", "why")
            rows = [
                (
                    r.column,
                    r.method,
                    _number(r.statistic),
                    _number(r.p_value_adjusted if r.p_value_adjusted is not None else r.p_value),
                    _number(r.threshold),
                    "DRIFT" if r.drifted else "no",
                    r.reason,
                )
                for r in report.results
            ]
            widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
            for row in [header, *rows]:
                cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
                lines.append("  " + "  ".join(cells) + "  " + row[-1])
        lines.append("")
    return "\n".join(lines)
