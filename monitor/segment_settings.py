"""The keys of a monitor that ask for drift per segment (``monitor.segments`` tests them).

A mixin of ``MonitorSettings``, kept apart so the monitor's model stays a
list of its keys. Each entry of ``segments`` is a column whose values
define segments: ``["country", "device"]`` tests ``country=DE``,
``country=FR``, ..., ``device=ios``, ... each on its own (no cross product).
"""

from __future__ import annotations

from typing import Final

from pydantic import Field, field_validator

from monitor.settings_base import MAX_COLUMN_NAME, SettingsModel

MAX_SEGMENTS_CAP: Final = 1000
"""The largest ``max_segments``: each segment tested costs a test per column and a row each."""


DEFAULT_METRICS_SEGMENTS: Final = 10


class SegmentSettings(SettingsModel):
    segments: tuple[str, ...] = Field(
        default=(), description="columns whose values define segments tested on their own"
    )
    segment_min_rows: int = Field(
        default=200,
        ge=10,
        description="a segment is tested when it has this many rows in the window and reference",
    )
    max_segments: int = Field(
        default=50,
        ge=1,
        le=MAX_SEGMENTS_CAP,
        description="segments tested per run at most: those with the most rows in the window",
    )
    metrics_segments: int = Field(
        default=DEFAULT_METRICS_SEGMENTS,
        ge=0,
        description="segments with series of their own in /metrics; the rest are pooled",
    )

    @field_validator("segments")
    @classmethod
    def _segment_columns(cls, segments: tuple[str, ...]) -> tuple[str, ...]:
        for index, name in enumerate(segments):
            if not name.strip():
                raise ValueError(f"segments[{index}]: expected a column name, got an empty one")
            if len(name) > MAX_COLUMN_NAME:
                raise ValueError(
                    f"segments[{index}]: a column name has at most {MAX_COLUMN_NAME} characters, "
                    f"got {len(name)}"
                )
            if name in segments[:index]:
                raise ValueError(f'segments[{index}]: column "{name}" is listed twice')
        return segments
