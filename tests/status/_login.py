"""The guide's login incident, run through kit.status (shared by the status tests)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import incidentkit as ik
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME  # 14:30 PST

POLICY = """
zone = "America/Los_Angeles"

[status]
audiences = ["public", "internal", "customers", "support", "executives"]

[[status.pages]]
id = "main"
name = "Example status"
url = "https://status.example.com"
zone = "America/Los_Angeles"

[[status.groups]]
id = "core"
name = "Core"

[[status.components]]
id = "login"
name = "Login"
group = "core"
position = 1

[[status.components]]
id = "api"
name = "API"
group = "core"
position = 2

[[status.components]]
id = "billing"
name = "Billing"
position = 3
"""


def make_kit(
    store: ik.Store | None = None,
    *,
    plugins: Sequence[object] = (),
    extra: str = "",
) -> ik.IncidentKit:
    return ik.IncidentKit(
        store=store,
        policy=ik.Policy.from_toml(POLICY + extra),
        clock=ik.ManualClock(T0),
        plugins=list(plugins),
        autoload_plugins=False,
    )


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def login_incident(kit: ik.IncidentKit) -> str:
    """The guide's timeline: 14:30 declared … 15:10 resolved (times in PST)."""
    clock = kit.clock
    assert isinstance(clock, ik.ManualClock)
    clock.set(T0)
    inc = kit.declare(
        "API returning 500 errors", severity=ik.Severity.SEV1, by="alice", started_at=T0
    )
    iid = inc.id
    kit.assign_role(iid, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.assign_role(iid, ik.Role.TECHNICAL_LEAD, "bob", by="alice")
    kit.assign_role(iid, ik.Role.COMMUNICATIONS_LEAD, "charlie", by="alice")
    clock.set(at(2))
    kit.add_note(iid, "Checking dashboards... seeing 15% error rate", by="bob")
    clock.set(at(5))
    kit.record_hypothesis(
        iid,
        "database connection pool exhausted",
        test="check pool metrics",
        result="100/100 in use, 50 waiting",
        conclusion=ik.Conclusion.CONFIRMED,
        by="bob",
    )
    kit.status.post(
        iid,
        "investigating",
        "Users may experience login failures",
        "We are investigating reports of login failures affecting some users.\n"
        "Our team is actively working on a resolution.",
        by="charlie",
        components={"login": "partial_outage"},
    )
    clock.set(at(20))
    kit.status.post(
        iid,
        "identified",
        "Database connection issues causing login failures",
        "We have identified the root cause as database connection pool exhaustion.\n"
        "Our team is implementing a fix.",
        by="charlie",
    )
    clock.set(at(40))
    kit.status.post(
        iid,
        "resolved",
        "Login functionality restored",
        "The issue has been resolved. All systems are operating normally.\n"
        "We will continue to monitor closely.",
        by="charlie",
    )
    kit.resolve(iid, by="alice", summary="pool size raised to 20", force=True, reason="drill")
    for field, text in {
        "title": "Login Service Interruption",
        "summary": "some users experienced difficulties logging into our application.",
        "cause": "Our database connection pool reached capacity, causing login requests "
        "to fail with error messages.",
        "actions": "We have also implemented additional monitoring to prevent similar issues.",
        "impact": "Approximately 15% of login attempts failed during this window. "
        "No data was lost or compromised.",
    }.items():
        kit.status.record_statement(iid, field, text, by="charlie")
    return iid
