"""A drill recorded into a real store is marked, and metrics and health leave it out."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from incidentkit import metrics
from incidentkit.cli import main
from incidentkit.clock import ManualClock
from incidentkit.errors import ValidationError
from incidentkit.kit import IncidentKit
from incidentkit.people import CommanderRule
from incidentkit.people.drill import DrillScript
from incidentkit.store import Store

from ._helpers import T0, people_policy
from .test_people_drill_cli import SCRIPT

RESOLVING = SCRIPT + '\n[[actions]]\nat = "10m"\ndo = "resolve"\nby = "alice"\n'


def production_kit(store: Store) -> tuple[IncidentKit, str]:
    """A kit with one real SEV1, acknowledged after 20 minutes and resolved after an hour."""
    clock = ManualClock(T0 - timedelta(days=1))
    policy = people_policy(commander=CommanderRule.ACKNOWLEDGER)  # the drill can resolve
    kit = IncidentKit(store, policy, clock, autoload_plugins=False)
    incident_id = kit.declare("Checkout down", severity="SEV1", by="mon").id
    clock.advance(timedelta(minutes=20))
    kit.acknowledge(incident_id, by="alice")
    kit.assign_role(incident_id, "incident_commander", "alice", by="alice")
    clock.advance(timedelta(minutes=40))
    kit.resolve(incident_id, by="alice", summary="fixed", force=True, reason="test")
    return kit, incident_id


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_recorded_drill_is_left_out_of_metrics_unless_asked(
    backend: str, request: pytest.FixtureRequest
) -> None:
    store: Store = request.getfixturevalue(f"{backend}_store")
    kit, real = production_kit(store)
    outbox_before = len(store.outbox())
    report = kit.people.drill(DrillScript.from_toml(RESOLVING), store=store)
    assert report.incident_id == "DRILL-20241120-2230"
    assert not [f for f in report.failures if "resolve" in f]  # the drill resolved
    assert metrics.is_drill(report.incident_id) and not metrics.is_drill(real)
    assert sorted(store.incident_ids()) == sorted([real, report.incident_id])
    drill = store.summary(report.incident_id)
    assert drill is not None and drill.next_due_at is None
    assert len(store.outbox()) == outbox_before  # nothing will ever be sent for the drill
    assert any("DRILL:" in r.event.describe() for r in kit.timeline(report.incident_id))

    production = metrics.compute(store)
    assert production.overall.incidents == 1
    assert production.overall["mtta"].mean == 1200.0
    both = metrics.compute(store, include_drills=True)
    assert both.overall.incidents == 2
    assert both.overall["mtta"].mean == (1200.0 + 180.0) / 2
    # summaries given directly are filtered the same way
    assert metrics.compute(store.summaries()).overall.incidents == 1

    start, end = T0 - timedelta(days=2), T0 + timedelta(days=1)
    pages = {p.person: p.pages for p in kit.people.health(start, end).people}
    with_drills = {
        p.person: p.pages for p in kit.people.health(start, end, include_drills=True).people
    }
    assert with_drills["alice"] > pages.get("alice", 0)
    kit.tick(T0 + timedelta(hours=2))  # production ticks fire nothing for the drill
    assert store.version(report.incident_id) == len(kit.timeline(report.incident_id))


def test_recording_a_drill_twice_is_refused_and_leaves_the_store_unchanged(
    sqlite_store: Store,
) -> None:
    kit, _ = production_kit(sqlite_store)
    kit.people.drill(DrillScript.from_toml(RESOLVING), store=sqlite_store)
    ids, version = sqlite_store.incident_ids(), sqlite_store.version("DRILL-20241120-2230")
    with pytest.raises(ValidationError) as err:
        kit.people.drill(DrillScript.from_toml(RESOLVING), store=sqlite_store)
    assert err.value.field == "store"
    assert sqlite_store.incident_ids() == ids
    assert sqlite_store.version("DRILL-20241120-2230") == version
    with pytest.raises(ValidationError) as err:
        kit.people.drill(DrillScript.from_toml(RESOLVING), store="sqlite:///x.db")  # type: ignore[arg-type]
    assert err.value.field == "store"


def test_include_drills_must_be_a_bool(sqlite_store: Store) -> None:
    with pytest.raises(ValidationError) as err:
        metrics.compute(sqlite_store, include_drills="yes")  # type: ignore[arg-type]
    assert err.value.field == "include_drills"


def test_metrics_cli_leaves_drills_out_unless_include_drills(tmp_path: Path) -> None:
    from incidentkit.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "x.db")
    store.migrate()
    kit, _ = production_kit(store)
    kit.people.drill(DrillScript.from_toml(RESOLVING), store=store)
    store.close()
    counts = []
    for extra in ((), ("--include-drills",)):
        out, err = io.StringIO(), io.StringIO()
        code = main(
            ["--db", f"sqlite:///{tmp_path}/x.db", "metrics", "--format", "json", *extra], out, err
        )
        assert code == 0, err.getvalue()
        counts.append(json.loads(out.getvalue())["overall"]["incidents"])
    assert counts == [1, 2]
