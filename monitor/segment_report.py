"""What a run did with its segments, as stored on the run row and shown by the API and pages.

Kept apart from ``monitor.segments`` (which tests them) so the store reads
and writes it without importing the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

SkipReason = Literal["too_few_rows", "not_in_reference", "over_max_segments"]
SKIP_REASONS: Final[Mapping[SkipReason, str]] = {
    "too_few_rows": "fewer than segment_min_rows rows in the window or the reference",
    "not_in_reference": "a value the reference does not have",
    "over_max_segments": "beyond max_segments (the segments with the most rows were tested)",
}
MAX_NAMED: Final = 20
"""How many skipped segments of one reason a run names (the count has them all)."""


def segment_name(column: str, value: str) -> str:
    """How a segment is named in results, labels and reasons.

    >>> segment_name("country", "DE")
    'country=DE'
    """
    return f"{column}={value}"


@dataclass(frozen=True)
class Segment:
    """One segment a run tests, with its rows in the window and in the reference."""

    column: str
    value: str
    n_current: int
    n_reference: int

    @property
    def name(self) -> str:
        return segment_name(self.column, self.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.name,
            "column": self.column,
            "value": self.value,
            "n_current": self.n_current,
            "n_reference": self.n_reference,
        }


@dataclass(frozen=True)
class SkippedSegments:
    """The segments of one reason a run did not test: how many, and the largest by name."""

    reason: SkipReason
    count: int
    segments: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "explanation": SKIP_REASONS[self.reason],
            "count": self.count,
            "segments": list(self.segments),
        }


@dataclass(frozen=True)
class SegmentReport:
    """What a run did with its segments: those it tested, and those it skipped, by reason."""

    tested: tuple[Segment, ...] = ()
    skipped: tuple[SkippedSegments, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "tested": [segment.to_dict() for segment in self.tested],
            "skipped": [group.to_dict() for group in self.skipped],
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> SegmentReport:
        return cls(
            tested=tuple(
                Segment(entry["column"], entry["value"], entry["n_current"], entry["n_reference"])
                for entry in body.get("tested", ())
            ),
            skipped=tuple(
                SkippedSegments(entry["reason"], entry["count"], tuple(entry["segments"]))
                for entry in body.get("skipped", ())
            ),
        )
