"""What every settings model shares: unknown keys refused, values frozen, durations parsed.

Kept apart from ``monitor.config`` so that plug-in modules (notifiers,
sources) can define their own settings without importing the whole config.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Annotated, Any, TypeVar, Union, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from monitor.durations import duration_of, parse_duration


class ConfigError(Exception):
    """The config cannot be used; the message says where and why."""


# The widths of the store's columns that config names are written to
# (monitor.store.models); a longer name would fail every run on PostgreSQL.
MAX_MONITOR_NAME = 200  # monitors.name
MAX_RULE_NAME = 100  # alerts.rule
MAX_RECEIVER_NAME = 200  # outbox.receiver, notification_groups.receiver
MAX_COLUMN_NAME = 200  # results.column: a column's or a performance label's name


class SettingsModel(BaseModel):
    # No setting means anything at inf or nan: a threshold of inf never fires,
    # and nan compares false with everything.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RateLimitedSettings(SettingsModel):
    """Receiver settings with a ``rate_limit`` key the delivery worker paces by.

    A receiver settings model subclasses this to let users set its limit; see
    ``monitor.delivery.ratelimit`` for the per-kind defaults and semantics.
    """

    rate_limit: float | None = Field(
        default=None,
        gt=0,
        description="messages per second to this receiver, per daemon process "
        "(default: the kind's documented limit, or none)",
    )


def as_duration(value: Any) -> timedelta:
    """A pydantic "before" validator: "30s", "5m", "2h", "1d" or a number of seconds.

    Every form is checked alike: above zero and at most ``durations.MAX_DURATION``.

    >>> as_duration(-1)
    Traceback (most recent call last):
    ...
    monitor.durations.DurationRangeError: expected a positive duration, got -1
    """
    if isinstance(value, timedelta):
        return duration_of(value.total_seconds(), str(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return duration_of(float(value), repr(value))
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f'expected a duration such as "30s" or "5m", got {value!r}')


def http_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a receiver's endpoint, or None when it can.

    Only http and https are sent (anything else would fail on every retry),
    and the reason never quotes the URL, which may hold a token.

    >>> http_url_problem("file:///etc/passwd")
    'expected an http:// or https:// URL, got scheme "file"'
    >>> http_url_problem("https://hooks.example.com/x") is None
    True
    """
    if any(character.isspace() or not character.isprintable() for character in url):
        return "the URL holds white space or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (urlsplit checks the port only when asked for it)
    except ValueError:
        return "not a valid URL (its host or port cannot be read)"
    if parts.scheme not in ("http", "https"):
        if not parts.scheme:
            return 'expected an http:// or https:// URL such as "https://example.com/hook"'
        return f'expected an http:// or https:// URL, got scheme "{parts.scheme}"'
    if not parts.hostname:
        return "the URL has no host"
    return None


def check_http_url(url: str) -> str:
    """A pydantic validator of a URL written in the config: sendable, and holding no password.

    >>> check_http_url("https://user:secret@example.com/")
    Traceback (most recent call last):
    ...
    ValueError: credentials do not belong in the URL: put them in a variable named by a *_env key
    """
    problem = http_url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "credentials do not belong in the URL: put them in a variable named by a *_env key"
        )
    return url


HttpUrlStr = Annotated[str, AfterValidator(check_http_url)]
"""A receiver's literal URL: http(s), with a host, without credentials (kept as written)."""


def exactly_one(settings: BaseModel, *names: str) -> None:
    """Raise the settings error for a table that needs exactly one of ``names`` set.

    >>> class Target(SettingsModel):
    ...     url: str | None = None
    ...     url_env: str | None = None
    >>> exactly_one(Target(url="http://x", url_env="URL"), "url", "url_env")
    Traceback (most recent call last):
    ...
    ValueError: set exactly one of url and url_env
    """
    if sum(getattr(settings, name) is not None for name in names) != 1:
        raise ValueError(f"set exactly one of {', '.join(names[:-1])} and {names[-1]}")


def check_type_tag(settings: type[BaseModel], tag: str) -> None:
    """Raise unless ``settings.type`` is ``Literal[tag]``: a spec and its config tag agree.

    >>> from monitor.sources.demo import DemoSourceSettings
    >>> check_type_tag(DemoSourceSettings, "sql")
    Traceback (most recent call last):
    ...
    ValueError: DemoSourceSettings.type must be Literal['sql'], got ('demo',)
    """
    field = settings.model_fields.get("type")
    tags = get_args(field.annotation) if field is not None else ()
    if tags != (tag,):
        raise ValueError(f"{settings.__name__}.type must be Literal[{tag!r}], got {tags}")


def env_references(settings: BaseModel) -> tuple[tuple[str, str], ...]:
    """Every (key, environment variable) of a ``*_env`` key that is set.

    Secrets are never literal in config: a plug-in (source, reference) names
    each one in a key ending in ``_env``, so scanning those finds them all.

    >>> class Target(SettingsModel):
    ...     url_env: str | None = None
    ...     token_env: str | None = None
    >>> env_references(Target(url_env="DB_URL"))
    (('url_env', 'DB_URL'),)
    """
    return tuple(
        (key, value)
        for key, value in settings
        if key.endswith("_env") and isinstance(value, str) and value
    )


SpecT = TypeVar("SpecT")


def tagged_union(settings: Iterable[type[BaseModel]]) -> Any:
    """The pydantic union of a plug-in family's settings, told apart by their ``type`` tag.

    Built at run time from a registry, in its order: pydantic lists the known
    tags in that order when a config names an unknown one.
    """
    return Annotated[Union[tuple(settings)], Field(discriminator="type")]  # noqa: UP007


def lookup_spec(
    registry: Mapping[str, SpecT], name: str, family: str, error: type[Exception]
) -> SpecT:
    """The spec registered under ``name``, or ``error`` naming the family's known types.

    >>> lookup_spec({"sql": 1}, "kafka", "source", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: unknown source type 'kafka'; known source types: sql
    """
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise error(f"unknown {family} type {name!r}; known {family} types: {known}") from None
