"""Body templates written in config: sandboxed Jinja2 over an event's payload dict.

The sandbox (``ImmutableSandboxedEnvironment``) refuses attribute access to
internals and any call that mutates, so a config file cannot run code in the
daemon; ``StrictUndefined`` makes a misspelt name an error instead of an
empty string. A template is checked when the config is loaded: compiled, and
rendered once against an example event, so both syntax errors and unknown
names surface as config errors naming the key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jinja2
import jinja2.runtime
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from monitor.alerts.event import AlertEvent, DriftedColumn

MAX_EXPONENT = 64
MAX_POWER_BITS = 4096
MAX_REPEAT = 100_000
"""The largest ``**`` exponent and result, and ``*`` repetition, a template may compute."""


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, refusing arithmetic that would take the daemon's memory or time.

    ``9 ** 9 ** 9`` or ``"x" * 10 ** 9`` would hang or exhaust the process while
    the config is checked, before any key could be named.
    """

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator == "**" and isinstance(right, int | float):
            bits = left.bit_length() * right if isinstance(left, int) else 0
            if abs(right) > MAX_EXPONENT or bits > MAX_POWER_BITS:
                raise SecurityError(
                    f"a power above {MAX_EXPONENT} or of more than {MAX_POWER_BITS} bits "
                    "is not allowed"
                )
        if operator == "*":
            sequence, count = (left, right) if isinstance(right, int) else (right, left)
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(count, int)
                and len(sequence) * count > MAX_REPEAT
            ):
                raise SecurityError(f"a repetition longer than {MAX_REPEAT} is not allowed")
        return super().call_binop(context, operator, left, right)


_ENVIRONMENT = _BoundedSandbox(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)

_EXAMPLE_AT = datetime(2024, 1, 1, tzinfo=UTC)
EXAMPLE_EVENT = AlertEvent(
    status="firing",
    monitor="example",
    rule="drift",
    rule_type="dataset_drift",
    severity="warning",
    fingerprint="0" * 32,
    episode=1,
    idempotency_key="example-000000000000-1",
    summary="example: 1 of 1 columns drifted (x)",
    reason="drift: 1 of 1 columns drifted (x)",
    run_id=1,
    run_url="http://127.0.0.1:8470/runs/1",
    window_start=_EXAMPLE_AT,
    window_end=_EXAMPLE_AT,
    started_at=_EXAMPLE_AT,
    ended_at=None,
    drifted=True,
    drifted_columns=(DriftedColumn("x", "ks", 0.5, 0.001, 0.001, 0.05),),
    labels={"team": "example"},
)
"""A firing alert as templates see it: each is rendered against it once when compiled."""


class TemplateError(ValueError):
    """A body template that cannot be compiled or rendered; the message says where."""


def compile_template(source: str) -> jinja2.Template:
    """Compile ``source`` in the sandbox and render it once against an example event.

    >>> compile_template("{{ monitor }}/{{ run.id }}").render(monitor="m", run={"id": 3})
    'm/3'
    >>> compile_template("{{ monitr }}")
    Traceback (most recent call last):
    ...
    monitor.notifiers._template.TemplateError: template: 'monitr' is undefined
    """
    try:
        template = _ENVIRONMENT.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    try:
        template.render(EXAMPLE_EVENT.to_payload())
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template: {exc.message}") from None
    except Exception as exc:  # 1/0, a range over MAX_RANGE, a macro calling itself, ...
        raise TemplateError(
            f"template: rendering an example event fails: {type(exc).__name__}: {exc}"
        ) from None
    return template


def checked_template(source: str | None) -> str | None:
    """A pydantic validator for a template key: ``source`` unchanged if it compiles.

    A :class:`TemplateError` is a ``ValueError``, so pydantic names the key.
    """
    if source is not None:
        compile_template(source)
    return source


def render_template(template: jinja2.Template, context: dict[str, Any]) -> str:
    """``template`` rendered with ``context`` (an event's payload dict) as its variables."""
    return template.render(context)
