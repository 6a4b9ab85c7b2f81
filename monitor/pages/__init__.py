"""Report pages: one per run (``/runs/{id}``) and one per monitor (``/monitors/{name}``).

``queries`` reads what a page shows, ``charts`` turns stored histograms and
trends into SVG shapes, ``render`` fills the templates, ``routes`` serves
them. Server-rendered HTML with inline CSS and SVG: no script, no external
asset, so a page opens offline and from a link in a chat message alike.
"""

from monitor.pages.routes import pages_router

__all__ = ["pages_router"]
