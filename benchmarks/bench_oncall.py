"""On-call lookups: cost must not grow with the rotation's age; a DST-correct hand-written baseline.

Two comparisons per rotation kind (hourly, daily, weekly; a two-layer
schedule with 60 overrides on the primary layer, in Europe/London):

* ``Schedule.on_call(at)`` five years after the rotation start ÷ the same
  one week after it (lower is better, target <= 2x: the lookup is
  closed-form, not a walk from the start);
* ``Schedule.on_call(at)`` five years on ÷ a hand-written lookup of the same
  answer (lower is better, budget <= 50x): local wall-clock arithmetic with
  :mod:`zoneinfo` (handoffs at the same local time across DST, the first
  occurrence of an ambiguous time, a gap time read with the offset before
  the change), corrected by a step at DST changes, plus a bisect over the
  sorted overrides. Before anything is timed the baseline must give the
  library's answer (who holds each layer) for every timed instant and for a
  sweep every 10 minutes (and 1 µs before each) across every DST change of
  the five years; a mismatch stops the run.

Each is measured *warm* (instants 7 minutes apart: the remembered shift
answers most lookups) and *cold* (every lookup in another shift, with the
handoff cache cleared before each measured block).
"""

from __future__ import annotations

import bisect
import itertools
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


class HandWritten:
    """Who is on call, written by hand: local-calendar arithmetic, zoneinfo, a bisect.

    The answer is ``((layer, person), ...)`` for the two layers, as
    :meth:`Schedule.on_call` names them.
    """

    def __init__(self, schedule: Schedule, period: timedelta) -> None:
        self.anchor = START.replace(tzinfo=None)  # a Monday 09:00: every grid starts here
        self.step = period
        self.layers = [
            (layer.name, layer.rotations[0].participants, len(layer.rotations[0].participants))
            for layer in schedule.layers
        ]
        ordered = sorted(schedule.overrides, key=lambda o: o.start)
        for a, b in itertools.pairwise(ordered):
            assert a.end <= b.start, "the bisect below assumes overrides do not overlap"
        self.ov_layer = [o.layer for o in ordered]
        self.ov_starts = [o.start for o in ordered]
        self.ov_ends = [o.end for o in ordered]
        self.ov_people = [o.person for o in ordered]

    def handoff(self, k: int) -> datetime:
        # fold=0: an ambiguous local time is its first occurrence; a time in the
        # spring-forward gap is read with the offset before the change.
        return (self.anchor + k * self.step).replace(tzinfo=LONDON).astimezone(UTC)

    def on_call(self, at: datetime) -> tuple[tuple[str, str], ...]:
        local = at.astimezone(LONDON).replace(tzinfo=None)
        k = (local - self.anchor) // self.step
        while self.handoff(k) > at:
            k -= 1
        while self.handoff(k + 1) <= at:
            k += 1
        i = bisect.bisect_right(self.ov_starts, at) - 1
        covered = i >= 0 and at < self.ov_ends[i]
        return tuple(
            (
                name,
                self.ov_people[i] if covered and self.ov_layer[i] == name else people[k % n],
            )
            for name, people, n in self.layers
        )


def library_answer(schedule: Schedule, at: datetime) -> tuple[tuple[str, str], ...]:
    return tuple((h.layer, h.person) for h in schedule.on_call(at).holders)


def dst_sweep() -> list[datetime]:
    """Every 10 minutes (and 1 µs before each) over two days around each London DST change."""
    out: list[datetime] = []
    for year in range(2021, 2027):
        for month in (3, 10):
            last_sunday = max(
                datetime(year, month, day, 1, tzinfo=UTC)
                for day in range(25, 32)
                if datetime(year, month, day).weekday() == 6
            )
            at = last_sunday - timedelta(days=1)
            while at < last_sunday + timedelta(days=1):
                out += [at, at - timedelta(microseconds=1)]
                at += timedelta(minutes=10)
    return out


def check_same(schedule: Schedule, baseline: HandWritten, instants: list[datetime]) -> int:
    """Stop the run unless the hand-written lookup gives the library's answer everywhere."""
    for at in instants:
        ours, theirs = library_answer(schedule, at), baseline.on_call(at)
        if ours != theirs:
            raise AssertionError(
                f"on-call baseline disagrees at {at.isoformat()}: {ours} != {theirs}"
            )
    return len(instants)


def main() -> None:
    results: list[Result] = []
    start_utc = START.astimezone(UTC)
    sweep = dst_sweep()
    for label, every, period in (
        ("hourly", Every.HOUR, timedelta(hours=1)),
        ("daily", Every.DAY, timedelta(days=1)),
        ("weekly", Every.WEEK, timedelta(weeks=1)),
    ):
        schedule = _schedule(every)
        baseline = HandWritten(schedule, period)
        checked = check_same(schedule, baseline, sweep)
        for mode, make in (
            ("warm", _within_shifts),
            ("cold", lambda base, period=period: _across_shifts(base, period)),
        ):
            near = make(start_utc + timedelta(weeks=1))
            far = make(start_utc + timedelta(days=5 * 365))
            checked += check_same(schedule, baseline, near + far)
            setup = _cold if mode == "cold" else None

            def lookup(instants: list[datetime], schedule: Schedule = schedule) -> None:
                for at in instants:
                    schedule.on_call(at)

            def by_hand(far: list[datetime] = far, baseline: HandWritten = baseline) -> None:
                for at in far:
                    baseline.on_call(at)

            far_s, near_s = compare(
                lambda far=far: lookup(far), lambda near=near: lookup(near), repeats=7, setup=setup
            )
            results.append(
                Result(
                    f"on_call {label} {mode}: 5 years ÷ 1 week",
                    far_s / BATCH,
                    near_s / BATCH,
                    limit=2,
                    measures=f"Schedule.on_call at {BATCH} instants five years after the start",
                    against=f"Schedule.on_call at {BATCH} instants one week after the start",
                )
            )
            far_s, base_s = compare(lambda far=far: lookup(far), by_hand, repeats=7, setup=setup)
            results.append(
                Result(
                    f"on_call {label} {mode} (5 years) ÷ hand-written DST-aware lookup",
                    far_s / BATCH,
                    base_s / BATCH,
                    limit=50,
                    measures=f"Schedule.on_call at {BATCH} instants five years after the start",
                    against=(
                        "hand-written zoneinfo local-calendar arithmetic + override bisect, same "
                        f"instants; same answers checked at {checked} instants incl. a DST sweep"
                    ),
                )
            )
    report("oncall", results)


if __name__ == "__main__":
    main()
