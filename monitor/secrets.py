"""Secrets are named, never written: an environment variable or a file it points to."""

from __future__ import annotations

import os
from pathlib import Path


class SecretError(Exception):
    """A secret's environment variable is not set (the message names it, never its value)."""


def resolve_secret(env_name: str, key: str) -> str:
    """Read a secret from ``env_name``, or from the file named by ``<env_name>_FILE``.

    The ``_FILE`` form serves secrets mounted as files (Kubernetes, Docker).
    ``key`` is the config key that named the variable, for the error message.
    """
    value = os.environ.get(env_name)
    if value:
        return value
    file_name = os.environ.get(f"{env_name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise SecretError(
                f"{key}: cannot read the file named by ${env_name}_FILE ({exc.strerror})"
            ) from None
    raise SecretError(f"{key}: environment variable {env_name} (or {env_name}_FILE) is not set")
