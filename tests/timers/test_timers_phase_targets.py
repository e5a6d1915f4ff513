"""Phase targets per severity level, and missed targets of a severity that does not notify."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incidentkit.clock import ManualClock
from incidentkit.errors import PolicyError
from incidentkit.events import TargetMissed
from incidentkit.kit import IncidentKit
from incidentkit.lifecycle import Phase, PhaseTargets
from incidentkit.policy import Policy
from incidentkit.severity import Severity
from incidentkit.testing import CapturingNotifier

from ._helpers import T0, minutes, scheduled_policy
from .conftest import KitFactory


def missed(kit: IncidentKit, iid: str) -> list[str]:
    return [r.event.key for r in kit.timeline(iid) if isinstance(r.event, TargetMissed)]


def test_default_phase_targets_follow_the_guide_per_severity() -> None:
    policy = Policy.default()
    guide = {Phase.ASSESS: minutes(5), Phase.MITIGATE: minutes(15), Phase.INVESTIGATE: None}
    guide[Phase.RESOLVE] = minutes(30)
    assert policy.phase_targets(Severity.SEV1) == guide
    assert policy.phase_targets(Severity.SEV2) == guide
    assert policy.phase_targets(Severity.SEV3) == dict.fromkeys(Phase)
    assert policy.phase_targets(Severity.SEV4) == dict.fromkeys(Phase)


@pytest.mark.parametrize("severity", [Severity.SEV3, Severity.SEV4])
def test_low_severities_send_no_phase_reminders(
    severity: Severity, make_kit: KitFactory, clock: ManualClock
) -> None:
    kit = make_kit()
    iid = kit.declare("Typo", severity=severity, by="alice").id
    kit.acknowledge(iid, by="alice")
    for at in (6, 16, 31, 120):
        clock.set(T0 + minutes(at))
        kit.tick()
    assert missed(kit, iid) == []


def test_a_level_sets_its_own_phase_targets_in_toml() -> None:
    policy = Policy.from_toml(
        """
        [phases]
        mitigate = "10m"

        [[severity.levels]]
        severity = "SEV3"
        phases = { resolve = "4h" }

        [[severity.levels]]
        severity = "SEV1"
        phases = { resolve = "20m" }
        """
    )
    assert policy.phase_targets(Severity.SEV3) == {
        Phase.ASSESS: None,
        Phase.MITIGATE: None,
        Phase.INVESTIGATE: None,
        Phase.RESOLVE: timedelta(hours=4),
    }
    # SEV1 overrides the policy's [phases] key by key; SEV2 uses them as they are.
    sev1 = policy.phase_targets(Severity.SEV1)
    assert (sev1[Phase.MITIGATE], sev1[Phase.RESOLVE]) == (minutes(10), minutes(20))
    assert policy.phase_targets(Severity.SEV2)[Phase.RESOLVE] == minutes(30)
    assert policy.severity.level(Severity.SEV3).phases == PhaseTargets(
        None, None, None, timedelta(hours=4)
    )


def test_the_kit_fires_the_level_phase_targets(make_kit: KitFactory, clock: ManualClock) -> None:
    policy = Policy.from_toml(
        """
        [[severity.levels]]
        severity = "SEV3"
        phases = { resolve = "2h" }
        """
    )
    kit = make_kit(scheduled_policy(base=policy))
    iid = kit.declare("Search slow", severity=Severity.SEV3, by="alice").id
    kit.acknowledge(iid, by="alice")
    clock.set(T0 + minutes(119))
    kit.tick()
    assert missed(kit, iid) == []
    clock.set(T0 + minutes(121))
    kit.tick()
    assert missed(kit, iid) == ["target:phase:resolve"]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('[[severity.levels]]\nseverity = "SEV3"\nphases = { resolve = "soon" }', "resolve"),
        ('[[severity.levels]]\nseverity = "SEV3"\nphases = { resolv = "1h" }', "resolv"),
        ('[[severity.levels]]\nseverity = "SEV3"\nphases = { assess = -60 }', "assess"),
        ('[[severity.levels]]\nseverity = "SEV3"\nphases = "1h"', None),
    ],
)
def test_bad_level_phase_targets_name_the_key(text: str, path: str | None) -> None:
    with pytest.raises(PolicyError) as err:
        Policy.from_toml(text)
    expected = "$.severity.levels[0].phases" + (f".{path}" if path else "")
    assert [p for p, _ in err.value.problems] == [expected]


def test_a_missed_target_of_a_severity_that_does_not_notify_is_recorded_silently(
    make_kit: KitFactory, clock: ManualClock, capturing_notifier: CapturingNotifier
) -> None:
    policy = Policy.from_toml(
        """
        [[severity.levels]]
        severity = "SEV4"
        phases = { resolve = "1h" }
        """
    )
    kit = make_kit(scheduled_policy(base=policy))
    iid = kit.declare("Typo", severity=Severity.SEV4, by="alice").id
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    clock.set(T0 + minutes(61))
    kit.tick()
    assert missed(kit, iid) == ["target:phase:resolve"]
    state = kit.get(iid)
    for record in kit.timeline(iid):
        if isinstance(record.event, TargetMissed):
            assert kit.notifications_for(state, record) == []
    # A SEV3 (notify only) that misses its response target reminds the commander.
    loud = make_kit(scheduled_policy(base=policy))
    other = loud.declare("Typo", severity=Severity.SEV3, by="alice", incident_id="INC-3").id
    loud.assign_role(other, "incident_commander", "alice", by="alice")
    clock.set(T0 + timedelta(hours=3))
    (miss,) = [r for r in loud.tick().fired if r.event.key == "target:response"]
    assert loud.notifications_for(loud.get(other), miss) != []
