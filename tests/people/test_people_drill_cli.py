"""Drills on a manual clock, and the people / drill / oncall gaps|dry-run|health commands."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from incidentkit.cli import main
from incidentkit.errors import PolicyError, ValidationError
from incidentkit.kit import IncidentKit
from incidentkit.people.drill import DrillScript, run_drill
from incidentkit.store import MemoryStore

from ._helpers import T0, people_policy

POLICY_TOML = """
[[oncall.schedules]]
name = "platform"

[[oncall.schedules.layers]]
name = "primary"

[[oncall.schedules.layers.rotations]]
participants = ["alice", "dave"]
start = 2024-11-18T09:00:00Z
zone = "UTC"
end = 2024-11-20T22:00:00Z

[[oncall.schedules.layers.rotations]]
participants = ["alice", "dave"]
start = 2024-11-21T04:00:00Z
zone = "UTC"

[[oncall.schedules.layers]]
name = "secondary"

[[oncall.schedules.layers.rotations]]
participants = ["bob", "erin"]
start = 2024-11-18T09:00:00Z
zone = "UTC"

[people]
fallback = ["mgr"]

[[people.persons]]
id = "mgr"
name = "Morgan"
zone = "Europe/Lisbon"
teams = ["platform"]
roles = ["team_lead"]
contacts = [{ kind = "sms", address = "+351900" }]

[[people.persons]]
id = "bob"
contacts = [{ kind = "push", address = "bob-device" }, { kind = "phone", address = "+1555" }]
"""

SCRIPT = """
title = "Drill: login failures"
severity = "SEV1"
start = 2024-11-20T22:30:00Z
duration = "12m"

[[actions]]
at = "3m"
do = "acknowledge"
by = "alice"

[[actions]]
at = "4m"
do = "check"
by = "alice"
checklist = "declaration"
item = "assign-commander"
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str, str]:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY_TOML)
    script = tmp_path / "drill.toml"
    script.write_text(SCRIPT)
    return f"sqlite:///{tmp_path}/x.db", str(policy), str(script)


def test_a_drill_reports_pages_targets_open_items_and_what_the_ack_prevented() -> None:
    report = run_drill(people_policy(), DrillScript.from_toml(SCRIPT))
    assert [(p.person, p.channel, p.at - T0) for p in report.pages] == [
        ("alice", "push", timedelta(0)),
        ("alice", "sms", timedelta(minutes=2)),
    ]
    assert report.targets_met == ("acknowledged after 180 s",)
    assert "response" not in " ".join(report.targets_missed)
    assert "assess phase" in report.targets_missed
    assert "declaration:assign-commander" not in report.open_items
    assert "declaration:post-initial-update" in report.open_items
    assert report.incident_id == "DRILL-20241120-2230"
    assert [(p.person, p.channel) for p in report.would_have_fired][:2] == [
        ("alice", "phone"),
        ("bob", "push"),
    ]
    assert report.captured >= 2
    text = report.render()
    assert "+2m alice by sms" in text and "none sent" in text


def test_a_drill_leaves_the_kits_store_untouched() -> None:
    kit = IncidentKit(MemoryStore(), people_policy())
    report = kit.people.drill(DrillScript.from_toml(SCRIPT))
    assert report.pages and kit.incidents() == []


def test_a_bad_drill_script_is_refused_naming_the_key_path() -> None:
    with pytest.raises(PolicyError) as err:
        DrillScript.from_toml(SCRIPT.replace('do = "acknowledge"', 'do = "panic"'))
    assert any(p.startswith("$.actions[0].do") for p, _ in err.value.problems)
    with pytest.raises(PolicyError) as err:
        DrillScript.from_toml(SCRIPT.replace('at = "3m"', 'at = "13m"'))
    assert err.value.problems[0][0] == "$.actions[0].at"
    with pytest.raises(ValidationError):
        run_drill(people_policy(), "drill.toml")  # type: ignore[arg-type]


def test_oncall_gaps_names_the_six_hour_gap(files: tuple[str, str, str]) -> None:
    db, policy, _ = files
    code, out, _ = run(
        "--db",
        db,
        "--policy",
        policy,
        "oncall",
        "gaps",
        "--from",
        "2024-11-20T00:00:00Z",
        "--days",
        "7",
    )
    assert code == 1
    assert out.strip() == (
        "platform/primary: nobody on call from 2024-11-20T22:00:00+00:00 "
        "to 2024-11-21T04:00:00+00:00 (6:00:00)"
    )
    code, out, _ = run(
        "--db", db, "--policy", policy, "oncall", "gaps", "--from", "2024-11-22T00:00:00Z", "--json"
    )
    assert (code, json.loads(out)) == (0, [])


def test_oncall_dry_run_lists_pages_minute_by_minute(files: tuple[str, str, str]) -> None:
    db, policy, _ = files
    code, out, _ = run(
        "--db",
        db,
        "--policy",
        policy,
        "oncall",
        "dry-run",
        "--severity",
        "SEV1",
        "--at",
        "2024-11-20T22:30:00Z",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "SEV1 at 2024-11-20T22:30:00+00:00, if nobody acknowledges:"
    assert (
        "+  2m" in lines[1]
        and "mgr" in lines[1]
        and "sms" in lines[1]
        and "nobody on call" in lines[1]
    )
    assert "+  5m" in lines[2] and "bob" in lines[2] and "push" in lines[2]
    code, out, _ = run(
        "--db",
        db,
        "--policy",
        policy,
        "oncall",
        "dry-run",
        "--severity",
        "SEV1",
        "--at",
        "2024-11-20T22:30:00Z",
        "--json",
    )
    assert [p["person"] for p in json.loads(out)] == ["mgr", "bob", "bob"]
    assert run("--db", db, "--policy", policy, "list", "--json")[1].strip() == "[]"


def test_bad_cli_input_names_the_option(files: tuple[str, str, str]) -> None:
    db, policy, _ = files
    code, _, err = run(
        "--db",
        db,
        "--policy",
        policy,
        "oncall",
        "dry-run",
        "--severity",
        "SEV1",
        "--at",
        "yesterday",
    )
    assert code == 2 and "--at" in err
    code, _, err = run("--db", db, "--policy", policy, "oncall", "dry-run", "--severity", "SEV7")
    assert code == 2 and "severity" in err
    code, _, err = run(
        "--db",
        db,
        "--policy",
        policy,
        "oncall",
        "health",
        "--from",
        "2024-11-20T00:00:00Z",
        "--to",
        "2024-11-19T00:00:00Z",
    )
    assert code == 2 and "end" in err


def test_people_lists_the_directory_and_drill_run_prints_the_report(
    files: tuple[str, str, str],
) -> None:
    db, policy, script = files
    code, out, _ = run("--db", db, "--policy", policy, "people")
    assert code == 0
    assert out.splitlines()[0].split() == [
        "mgr",
        "Morgan",
        "Europe/Lisbon",
        "sms",
        "+351900",
        "teams=platform",
        "roles=team_lead",
    ]
    code, out, _ = run("--db", db, "--policy", policy, "drill", "run", script)
    assert code == 0 and out.startswith("# Drill report: Drill: login failures")
    code, out, _ = run(
        "--db",
        db,
        "--policy",
        policy,
        "oncall",
        "health",
        "--from",
        "2024-11-20T00:00:00Z",
        "--to",
        "2024-11-21T00:00:00Z",
    )
    assert code == 0 and "fairness: gini(hours)" in out
