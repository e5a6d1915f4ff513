"""Acceptance tests 1 and 2 of wave2-specs §2.3: exact enums, the page-level table."""

from __future__ import annotations

import pytest

import incidentkit as ik
from incidentkit.status import (
    ComponentStatus,
    Impact,
    Indicator,
    MaintenanceStatus,
    PageLabel,
    derive_impact,
    page_status,
)


def test_1_enums_are_exact() -> None:
    assert {s.value for s in ComponentStatus} == {
        "operational",
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "under_maintenance",
    }
    assert {s.value for s in ik.PublicStatus} == {
        "investigating",
        "identified",
        "monitoring",
        "resolved",
        "postmortem",
    }
    assert {s.value for s in MaintenanceStatus} == {
        "scheduled",
        "in_progress",
        "verifying",
        "completed",
    }
    assert {s.value for s in Impact} == {"none", "minor", "major", "critical"}
    assert {s.value for s in Indicator} - {"maintenance"} == {s.value for s in Impact}


def test_1_unknown_values_are_refused_naming_the_field() -> None:
    with pytest.raises(ik.ValidationError) as err:
        page_status(["operational", "down"])
    assert err.value.field == "statuses[1]"
    with pytest.raises(ik.ValidationError) as err:
        page_status([], incident_impact="huge")
    assert err.value.field == "incident_impact"
    with pytest.raises(ik.ValidationError):
        derive_impact(["broken"])


OP, DEG, PART, MAJ, MAINT = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)


@pytest.mark.parametrize(
    ("statuses", "indicator", "description"),
    [
        ([], "none", "All Systems Operational"),
        ([OP, OP], "none", "All Systems Operational"),
        ([DEG], "minor", "Partially Degraded Service"),
        ([DEG, DEG], "minor", "Degraded System Service"),
        ([PART, OP], "minor", "Minor Service Outage"),
        ([PART, PART], "major", "Partial System Outage"),
        ([MAJ, OP], "major", "Partial System Outage"),
        ([MAJ, MAJ], "critical", "Major System Outage"),
        ([MAINT, OP], "maintenance", "Service Under Maintenance"),
        # precedence: major > partial > degraded > maintenance
        ([MAJ, PART, DEG, MAINT], "major", "Partial System Outage"),
        ([PART, DEG], "minor", "Minor Service Outage"),
        ([DEG, MAINT], "minor", "Partially Degraded Service"),
        ([DEG, OP], "minor", "Partially Degraded Service"),
    ],
)
def test_2_page_level_table(statuses: list[str], indicator: str, description: str) -> None:
    found = page_status(statuses)
    assert (found.indicator.value, found.description) == (indicator, description)


def test_2_an_active_incident_shows_on_a_page_without_components() -> None:
    assert page_status([], incident_impact="major").description == "Partial System Outage"
    # components already worse than the incident: they win
    assert page_status([MAJ, MAJ], incident_impact="minor").indicator is Indicator.CRITICAL


def test_2_labels_are_overridable() -> None:
    labels = {PageLabel.PARTIALLY_DEGRADED: "Some things are slow"}
    found = page_status([DEG, OP], labels=labels)
    assert (found.indicator, found.description) == (Indicator.MINOR, "Some things are slow")


@pytest.mark.parametrize(
    ("statuses", "impact"),
    [
        ([], "none"),
        ([OP, MAINT], "none"),
        ([DEG], "minor"),
        ([DEG, PART], "major"),
        ([PART, MAJ], "critical"),
    ],
)
def test_impact_from_components(statuses: list[str], impact: str) -> None:
    assert derive_impact(statuses).value == impact
