"""On-call lookups: cost must not grow with the rotation's age.

Two comparisons per rotation kind (hourly, daily, weekly; a two-layer
schedule with overrides, in Europe/London):

* ``on_call(at)`` five years after the rotation start ÷ one week after
  (target <= 2x: the lookup is closed-form, not a walk from the start);
* ``on_call(at)`` five years on ÷ the bare closed-form UTC arithmetic
  ``participants[(at - start) // period % n]`` for each of the two layers
  (budget <= 50x: what the zone, DST rules and override checks cost).

Each is measured *warm* (instants 7 minutes apart: the remembered shift
answers most lookups) and *cold* (every lookup in another shift, with the
handoff cache cleared before each measured block).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from _harness import Result, compare, report

from incidentkit.oncall import Every, Layer, Override, Rotation, Schedule, resolve_local

LONDON = ZoneInfo("Europe/London")
START = datetime(2021, 1, 4, 9, tzinfo=LONDON)
PEOPLE = ("ana", "bo", "cy", "di", "ed")
BATCH = 200


def _schedule(every: Every) -> Schedule:
    primary = Rotation(PEOPLE, START, LONDON, every=every)
    secondary = Rotation(PEOPLE[::-1], START, LONDON, every=every)
    overrides = tuple(
        Override(
            "primary",
            "zed",
            START + timedelta(days=30 * i),
            START + timedelta(days=30 * i, hours=6),
        )
        for i in range(0, 60)
    )
    return Schedule(
        "bench", (Layer("primary", (primary,)), Layer("secondary", (secondary,))), overrides
    )


def _within_shifts(base: datetime) -> list[datetime]:
    """Instants 7 minutes apart: most lookups land in the shift the previous one found."""
    return [base + timedelta(minutes=7 * i) for i in range(BATCH)]


def _across_shifts(base: datetime, period: timedelta) -> list[datetime]:
    """Every lookup in a different shift, so no remembered shift or cached handoff helps."""
    return [base + i * (period + timedelta(minutes=7)) for i in range(BATCH)]


def _cold() -> None:
    resolve_local.cache_clear()


def main() -> None:
    results: list[Result] = []
    start_utc = START.astimezone(UTC)
    for label, every, period in (
        ("hourly", Every.HOUR, timedelta(hours=1)),
        ("daily", Every.DAY, timedelta(days=1)),
        ("weekly", Every.WEEK, timedelta(weeks=1)),
    ):
        schedule = _schedule(every)
        for mode, make in (
            ("warm", _within_shifts),
            ("cold", lambda base, period=period: _across_shifts(base, period)),
        ):
            near = make(start_utc + timedelta(weeks=1))
            far = make(start_utc + timedelta(days=5 * 365))
            setup = _cold if mode == "cold" else None

            def lookup(instants: list[datetime], schedule: Schedule = schedule) -> None:
                for at in instants:
                    schedule.on_call(at)

            def arithmetic(far: list[datetime] = far, period: timedelta = period) -> None:
                # The same job for both layers, minus zone, DST and overrides.
                n = len(PEOPLE)
                for at in far:
                    index = (at - start_utc) // period
                    _ = (PEOPLE[index % n], PEOPLE[::-1][index % n])

            far_s, near_s = compare(
                lambda far=far: lookup(far), lambda near=near: lookup(near), repeats=7, setup=setup
            )
            results.append(
                Result(
                    f"on_call {label} {mode}: 5 years ÷ 1 week",
                    far_s / BATCH,
                    near_s / BATCH,
                    target="<= 2x",
                )
            )
            far_s, base_s = compare(lambda far=far: lookup(far), arithmetic, repeats=7, setup=setup)
            results.append(
                Result(
                    f"on_call {label} {mode} (5 years) ÷ UTC arithmetic",
                    far_s / BATCH,
                    base_s / BATCH,
                    target="<= 50x",
                )
            )
    report("oncall", results)


if __name__ == "__main__":
    main()
