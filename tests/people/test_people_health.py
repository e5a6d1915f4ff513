"""On-call health: a generated quarter against a brute-force minute-by-minute count."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

from incidentkit.clock import ManualClock
from incidentkit.errors import NotFound, ValidationError
from incidentkit.kit import IncidentKit
from incidentkit.oncall import Layer, Override, RateCard, Rotation, Schedule
from incidentkit.people import PeopleConfig
from incidentkit.people.health import PageRecord, gini, on_call_health
from incidentkit.store import MemoryStore

from ._helpers import T0, minutes, people_policy, person

Q_START = datetime(2024, 1, 1, tzinfo=UTC)
Q_END = datetime(2024, 4, 1, tzinfo=UTC)  # a quarter with the US and EU spring DST changes
ZONES = {
    "ana": "America/New_York",
    "ben": "Europe/London",
    "cai": "Australia/Sydney",
    "dee": "Asia/Tokyo",
}


def quarter_schedule() -> Schedule:
    ny = ZoneInfo("America/New_York")
    primary = Rotation(("ana", "ben", "cai"), Q_START - timedelta(days=3), ny)
    secondary = Rotation(("dee", "ana"), Q_START, ZoneInfo("Asia/Tokyo"), every="day")
    overrides = (
        Override(
            "primary",
            "dee",
            datetime(2024, 2, 10, 3, tzinfo=UTC),
            datetime(2024, 2, 12, tzinfo=UTC),
        ),
        Override(
            "secondary",
            "ben",
            datetime(2024, 3, 9, tzinfo=UTC),
            datetime(2024, 3, 11, 7, 30, tzinfo=UTC),
        ),
    )
    return Schedule(
        "rota", (Layer("primary", (primary,)), Layer("secondary", (secondary,))), overrides
    )


def generated_pages(seed: int = 7) -> list[PageRecord]:
    """300 pages at whole minutes; each page one to three contacts a minute or two apart."""
    rng = random.Random(seed)
    total = int((Q_END - Q_START) / timedelta(minutes=1))
    pages: list[PageRecord] = []
    for n in range(300):
        who = rng.choice(sorted(ZONES))
        first = Q_START + timedelta(minutes=rng.randrange(total - 10))
        for c in range(rng.randint(1, 3)):
            pages.append(
                PageRecord(f"INC-{n % 40}", who, first + timedelta(minutes=2 * c), f"p{n}")
            )
    return pages


def brute_force_band(local: datetime) -> str:
    minute_of_day = local.hour * 60 + local.minute
    if minute_of_day >= 22 * 60 or minute_of_day < 7 * 60:
        return "sleep"
    if local.isoweekday() <= 5 and 9 * 60 <= minute_of_day < 17 * 60:
        return "business"
    return "off"


def test_interruptions_and_hours_equal_a_brute_force_minute_by_minute_count() -> None:
    schedule = quarter_schedule()
    people = PeopleConfig(persons=tuple(person(p, z) for p, z in ZONES.items()))
    pages = generated_pages()
    report = on_call_health(people, schedule.shifts(Q_START, Q_END), pages, (), Q_START, Q_END)
    # Brute force: walk every minute of the quarter.
    on_call_minutes: Counter[str] = Counter()
    at_minute: dict[datetime, list[PageRecord]] = defaultdict(list)
    for page in pages:
        at_minute[page.at].append(page)
    seen: set[tuple[str, str, str]] = set()
    bands: dict[str, Counter[str]] = defaultdict(Counter)
    contacts: Counter[str] = Counter()
    t = Q_START
    while t < Q_END:
        holders = schedule.on_call(t)
        for who in {h.person for h in holders.holders}:
            on_call_minutes[who] += 1
        for page in at_minute.get(t, ()):
            contacts[page.person] += 1
            ident = (page.person, page.incident_id, page.page)
            if ident not in seen:
                seen.add(ident)
                bands[page.person][
                    brute_force_band(t.astimezone(ZoneInfo(ZONES[page.person])))
                ] += 1
        t += timedelta(minutes=1)
    rows = {p.person: p for p in report.people}
    assert set(rows) == set(ZONES)
    for who in ZONES:
        row = rows[who]
        assert row.pages == contacts[who]
        assert row.business_hours == bands[who]["business"], who
        assert row.off_hours == bands[who]["off"], who
        assert row.sleep_hours == bands[who]["sleep"], who
        assert row.interruptions == sum(bands[who].values())
        assert row.hours_on_call * 60 == pytest.approx(on_call_minutes[who])
        assert row.zone == ZONES[who]
    # Sleep-hour counts really depend on the person's zone: the same UTC minute differs.
    assert len({rows[w].sleep_hours for w in ZONES}) > 1
    hours = [rows[w].hours_on_call for w in ZONES]
    assert report.gini_hours == pytest.approx(gini(hours))
    assert report.max_min_hours == pytest.approx(max(hours) / min(hours))


def test_gini_is_zero_when_even_and_grows_with_unfairness() -> None:
    assert gini([5, 5, 5]) == 0
    assert gini([]) == 0
    assert gini([0, 0, 10]) == pytest.approx(2 / 3)
    assert gini([1, 2, 3]) < gini([0, 1, 5])


def test_health_of_a_kit_reads_the_recorded_pages_and_acknowledgements() -> None:
    policy = people_policy()
    clock = ManualClock(T0)
    kit = IncidentKit(MemoryStore(), policy, clock, autoload_plugins=False)
    incident_id = kit.declare("Login failures", severity="SEV1", by="mon").id
    for m in range(4):
        clock.set(T0 + minutes(m))
        kit.tick()
    kit.acknowledge(incident_id, by="alice")
    card = RateCard(currency="EUR", base_per_week=Decimal("336"), per_incident_hour=Decimal("30"))
    report = kit.people.health(T0 - timedelta(days=1), T0 + timedelta(days=1), card=card)
    alice = next(p for p in report.people if p.person == "alice")
    assert (alice.pages, alice.interruptions, alice.incidents) == (2, 1, 1)
    assert alice.ack_seconds == (180.0,)
    assert alice.sleep_hours == 1  # 22:30 in her zone (UTC) is sleep hours
    assert alice.hours_on_call == 48.0 and alice.pay is not None and alice.pay > 0
    assert "alice" in report.to_table() and '"person": "alice"' in report.to_json()


def test_health_refuses_a_bad_period_naming_the_field() -> None:
    kit = IncidentKit(MemoryStore(), people_policy())
    with pytest.raises(ValidationError) as err:
        kit.people.health(T0, T0)
    assert err.value.field == "end"
    with pytest.raises(ValidationError) as err:
        kit.people.health(T0.replace(tzinfo=None), T0)
    assert err.value.field == "start"


RUNBOOK = """\
+++
id = "high-error-rate"
title = "High error rate"
url = "https://runbooks.example.com/high-error-rate"
services = ["api"]
severity = "SEV2"
symptoms = ["500", "error rate"]
owner = "alice"
review_every = "90d"
last_reviewed = 2024-01-01
alerts = [{alertname = "HighErrorRate"}]
escalation = [{after = "15m", to = "team-lead"}]
+++
# Runbook: High error rate

