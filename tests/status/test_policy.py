"""The [status] table: refused with key paths; templates checked when the policy loads."""

from __future__ import annotations

from pathlib import Path

import pytest

import incidentkit as ik
from incidentkit.status import ComponentStatus, PageLabel

from ._login import POLICY, login_incident, make_kit


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ik.PolicyError) as err:
        ik.Policy.from_toml(text)
    return list(err.value.problems)


def paths(text: str) -> list[str]:
    return [path for path, _ in problems(text)]


def test_unknown_placeholders_are_refused_at_load_time() -> None:
    found = problems(
        '[status.templates]\ncustomer_report = "Dear ${name}, ${summary}"\n'
        'status_update = "${emoji} $status"\ninternal_line = "costs $5"\n'
    )
    assert "$.status.templates.customer_report" in {p for p, _ in found}
    reasons = dict(found)
    assert "unknown placeholder ${name}" in reasons["$.status.templates.customer_report"]
    assert "$$" in reasons["$.status.templates.internal_line"]
    assert "$.status.templates.status_update" not in reasons


def test_references_are_checked_with_key_paths() -> None:
    text = """
[status]
audiences = ["public", "support"]
cadence_audiences = ["press"]

[[status.pages]]
id = "main"
name = "Status"
audience = "everyone"

[[status.components]]
id = "api"
name = "API"
group = "core"

[[status.components]]
id = "api"
name = "API again"
page = "other"

[[status.sla]]
component = "db"
target = 99.9

[[status.subscribers]]
id = "s"
channel = "email"
address = "a@example.com"
components = ["nope"]
"""
    assert set(paths(text)) == {
        "$.status.components[1].id",
        "$.status.pages[0].audience",
        "$.status.components[0].group",
        "$.status.components[1].page",
        "$.status.cadence_audiences[0]",
        "$.status.sla[0].component",
        "$.status.subscribers[0].components",
    }


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("[status.uptime]\nweights = { partial_outage = 1.5 }", "$.status.uptime.weights"),
        ('[status.uptime]\nmaintenance = "ignored"', "$.status.uptime.maintenance"),
        ("[status.uptime]\nweights = { down = 1.0 }", "$.status.uptime.weights"),
        ("[[status.sla]]\ntarget = 120", "$.status.sla[0].target"),
        ('[[status.sla]]\ntarget = 99\nperiod = "year"', "$.status.sla[0].period"),
        ('[[status.components]]\nid = "a b"\nname = "x"', "$.status.components[0].id"),
        ('[status.labels]\nsunny = "yay"', "$.status.labels"),
        ("[status]\naudiences = []", "$.status.audiences"),
        ("[status]\nmaintenance_reminders = [-60]", "$.status.maintenance_reminders"),
        (
            '[[status.subscribers]]\nid = "s"\nchannel = "sms"\naddress = "x"',
            "$.status.subscribers[0].channel",
        ),
    ],
)
def test_bad_values_name_their_key_path(text: str, path: str) -> None:
    assert any(p.startswith(path) for p in paths(text)), paths(text)


def test_a_policy_file_sets_labels_weights_and_templates(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(
        POLICY
        + """
[status.labels]
all_operational = "Everything is fine"

[status.uptime]
weights = { partial_outage = 0.3 }

[status.templates]
status_update = "${status} - ${headline} (${updated})"
""",
        encoding="utf-8",
    )
    policy = ik.load_policy(file)
    assert policy.status.labels == {PageLabel.ALL_OPERATIONAL: "Everything is fine"}
    assert policy.status.uptime.weight(ComponentStatus.PARTIAL_OUTAGE) == 0.3
    assert policy.status.uptime.weight(ComponentStatus.MAJOR_OUTAGE) == 1.0
    kit = ik.IncidentKit(policy=policy, clock=make_kit().clock, autoload_plugins=False)
    iid = login_incident(kit)
    assert (
        kit.status.render_update(iid)
        == "Resolved - Login functionality restored (2024-11-20 15:10 PST)"
    )
    assert kit.status.page().description == "Everything is fine"
