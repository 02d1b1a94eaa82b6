"""Background work of the Seko simulator: deliver due pushes every push interval."""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, connection

from . import pushes

log = logging.getLogger(__name__)
TICK_SECONDS = 0.5  # how often the thread looks at the (changeable) interval
_started = threading.Event()


def _loop() -> None:
    last_run = time.monotonic()
    while True:
        time.sleep(TICK_SECONDS)
        try:
            close_old_connections()
            interval = float(pushes.get_config()["push_interval_seconds"])
            if time.monotonic() - last_run >= interval:
                last_run = time.monotonic()
                pushes.deliver(due_only=True)
        except Exception:  # the thread must outlive a locked database or a bad config
            log.exception("seko push delivery failed")
        finally:
            connection.close()


def start_background() -> None:
    """Called once by simulators.server after migrate: start the push delivery thread."""
    if _started.is_set():
        return
    _started.set()
    pushes.release_stale_claims()
    connection.close()
    threading.Thread(target=_loop, name="seko-push-delivery", daemon=True).start()