## Symptoms
- API returning 500s

## Severity
SEV2

## Detection
- HighErrorRate alert

## Triage Steps
1. Check the error-rate dashboard
2. Review logs: `grep "ERROR" /var/log/app.log`
3. Verify the database is responding

## Quick Mitigation
### Option 1: Rollback
```bash
vercel rollback
```

### Option 2: Restart Service
```bash
systemctl restart app-service
```

## Investigation
1. Check recent deployments

## Resolution Steps
1. Deploy the fix
2. Verify the error rate is normal

## Escalation
- If issue persists > 15 minutes, escalate to @team-lead

## Related Incidents
- INC-20241120-1

## Related Documentation
- Architecture docs
"""


def test_the_handoff_report_lists_open_incidents_and_runbooks_touched(tmp_path: Path) -> None:
    from incidentkit.roles import RolePolicy

    (tmp_path / "high-error-rate.md").write_text(RUNBOOK, encoding="utf-8")
    policy = attrs.evolve(people_policy(), roles=RolePolicy(custom=("team-lead",)))
    clock = ManualClock(T0)
    kit = IncidentKit(MemoryStore(), policy, clock, autoload_plugins=False)
    (loaded,) = kit.runbooks.load(tmp_path)
    runbook = loaded.id
    incident_id = kit.declare("Login failures", severity="SEV1", by="mon").id
    kit.runbooks.attach(incident_id, runbook, by="alice")
    # alice's primary shift runs Monday 18 Nov 09:00 to Monday 25 Nov 09:00 UTC.
    end = datetime(2024, 11, 25, 9, tzinfo=UTC)
    report = kit.people.handoff("alice", end + timedelta(hours=1))
    assert report.shift_end == end
    assert [s.incident_id for s in report.open_incidents] == [incident_id]
    assert report.runbooks == (f"{runbook} on {incident_id}",)
    text = report.render()
    assert "## Runbooks touched during the shift" in text and "After-shift checklist" in text
    with pytest.raises(NotFound):
        kit.people.handoff("nobody-here", end)
