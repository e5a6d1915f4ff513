"""The status commands of the CLI, on a SQLite file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from incidentkit.cli import main

from ._login import POLICY


def run(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    policy = tmp_path / "policy.toml"
    if not policy.exists():
        policy.write_text(POLICY, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--db", f"sqlite:///{tmp_path / 'kit.db'}", "--policy", str(policy), *argv], out, err
    )
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def incident(tmp_path: Path) -> str:
    code, out, _ = run(tmp_path, "declare", "Login errors", "-s", "SEV2", "--by", "alice", "--json")
    assert code == 0
    return str(json.loads(out)["id"])


def test_component_set_and_status_page(tmp_path: Path, incident: str) -> None:
    code, out, _ = run(
        tmp_path, "component", "set", incident, "login", "major_outage", "--by", "bob", "--json"
    )
    assert code == 0 and json.loads(out)["status"] == "major_outage"
    code, out, _ = run(tmp_path, "status-page")
    assert code == 0
    assert out.splitlines()[0] == "Partial System Outage (major)"
    assert "  Login: major_outage" in out
    code, out, _ = run(tmp_path, "status-page", "--json")
    assert set(json.loads(out)) == {
        "page",
        "components",
        "incidents",
        "scheduled_maintenances",
        "status",
    }


def test_uptime(tmp_path: Path, incident: str) -> None:
    code, out, _ = run(tmp_path, "uptime", "--component", "api", "--window", "24h", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["scope"], data["percent"]) == ("api", 100.0)
    code, out, _ = run(tmp_path, "uptime", "--window", "30d")
    assert code == 0 and out.startswith("all components over 30d: 100.000 %")


def test_bad_input_exits_2_naming_the_field(tmp_path: Path, incident: str) -> None:
    code, _, err = run(tmp_path, "uptime", "--window", "5y")
    assert code == 2 and "window" in err
    code, _, err = run(tmp_path, "component", "set", incident, "db", "major_outage", "--by", "bob")
    assert code == 2 and "components.db" in err
    code, _, err = run(tmp_path, "report", "customer", incident)
    assert code == 2 and "not resolved" in err


def test_report_customer(tmp_path: Path) -> None:
    from incidentkit.store.sqlite import SqliteStore

    from ._login import login_incident, make_kit

    kit = make_kit(SqliteStore(tmp_path / "kit.db"))
    iid = login_incident(kit)
    kit.shutdown()
    code, out, _ = run(tmp_path, "report", "customer", iid)
    assert code == 0
    assert out.startswith(
        "Subject: Incident Report - Login Service Interruption\n\nDear Valued Customer,"
    )
    code, out, _ = run(tmp_path, "report", "customer", iid, "--json", "--zone", "America/New_York")
    assert "between 17:30 and 18:10 EST" in json.loads(out)["text"]


def test_maintenance_schedule_start_complete_list_show(tmp_path: Path) -> None:
    window = ["--start", "2030-01-02T04:00:00Z", "--end", "2030-01-02T06:00:00Z"]
    code, out, _ = run(
        tmp_path,
        "maintenance",
        "schedule",
        "Database upgrade",
        *window,
        "--component",
        "api",
        "--component",
        "login",
        "--by",
        "dana",
        "--id",
        "MNT-1",
        "--json",
    )
    assert code == 0
    planned = json.loads(out)
    assert (planned["id"], planned["status"], planned["components"]) == (
        "MNT-1",
        "scheduled",
        ["api", "login"],
    )
    assert planned["scheduled_for"] == "2030-01-02T04:00:00+00:00"  # --json stays in UTC
    code, out, _ = run(tmp_path, "maintenance", "start", "MNT-1", "--by", "dana")
    assert code == 0
    assert out.startswith("MNT-1 [in_progress] Database upgrade: 2030-01-01 20:00 PST")
    code, out, _ = run(tmp_path, "status-page")
    assert out.splitlines()[0] == "Service Under Maintenance (maintenance)"
    assert "  API: under_maintenance" in out
    code, out, _ = run(
        tmp_path, "maintenance", "complete", "MNT-1", "--by", "dana", "--body", "Done"
    )
    assert code == 0 and "[completed]" in out
    code, out, _ = run(tmp_path, "maintenance", "list", "--json")
    assert [m["status"] for m in json.loads(out)] == ["completed"]
    code, out, _ = run(tmp_path, "maintenance", "show", "MNT-1")
    assert code == 0
    assert [line.split()[3] for line in out.splitlines()[1:]] == [
        "scheduled",
        "in_progress",
        "completed",
    ]
    assert out.splitlines()[-1].endswith("by dana: Done")


def test_maintenance_refusals_exit_nonzero_and_store_nothing(tmp_path: Path) -> None:
    code, _, err = run(
        tmp_path,
        "maintenance",
        "schedule",
        "Upgrade",
        "--start",
        "2030-01-02T04:00:00",
        "--end",
        "2030-01-02T06:00:00Z",
        "--component",
        "api",
        "--by",
        "dana",
    )
    assert code == 2 and "--start" in err
    code, _, err = run(
        tmp_path,
        "maintenance",
        "schedule",
        "Upgrade",
        "--start",
        "2030-01-02T04:00:00Z",
        "--end",
        "2030-01-02T06:00:00Z",
        "--component",
        "payments",
        "--by",
        "dana",
    )
    assert code == 2 and "components[0]" in err
    code, out, _ = run(tmp_path, "maintenance", "list", "--json")
    assert json.loads(out) == []
    code, _, err = run(tmp_path, "maintenance", "start", "MNT-9", "--by", "dana")
    assert code == 1 and "no maintenance 'MNT-9'" in err
