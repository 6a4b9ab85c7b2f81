"""A reference read by a SQL query (sampled as the SQL source samples)."""

from __future__ import annotations

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
from monitor.secrets import SecretError, resolve_secret
from monitor.settings_base import exactly_one
from monitor.sources.base import Source, SourceError
from monitor.sources.sql import read_query
from monitor.sources.sql_engines import SqlTimeouts


class SqlReferenceSettings(ReferenceSettingsModel, SqlTimeouts):
    type: Literal["sql"]
    url: str | None = None
    url_env: str | None = None
    query: str

    @model_validator(mode="after")
    def _one_url(self) -> SqlReferenceSettings:
        exactly_one(self, "url", "url_env")
        return self


def _settings(request: ReferenceRequest) -> SqlReferenceSettings:
    assert isinstance(request.reference, SqlReferenceSettings)
    return request.reference


def _url(request: ReferenceRequest, reference: SqlReferenceSettings) -> str:
    if reference.url_env is None:
        assert reference.url is not None
        return reference.url
    try:
        return resolve_secret(reference.url_env, "reference.url_env")
    except SecretError as exc:
        raise SourceError(f"reference for monitor {request.monitor}: {exc}") from None


def load_sql_reference(request: ReferenceRequest, source: Source, seed: int) -> pd.DataFrame:
    reference = _settings(request)
    url = _url(request, reference)
    frame = read_query(
        url, reference.query, request.reference_limit, seed, reference, reference.url_env
    )
    return non_empty(request, frame, "its query returned no rows")


def sql_key_parts(request: ReferenceRequest) -> list[str]:
    """Nothing beyond the settings: the key cannot see the data behind a query."""
    return []


QUERY_SHOWN = 500
"""Characters of the query a run states (on one line); the URL is never stated."""


def describe_sql_reference(request: ReferenceRequest) -> ReferenceOrigin:
    query = " ".join(_settings(request).query.split())
    if len(query) > QUERY_SHOWN:
        query = query[: QUERY_SHOWN - 3] + "..."
    return ReferenceOrigin(f"the query {query}")


SPEC = ReferenceSpec(
    type="sql",
    settings=SqlReferenceSettings,
    load=load_sql_reference,
    key_parts=sql_key_parts,
    describe=describe_sql_reference,
)
