"""Silences: matchers on alert labels that mute notifications for a while.

A matcher is written ``name=value``, ``name!=value`` or ``name=~regex``
(the regex must match the whole value), as in Alertmanager. A silence mutes
an alert when all its matchers match the alert's labels and ``now`` lies in
[starts_at, ends_at); expired silences are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    name: str
    operator: Literal["=", "!=", "=~"]
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Parse one matcher.

        >>> Matcher.parse("monitor=credit-risk")
        Matcher(name='monitor', operator='=', value='credit-risk')
        """
        match = _MATCHER.match(text)
        if match is None:
            raise ValueError(f'matcher "{text}": expected name=value, name!=value or name=~regex')
        name, operator, value = match.groups()
        if operator == "=~":
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f'matcher "{text}": invalid regular expression ({exc})') from None
        return cls(name, operator, value)  # type: ignore[arg-type]

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.operator == "=":
            return actual == self.value
        if self.operator == "!=":
            return actual != self.value
        return re.fullmatch(self.value, actual) is not None

    def __str__(self) -> str:
        return f"{self.name}{self.operator}{self.value}"


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.active(now) and all(m.matches(labels) for m in self.matchers)


def is_silenced(labels: Mapping[str, str], silences: Sequence[Silence], now: datetime) -> bool:
    return any(silence.mutes(labels, now) for silence in silences)
