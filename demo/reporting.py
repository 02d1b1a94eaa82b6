"""What the demo, chaos and bench runs share to tell how they are doing: progress lines on stderr
(stdout is kept for the one JSON report) and the percentile of the latency figures.

No Django here: the load generators import it in processes of their own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def speaker(who: str) -> Callable[[str], None]:
    """A ``say(message)`` that writes one progress line on stderr, stamped ``[who HH:MM:SS]``."""

    def say(message: str) -> None:
        print(f"[{who} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    return say


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` (0..1) of ``values`` lie, nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
