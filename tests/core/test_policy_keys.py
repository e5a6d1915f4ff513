"""Every documented policy key changes behaviour, and escalation has one source of truth.

``SeverityLevel.paging`` and ``escalate_after`` used to be accepted and then
ignored (the escalation policies carried their own delays). They are gone:
escalation per severity is the ``[[escalation.policies]]`` table alone, and a
file that still sets the old keys is refused with the key path.

The table test below names, for each documented key, a value and the
observable change it makes against the default policy. A second test reads
the key tables of the policy-file guide so a newly documented key without a
row fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import incidentkit as ik
from incidentkit.events import EscalationFired
from incidentkit.timers import due_events

T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)  # a Wednesday
DOCS = Path(__file__).parents[2] / "docs" / "guides"


def fired(policy: ik.Policy, severity: str, minutes: int, **declare: Any) -> list[str]:
    """Timer keys due ``minutes`` after declaring at ``severity`` (nothing acknowledged)."""
    kit = ik.IncidentKit(policy=policy, clock=ik.ManualClock(T0), autoload_plugins=False)
    inc = kit.declare("x", severity=severity, by="ana", incident_id="INC-1", **declare)
    state = kit.get(inc.id)
    early = [r.event.key for r in kit.timeline(inc.id)[1:]]
    return early + [e.key for e in due_events(state, policy, T0 + timedelta(minutes=minutes))]


def escalations(policy: ik.Policy, severity: str, minutes: int) -> list[tuple[str, str]]:
    kit = ik.IncidentKit(policy=policy, clock=ik.ManualClock(T0), autoload_plugins=False)
    inc = kit.declare("x", severity=severity, by="ana", incident_id="INC-1")
    events = [r.event for r in kit.timeline(inc.id)[1:]]
    events += due_events(kit.get(inc.id), policy, T0 + timedelta(minutes=minutes))
    return [(e.action, ",".join(e.targets)) for e in events if isinstance(e, EscalationFired)]


def kit_with(policy: ik.Policy) -> ik.IncidentKit:
    return ik.IncidentKit(policy=policy, clock=ik.ManualClock(T0), autoload_plugins=False)


def resolve_refusal(policy: ik.Policy, *, commander: bool = True) -> str:
    kit = kit_with(policy)
    inc = kit.declare("x", severity="SEV2", by="ana", incident_id="INC-1")
    if commander:
        kit.assign_role(inc.id, "incident_commander", "ana", by="ana")
    try:
        kit.resolve(inc.id, by="ana")
    except ik.GuardFailed as err:
        return str(err)
    return "resolved"


def commander_rule(policy: ik.Policy) -> str:
    kit = kit_with(policy)
    inc = kit.declare("x", severity="SEV2", by="ana", incident_id="INC-1")
    kit.assign_role(inc.id, "incident_commander", "ana", by="ana")
    try:
        kit.set_severity(inc.id, "SEV1", by="bo", reason="worse")
    except ik.PermissionDenied:
        return "refused"
    return "allowed"


STEPS = 'steps = [{ targets = ["person:cy"], delay = "2m", action = "page", repeat = 1 }]'
ESCALATION = f'[[escalation.policies]]\nname = "all"\nseverities = ["SEV1"]\n{STEPS}\n'
SCHEDULE = """
[[oncall.schedules]]
name = "ops"
[[oncall.schedules.layers]]
name = "primary"
[[oncall.schedules.layers.rotations]]
participants = ["zed"]
start = 2025-01-06T09:00:00+00:00
zone = "UTC"
"""

Observe = Callable[[ik.Policy], object]

# (documented key, TOML that sets it, what it changes)
ROWS: list[tuple[str, str, Observe]] = [
    ("zone", 'zone = "Europe/Berlin"', lambda p: p.response_deadline(ik.Severity.SEV4, T0)),
    (
        "channel_prefix",
        'channel_prefix = "#inc-"',
        lambda p: kit_with(p).declare("API down", severity="SEV1", by="a").channel[:5],
    ),
    ("gating_checklist", 'gating_checklist = ""', resolve_refusal),
    (
        "severity.default_severity",
        '[severity]\ndefault_severity = "SEV3"',
        lambda p: p.severity.classify(ik.Signals()).severity,
    ),
    (
        "severity.rules",
        '[[severity.rules]]\nseverity = "SEV1"\nwhen = "error_rate > 0.5"',
        lambda p: p.severity.classify(ik.Signals(error_rate=0.6)).reasons,
    ),
    (
        "severity.levels.severity",
        '[[severity.levels]]\nseverity = "SEV1"\nresponse_target = "1m"',
        lambda p: p.response_deadline(ik.Severity.SEV1, T0),
    ),
    (
        "severity.levels.name",
        '[[severity.levels]]\nseverity = "SEV1"\nname = "Sev one"',
        lambda p: p.severity.level(ik.Severity.SEV1).name,
    ),
    (
        "severity.levels.impact",
        '[[severity.levels]]\nseverity = "SEV1"\nimpact = "All down"',
        lambda p: p.severity.level(ik.Severity.SEV1).impact,
    ),
    (
        "severity.levels.examples",
        '[[severity.levels]]\nseverity = "SEV1"\nexamples = ["x"]',
        lambda p: p.severity.level(ik.Severity.SEV1).examples,
    ),
    (
        "severity.levels.response_target",
        '[[severity.levels]]\nseverity = "SEV3"\nresponse_target = "10m"',
        lambda p: "target:response" in fired(p, "SEV3", 11),
    ),
    (
        "severity.levels.next_business_day",
        '[[severity.levels]]\nseverity = "SEV4"\nnext_business_day = false',
        lambda p: p.response_deadline(ik.Severity.SEV4, T0),
    ),
    (
        "severity.levels.update_cadence",
        '[[severity.levels]]\nseverity = "SEV3"\nupdate_cadence = "20m"',
        lambda p: [k for k in fired(p, "SEV3", 21) if k.startswith("reminder:")],
    ),
    (
        "severity.levels.cadence_note",
        '[[severity.levels]]\nseverity = "SEV3"\ncadence_note = "hourly"',
        lambda p: p.severity.level(ik.Severity.SEV3).cadence_note,
    ),
    (
        "severity.levels.phases",
        '[[severity.levels]]\nseverity = "SEV3"\nphases = { assess = "5m" }',
        lambda p: "target:phase:assess" in fired(p, "SEV3", 6),
    ),
    ("roles.custom", '[roles]\ncustom = ["security-lead"]', lambda p: p.roles.names[-1]),
    ("roles.commander_only", "[roles]\ncommander_only = false", commander_rule),
    (
        "roles.require_commander_to_resolve",
        "[roles]\nrequire_commander_to_resolve = false",
        lambda p: resolve_refusal(p, commander=False),
    ),
    ("phases.assess", '[phases]\nassess = "1m"', lambda p: fired(p, "SEV1", 2)),
    ("phases.mitigate", '[phases]\nmitigate = "1m"', lambda p: fired(p, "SEV1", 2)),
    ("phases.investigate", '[phases]\ninvestigate = "1m"', lambda p: fired(p, "SEV1", 2)),
    ("phases.resolve", '[phases]\nresolve = "1m"', lambda p: fired(p, "SEV1", 2)),
    (
        "checklists",
        'gating_checklist = "w"\n[[checklists]]\nname = "w"\ntitle = "W"\n'
        'items = [{key = "k", text = "t"}]',
        resolve_refusal,
    ),
    (
        "business_days.holidays",
        "zone = 'UTC'\n[business_days]\nholidays = [2025-01-16]",
        lambda p: p.response_deadline(ik.Severity.SEV4, T0),
    ),
    (
        "business_days.country",
        "[business_days]\ncountry = 'DE'",
        lambda p: p.response_deadline(ik.Severity.SEV4, datetime(2025, 12, 24, 9, tzinfo=UTC)),
    ),
    (
        "business_days.subdivision",
        "[business_days]\ncountry = 'DE'\nsubdivision = 'BE'",
        lambda p: p.response_deadline(ik.Severity.SEV4, datetime(2024, 3, 7, 9, tzinfo=UTC)),
    ),
    (
        "business_days.day_ends",
        "[business_days]\nday_ends = '18:00'",
        lambda p: p.response_deadline(ik.Severity.SEV4, T0),
    ),
    ("escalation.policies.severities", ESCALATION, lambda p: escalations(p, "SEV1", 10)),
    ("escalation.policies.steps.targets", ESCALATION, lambda p: escalations(p, "SEV1", 10)),
    ("escalation.policies.steps.delay", ESCALATION, lambda p: escalations(p, "SEV1", 1)),
    (
        "escalation.policies.steps.action",
        ESCALATION.replace('"page"', '"notify"'),
        lambda p: escalations(p, "SEV1", 10),
    ),
    ("escalation.policies.steps.repeat", ESCALATION, lambda p: escalations(p, "SEV1", 10)),
    (
        "escalation.policies.steps.repeat_interval",
        ESCALATION.replace("repeat = 1", "repeat = 1, repeat_interval = '30m'"),
        lambda p: escalations(p, "SEV1", 10),
    ),
    (
        "escalation.policies.schedule",
        SCHEDULE + ESCALATION.replace('"person:cy"', '"layer:primary"') + 'schedule = "ops"\n',
        lambda p: escalations(p, "SEV1", 10),
    ),
]


@pytest.mark.parametrize(("key", "toml", "observe"), ROWS, ids=[row[0] for row in ROWS])
def test_every_policy_key_changes_behaviour(key: str, toml: str, observe: Observe) -> None:
    default = ik.Policy.default()
    changed = ik.Policy.from_toml(toml)
    assert observe(changed) != observe(default), key


def documented_keys() -> set[str]:
    """The keys in the policy-file guide's tables, with their table prefix."""
    text = (DOCS / "policy-files.md").read_text(encoding="utf-8")
    prefixes = {
        "## The top level": "",
        "## Severity levels": "severity.levels.",
        "## Business days": "business_days.",
        "## Roles": "roles.",
    }
    found: set[str] = set()
    for heading, prefix in prefixes.items():
        section = text.split(heading, 1)[1].split("\n## ", 1)[0]
        for row in re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", section, re.M):
            found.update(prefix + key for key in row if key)
    return found


