from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.delivery.backoff import backoff_delay, parse_retry_after, retry_delay

SECOND = timedelta(seconds=1)


def test_full_jitter_stays_under_the_doubling_cap() -> None:
    rng = random.Random(1)
    for failures, cap in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (1000, 10)]:
        delays = [backoff_delay(failures, SECOND, 10 * SECOND, rng) for _ in range(200)]
        assert all(timedelta(0) <= d <= cap * SECOND for d in delays)
        assert max(delays) > cap * SECOND * 0.9  # the draw does reach up to the cap


def test_seeded_rng_repeats() -> None:
    first = [backoff_delay(n, SECOND, 60 * SECOND, random.Random(3)) for n in range(1, 6)]
    second = [backoff_delay(n, SECOND, 60 * SECOND, random.Random(3)) for n in range(1, 6)]
    assert first == second


def test_failures_must_be_positive() -> None:
    with pytest.raises(ValueError, match="failures must be at least 1, got 0"):
        backoff_delay(0, SECOND, SECOND, random.Random(0))


def test_retry_after_is_a_floor_even_beyond_backoff_max() -> None:
    rng = random.Random(0)
    assert retry_delay(1, SECOND, 10 * SECOND, rng, 120 * SECOND) == 120 * SECOND
    assert retry_delay(1, SECOND, 10 * SECOND, rng, timedelta(0)) <= SECOND


NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", timedelta(seconds=120)),
        (" 0 ", timedelta(0)),
        ("Mon, 01 Jan 2024 12:02:00 GMT", timedelta(minutes=2)),
        ("Mon, 01 Jan 2024 11:00:00 GMT", timedelta(0)),  # in the past: no extra wait
        (None, None),
        ("", None),
        ("-5", None),
        ("1.5", None),
        ("tomorrow", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(header, NOW) == expected
