"""``run_forever``: call the kit's periodic passes until told to stop."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from incidentkit import _validate as check
from incidentkit.errors import IncidentKitError

__all__ = ["run_forever"]

log = logging.getLogger("incidentkit")


def run_forever(
    passes: Sequence[Callable[[], object]],
    interval: timedelta,
    stop: threading.Event | None = None,
) -> None:
    """Run each pass every ``interval`` until ``stop`` is set (or SIGTERM/SIGINT in main).

    A failing pass is logged and the loop goes on; the current round finishes
    before the loop stops.

    :raises ValidationError: (``interval``) not a timedelta from 10 ms
        (0 would busy-loop) to 1 day.
    """
    check.duration_in(interval, "interval", check.MIN_INTERVAL, check.MAX_INTERVAL)
    done = stop or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: done.set())
    try:
        while not done.is_set():
            try:
                for run in passes:
                    run()
            except IncidentKitError as err:
                log.error("run_forever: %s", err)
            done.wait(interval.total_seconds())
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