def test_the_table_covers_every_documented_key() -> None:
    covered = {row[0] for row in ROWS}
    missing = documented_keys() - covered
    assert not missing, f"documented policy keys without a behaviour test: {sorted(missing)}"
    assert {"severity.levels.name", "business_days.day_ends", "zone"} <= documented_keys()


@pytest.mark.parametrize("key", ["paging", "escalate_after"])
def test_the_removed_severity_keys_are_refused_with_the_key_path(key: str) -> None:
    value = '"ticket"' if key == "paging" else '"30m"'
    with pytest.raises(ik.PolicyError) as err:
        ik.Policy.from_toml(f'[[severity.levels]]\nseverity = "SEV1"\n{key} = {value}\n')
    ((path, reason),) = err.value.problems
    assert path == f"$.severity.levels[0].{key}"
    assert "[[escalation.policies]]" in reason


def test_sev1_escalation_follows_the_escalation_policy_alone() -> None:
    # The reported hole: these keys were accepted and SEV1 still paged primary
    # and secondary within 6 minutes. Now the escalation table says it.
    policy = ik.Policy.from_toml(
        '[[escalation.policies]]\nname = "sev1"\nseverities = ["SEV1"]\n'
        'steps = [{ targets = [], delay = "0m", action = "ticket" }]\n'
    )
    assert escalations(policy, "SEV1", 6) == [("ticket", "")]
    assert ik.oncall.EscalationPolicies.default().for_severity(ik.Severity.SEV1).paging is (
        ik.Paging.PAGE
    )
    assert policy.oncall.escalation.for_severity(ik.Severity.SEV1).paging is ik.Paging.TICKET
    assert [e for e in fired(policy, "SEV1", 6) if e.startswith("escalation")] == [
        "escalation:sev1:0:0"
    ]
    assert "target:response" in fired(policy, "SEV1", 6)
