"""A ticking replica for the exactly-once tests, run in a spawned process or a thread."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from incidentkit.clock import ManualClock
from incidentkit.kit import IncidentKit

from ._helpers import T0, scheduled_policy

STEP = timedelta(seconds=30)
STEPS = 120
"""Every 30 s for 60 minutes: 121 ticks per replica."""


def instants() -> list[Any]:
    """The instants every replica ticks at, in order."""
    return [T0 + n * STEP for n in range(STEPS + 1)]


def tick_through(
    kit: IncidentKit, clock: ManualClock | None, lockstep: Any = None
) -> dict[str, Any]:
    """Tick at every instant; return what this replica reported firing and any failures.

    ``clock=None`` passes each instant to ``tick(at)`` instead of moving a clock.
    With a ``lockstep`` barrier the replicas wait for each other before every
    tick, so they tick the same instant at the same moment and race for it.
    """
    fired: list[tuple[str, str]] = []
    failures: list[tuple[str, str]] = []
    for at in instants():
        if lockstep is not None:
            lockstep.wait(timeout=60)
        if clock is not None:
            clock.set(at)
            report = kit.tick()
        else:
            report = kit.tick(at)
        fired.extend((r.incident_id, r.event.key) for r in report.fired)  # type: ignore[attr-defined]
        failures.extend(report.failures.items())
    return {"fired": fired, "failures": failures}


def process_replica(url: str, barrier: Any, results: Any, lockstep: bool) -> None:
    """Entry point of a spawned replica: its own kit on ``url`` and its own manual clock.

    ``barrier`` is the shared start barrier (and, with ``lockstep``, the per-tick one).
    """
    try:
        clock = ManualClock(T0)
        with IncidentKit.open(
            url, policy=scheduled_policy(), clock=clock, autoload_plugins=False
        ) as kit:
            barrier.wait(timeout=60)
            results.put(tick_through(kit, clock, barrier if lockstep else None))
    except BaseException as err:  # report, so the parent fails with the reason
        results.put({"error": repr(err)})
        raise
