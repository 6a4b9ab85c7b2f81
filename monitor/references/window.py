"""A fixed past window of the monitor's own source."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import pandas as pd
from pydantic import model_validator

from monitor.references.spec import (
    ReferenceOrigin,
    ReferenceRequest,
    ReferenceSettingsModel,
    ReferenceSpec,
    non_empty,
)
from monitor.sources.base import Source, Window


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class WindowReferenceSettings(ReferenceSettingsModel):
    """A fixed past window of the monitor's own source."""

    type: Literal["window"]
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> WindowReferenceSettings:
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


def _settings(request: ReferenceRequest) -> WindowReferenceSettings:
    assert isinstance(request.reference, WindowReferenceSettings)
    return request.reference


def load_window_reference(request: ReferenceRequest, source: Source, seed: int) -> pd.DataFrame:
    reference = _settings(request)
    frame = source.sample(Window(reference.start, reference.end), request.reference_limit, seed)
    why_empty = (
        f"its source has no rows in [{reference.start.isoformat()}, {reference.end.isoformat()})"
    )
    return non_empty(request, frame, why_empty)


def window_key_parts(request: ReferenceRequest) -> list[str]:
    """The source settings: the window is read from the source."""
    return [request.source.model_dump_json()]


def describe_window_reference(request: ReferenceRequest) -> ReferenceOrigin:
    reference = _settings(request)
    return ReferenceOrigin("a fixed window of the monitor's source", reference.start, reference.end)


SPEC = ReferenceSpec(
    type="window",
    settings=WindowReferenceSettings,
    load=load_window_reference,
    key_parts=window_key_parts,
    describe=describe_window_reference,
)
