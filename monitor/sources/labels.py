"""Labels from a place of their own, looked up by the ids of a window's predictions.

In production the true label of a prediction arrives later, often days
later, and lands somewhere else than the prediction log: a table of
outcomes, a file dropped by another team. A label source reads that place
by id. It is not a plug-in family of its own: a backend that can serve
labels declares a ``LabelSpec`` next to its source (``sql_labels``,
``file_labels``), reusing that source's settings for where the rows are and
its readers, and adds the keys every label source shares (``LabelKeys``).

``labels(ids, arrived_by)`` returns the label of each id found, one per id:
when ``arrived_at_column`` is set, only labels that arrived at or before
``arrived_by`` count (a backtest replays the past with the labels known at
each slot), and of several labels of one id the one that arrived last
wins; without it, the last row read wins and every label counts as known.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import pandas as pd
from pydantic import Field, field_validator

from monitor.settings_base import (
    MAX_COLUMN_NAME,
    SettingsModel,
    as_duration,
    check_type_tag,
    env_references,
)
from monitor.sources._frames import to_utc
from monitor.sources.base import SourceError

DEFAULT_COVERAGE = 0.8
DEFAULT_MAX_WAIT = timedelta(days=7)
LOOKUP_CHUNK = 1000
"""Ids per query of a SQL lookup: well under every database's limit of bound parameters."""


class LabelKeys(SettingsModel):
    """What a label table holds and how long a window waits for it.

    ``coverage``: the share of a window's predictions that must have a label
    before its realized metrics count. ``max_wait``: how long after a
    window ends its labels are still awaited; labels arriving later are not
    counted, so a window's result is final once that time has passed.
    """

    id_column: str = Field(min_length=1, max_length=MAX_COLUMN_NAME)
    label_column: str = Field(min_length=1, max_length=MAX_COLUMN_NAME)
    arrived_at_column: str | None = Field(default=None, min_length=1)
    # Excluded from dumps, so not part of a reference's key: how long a run waits for
    # labels does not change what the reference's profile holds.
    coverage: float = Field(default=DEFAULT_COVERAGE, gt=0, le=1, exclude=True)
    max_wait: timedelta = Field(default=DEFAULT_MAX_WAIT, exclude=True)

    _check_wait = field_validator("max_wait", mode="before")(as_duration)


class LabelSettingsModel(LabelKeys):
    """The ``[monitors.performance.labels]`` table of some backend; each narrows ``type``."""

    type: str


class LabelSource(Protocol):
    def labels(self, ids: Sequence[Any], arrived_by: datetime | None) -> pd.Series:
        """The label of each of ``ids`` found (indexed by id), known at ``arrived_by``."""
        ...

    def close(self) -> None:
        """Release connections or handles; the daemon calls it once, at shutdown."""
        ...


LabelFactory = Callable[[Any], LabelSource]


@dataclass(frozen=True, kw_only=True)
class LabelSpec:
    """A source backend that also serves labels: its config tag, settings and builder.

    ``type`` is the tag of the source it belongs to (``monitor.sources``
    checks that one exists) and the only value of the settings' ``type``.
    """

    type: str
    settings: builtins.type[LabelSettingsModel]
    factory: LabelFactory
    secrets: Callable[[LabelSettingsModel], tuple[tuple[str, str], ...]] = env_references

    def __post_init__(self) -> None:
        check_type_tag(self.settings, self.type)


def wanted_ids(ids: Sequence[Any]) -> list[Any]:
    """The distinct, present ids, as plain Python values (what drivers bind)."""
    return list(dict.fromkeys(_plain(value) for value in ids if not pd.isna(value)))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def label_columns(settings: LabelKeys) -> list[str]:
    """The columns a lookup reads: id, label and, when set, the arrival time."""
    columns = [settings.id_column, settings.label_column]
    if settings.arrived_at_column is not None:
        columns.append(settings.arrived_at_column)
    return columns


def missing_columns(settings: LabelKeys, found: Sequence[str], where: str, origin: str) -> None:
    """Raise a SourceError naming the configured column a label table lacks."""
    keys = (
        ("id_column", settings.id_column),
        ("label_column", settings.label_column),
        ("arrived_at_column", settings.arrived_at_column),
    )
    for key, column in keys:
        if column is not None and column not in found:
            raise SourceError(
                f"{origin}: {key} {column!r} not found in {where} "
                f"(columns: {', '.join(map(str, found)) or 'none'})"
            )


def known_labels(
    frame: pd.DataFrame, settings: LabelKeys, arrived_by: datetime | None, origin: str
) -> pd.Series:
    """One label per id of ``frame``, of those known at ``arrived_by`` (see the module)."""
    frame = frame[frame[settings.label_column].notna()].reset_index(drop=True)
    arrived = settings.arrived_at_column
    if arrived is not None:
        stamps = to_utc(frame[arrived], arrived, origin)
        if arrived_by is not None:
            # A label without an arrival time never counts as arrived by a cut-off.
            keep = stamps <= pd.Timestamp(arrived_by)
            frame, stamps = frame[keep], stamps[keep]
        frame = frame.loc[stamps.sort_values(kind="stable", na_position="first").index]
    latest = frame.drop_duplicates(settings.id_column, keep="last")
    labels = pd.Series(
        latest[settings.label_column].to_numpy(),
        index=pd.Index(latest[settings.id_column].to_numpy()),
        name=settings.label_column,
    )
    return labels


def join_labels(ids: pd.Series, labels: pd.Series) -> pd.Series:
    """The label of each prediction by its id (missing where none is known).

    Ids compare as they are when both sides are numbers (``50000`` and
    ``50000.0`` are one id) and as text otherwise, so a CSV's numbers match
    a database's text ids.
    """
    numeric = pd.api.types.is_numeric_dtype(ids.dtype) and pd.api.types.is_numeric_dtype(
        labels.index.dtype
    )
    if numeric or not len(labels):
        return ids.map(labels)
    as_text = pd.Series(labels.to_numpy(), index=labels.index.astype(str))
    as_text = as_text[~as_text.index.duplicated(keep="last")]
    return ids.astype(str).where(ids.notna()).map(as_text)
