"""A config file's bytes -> data, and pydantic's errors -> one line per key the user wrote.

``monitor.config`` holds the settings models and calls these from
``load_settings`` and ``parse_settings``; nothing here knows a settings
class, so the models can change without touching how their errors read.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from monitor.settings_base import ConfigError


def read_toml(config_path: Path) -> dict[str, Any]:
    """The TOML document at ``config_path``; a ``ConfigError`` naming the file otherwise."""
    try:
        raw = config_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read the config ({exc.strerror})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: not valid TOML ({exc})") from None


def union_tags(*unions: Any) -> frozenset[str]:
    """Every ``type`` value of the plug-in unions (pydantic puts the tag in error paths)."""
    tags: set[str] = set()
    for union in unions:
        for member in get_args(get_args(union)[0]) or (get_args(union)[0],):
            tags.update(get_args(member.model_fields["type"].annotation))
    return frozenset(tags)


def _location(loc: tuple[int | str, ...], tags: frozenset[str]) -> str:
    """Render pydantic's error location as the TOML path a user wrote.

    Discriminated unions add the tag ("demo", "file") as a path element; it
    is not something the user typed, so it is dropped.
    """
    parts: list[str] = []
    for index, element in enumerate(loc):
        if isinstance(element, int):
            parts[-1] = f"{parts[-1]}[{element}]" if parts else f"[{element}]"
            continue
        previous = loc[index - 1] if index else None
        after_union = previous in ("source", "reference", "labels") or (
            isinstance(previous, int) and index >= 2 and loc[index - 2] in ("receivers", "rules")
        )
        if after_union and element in tags:
            continue
        parts.append(element)
    return ".".join(parts)


def _message(error: Any) -> str:
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        return f"unknown type {ctx.get('tag')}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return 'required key "type" is missing'
    return message


def config_error(exc: ValidationError, origin: str, tags: frozenset[str]) -> ConfigError:
    """One line per error of ``exc``, each naming its key; ``tags`` are ``union_tags``."""
    lines = []
    for error in exc.errors():
        where = _location(tuple(error["loc"]), tags)
        text = _message(error)
        lines.append(f"{where}: {text}" if where else text)
    return ConfigError(f"{origin}: " + "\n  ".join(lines))
