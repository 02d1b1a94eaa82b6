"""Background work of the simulated ERP: the ATS batch job, which applies queued
inventory/ats-updates once they are older than the batch cycle (faults.batch_cycle_seconds)."""

from __future__ import annotations

import logging
import threading

from django.db import connection

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
_started = threading.Event()


def start_background() -> None:
    """Start the batch job once per process (server.py calls this after migrating)."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(target=_run, name="bluecherry-ats-batches", daemon=True).start()


def _run() -> None:
    from simulators.bluecherry import services

    stop = threading.Event()  # never set: the thread dies with the daemon process
    while not stop.wait(POLL_SECONDS):
        try:
            services.apply_due_batches()
        except Exception:  # keep the job alive; a locked database now is fine a moment later
            log.exception("ATS batch cycle failed")
            connection.close()
