"""A moving reference's next profile, fitted after a run so the next runs need not wait for it.

A ``trailing`` reference has a profile per refit period. The first run of a
period that found none stored would fit it itself and be late by the whole
fit (reading ``span`` of the source). So after every stored run the runner
asks the reference kind whether the next period's reference is complete
(``Refits.next_start``), and if it is and no profile is stored for it yet,
fits and stores it there and then, in the thread of the run just stored
(its outcome is already stored and sent on). The first run of the next
period then finds it stored.

A run still fits its own profile when none is stored: the first run of a
monitor, the first after a start that missed the fit ahead, or after a fit
ahead that failed (logged). That fit holds the monitor's lock, so it
happens once however many runs need it; other monitors do not wait.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.columns import DataError
from monitor.config import MonitorSettings
from monitor.profiles import ProfileCache, reference_request
from monitor.references import reference_refits
from monitor.sources import LabelSource
from monitor.sources.base import Source, SourceError

log = logging.getLogger("driftwarden.refits")


def refit_ahead(
    profiles: ProfileCache,
    engine: Engine,
    monitor: MonitorSettings,
    monitor_id: int,
    source: Source,
    window_start: datetime,
    now: datetime,
    labels: LabelSource | None = None,
) -> bool:
    """After a run whose window started at ``window_start``, fit the next period's profile if due.

    True when a profile was fitted. A failure is logged, never raised: the
    run it follows is already stored, and the next run fits on need.
    """
    refits = reference_refits(monitor.reference)
    if refits is None:
        return False
    start = refits.next_start(reference_request(monitor, window_start), now)
    if start is None:
        return False
    try:
        return profiles.fit_ahead(engine, monitor, monitor_id, source, start, labels)
    except (SourceError, DataError, ValueError) as exc:
        log.warning("monitor %s: the next reference was not fitted ahead: %s", monitor.name, exc)
    except SQLAlchemyError as exc:
        log.warning(
            "monitor %s: the next reference was not fitted ahead (store: %s)",
            monitor.name,
            type(exc).__name__,
        )
    return False
