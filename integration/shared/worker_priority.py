"""The workers run below the web server's CPU priority.

On one host the workers, when saturated (a flash sale's sends and dispatch posts), take every
cycle the web server would need to answer the people watching the dashboard; a page then waits
behind batches that are in no hurry measured in milliseconds. Each worker process lowers its own
priority as it starts (django-q2's ``post_spawn``), by WORKER_NICENESS; 0 leaves it as it is.
Measured on a peak day (docs/performance.md).
"""

from __future__ import annotations

import logging
import os

from django.conf import settings

log = logging.getLogger(__name__)


def lower_worker_priority(sender: object = None, **kwargs: object) -> None:
    niceness = settings.WORKER_NICENESS
    if niceness <= 0:
        return
    try:
        os.nice(niceness)
    except OSError:  # never stops a worker: it runs at the priority it has
        log.warning("could not lower this worker's CPU priority by %s", niceness, exc_info=True)
