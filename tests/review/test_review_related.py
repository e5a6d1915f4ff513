"""Related incidents in the review: same service, same contributing-factor category."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import incidentkit as ik
from incidentkit.review.render import RelatedIncident
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME


def _resolved(kit: ik.IncidentKit, iid: str, services: list[str], minutes: int) -> str:
    kit.clock.set(T0 + timedelta(minutes=minutes))  # type: ignore[attr-defined]
    kit.declare(f"incident {iid}", severity="SEV2", by="alice", services=services, incident_id=iid)
    kit.assign_role(iid, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.resolve(iid, by="alice", force=True, reason="test")
    return iid


def test_related_by_service_and_factor_category_newest_first() -> None:
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), autoload_plugins=False)
    mine = _resolved(kit, "INC-1", ["login"], 0)
    kit.reviews.add_factor(mine, "capacity", "pool fixed", by="bob")
    same_service = _resolved(kit, "INC-2", ["login", "db"], 10)
    same_factor = _resolved(kit, "INC-3", ["search"], 20)
    kit.reviews.add_factor(same_factor, "capacity", "shards fixed", by="bob")
    both = _resolved(kit, "INC-4", ["login"], 30)
    kit.reviews.add_factor(both, "capacity", "again", by="bob")
    kit.reviews.add_factor(both, "testing", "no load test", by="bob")
    _resolved(kit, "INC-5", ["billing"], 40)  # shares nothing
    assert kit.reviews.related(mine) == (
        RelatedIncident(both, "incident INC-4", ("service login", "factor capacity")),
        RelatedIncident(same_factor, "incident INC-3", ("factor capacity",)),
        RelatedIncident(same_service, "incident INC-2", ("service login",)),
    )
    document = kit.reviews.render(mine)
    section = document.split("## Related Incidents\n")[1]
    assert section.splitlines()[:3] == [
        "- INC-4: incident INC-4 (service login; factor capacity)",
        "- INC-3: incident INC-3 (factor capacity)",
        "- INC-2: incident INC-2 (service login)",
    ]
    assert kit.reviews.related(mine, limit=2) == kit.reviews.related(mine)[:1]


def test_related_by_runbook_and_the_document_lists_the_runbooks_used(tmp_path: Path) -> None:
    from incidentkit.mitigation import (
        CircuitBreakerAction,
        CircuitBreakerRegistry,
        FeatureFlagAction,
        InMemoryFlagClient,
        MaintenanceModeAction,
        RollbackAction,
        ScaleAction,
    )
    from incidentkit.runbooks import write_defaults

    actions = [  # the actions the six default runbooks name
        RollbackAction(["true"]),
        ScaleAction(lambda params: "scaled"),
        FeatureFlagAction(InMemoryFlagClient()),
        CircuitBreakerAction(CircuitBreakerRegistry(), create_missing=True),
        MaintenanceModeAction(lambda params: None),
    ]
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), plugins=actions, autoload_plugins=False)
    write_defaults(tmp_path / "rb", today=date(2024, 11, 1))
    kit.runbooks.load(tmp_path / "rb")
    runbook = kit.runbooks.all[0].id
    for minutes, (iid, service) in enumerate((("INC-1", "login"), ("INC-2", "search"))):
        kit.clock.set(T0 + timedelta(minutes=10 * minutes))  # type: ignore[attr-defined]
        kit.declare(
            f"incident {iid}", severity="SEV2", by="alice", services=[service], incident_id=iid
        )
        kit.runbooks.attach(iid, runbook, by="alice", reasons=["on demand"])
        kit.assign_role(iid, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
        kit.resolve(iid, by="alice", force=True, reason="test")
    mine, other = "INC-1", "INC-2"
    _resolved(kit, "INC-3", ["billing"], 20)  # shares nothing
    assert kit.reviews.related(mine) == (
        RelatedIncident(other, "incident INC-2", (f"runbook {runbook}",)),
    )
    document = kit.reviews.render(mine)
    used = document.split("## Runbooks Used\n")[1].splitlines()
    assert used[0].startswith("- ") and f"(`{runbook}`) (on demand)" in used[0]
    assert kit.reviews.render(mine) == document  # deterministic
    assert "## Runbooks Used" not in kit.reviews.render("INC-3")
