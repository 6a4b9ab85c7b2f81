"""The report pages' HTTP routes: ``/runs/{id}`` and ``/monitors/{name}``, HTML only.

Handlers are plain ``def`` (FastAPI runs them in its threadpool, as the API's
store handlers). An id that is not a run id (not a number, 0, or beyond what
``runs.id`` holds) is a 404 like an id that no run has, never a 422 or a
store error. The pages need no script, so they are served with a policy
that runs none: an escaping mistake could not run injected code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from monitor.pages.queries import load_monitor_page, load_run_page
from monitor.pages.render import render_monitor_page, render_not_found, render_run_page

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_RUN_ID = re.compile(r"[0-9]{1,10}")


def _page(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )


def pages_router(engine: Engine, redact: Callable[[str], str]) -> APIRouter:
    """The pages; every reason they show goes through ``redact`` (``monitor.redaction``)."""
    router = APIRouter()

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(run_id: str) -> HTMLResponse:
        page = load_run_page(engine, int(run_id)) if _RUN_ID.fullmatch(run_id) else None
        if page is None:
            return _page(render_not_found(f"run {run_id}"), 404)
        return _page(render_run_page(replace(page, run=page.run.redacted(redact))))

    @router.get("/monitors/{name:path}", response_class=HTMLResponse)
    def monitor_page(name: str) -> HTMLResponse:
        page = load_monitor_page(engine, name)
        if page is None:
            return _page(render_not_found(f"monitor {name}"), 404)
        runs = tuple(run.redacted(redact) for run in page.runs)
        return _page(render_monitor_page(replace(page, runs=runs)))

    return router
