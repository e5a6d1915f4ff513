"""``incidentkit review show|schedule|why|factor|action|status|render`` and ``actions``."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import incidentkit as ik
from incidentkit.cli import main
from incidentkit.severity import Severity


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'reviews.db'}"
    kit = ik.IncidentKit.open(url, autoload_plugins=False)
    try:
        kit.declare(
            "Login API returning 500 errors",
            severity=Severity.SEV1,
            by="alice",
            incident_id="INC-7",
        )
        kit.assign_role("INC-7", ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
        kit.assign_role("INC-7", ik.Role.TECHNICAL_LEAD, "bob", by="alice")
        kit.resolve("INC-7", by="alice", summary="pool raised", force=True, reason="cli test")
        kit.declare("Unreviewed", severity=Severity.SEV2, by="alice", incident_id="INC-8")
    finally:
        kit.shutdown()
    return url


def versions(url: str, incident_id: str) -> int:
    kit = ik.IncidentKit.open(url, autoload_plugins=False)
    try:
        return kit.get(incident_id).version
    finally:
        kit.shutdown()


def test_the_whole_review_through_the_cli(db: str, tmp_path: Path) -> None:
    code, out, err = run("--db", db, "review", "show", "INC-7", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["review"]["status"] == "draft"

    meeting = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    code, out, _ = run(
        "--db", db, "review", "schedule", "INC-7", "--at", meeting, "--by", "alice",
        "--extra", "erin", "--json",
    )  # fmt: skip
    people = [p["person"] for p in json.loads(out)["review"]["participants"]]
    assert code == 0 and people == ["alice", "bob", "erin"]

    code, _, _ = run(
        "--db", db, "review", "why", "INC-7", "Database connections failed",
        "--problem", "Login API returned 500 errors", "--evidence", "v1", "--by", "bob",
    )  # fmt: skip
    assert code == 0
    code, out, _ = run(
        "--db", db, "review", "why", "INC-7", "--conclude", "Pool not scaled", "--by", "bob",
        "--json",
    )  # fmt: skip
    chain = json.loads(out)["review"]["chains"][0]
    assert code == 0 and chain["conclusion"] == "Pool not scaled"
    assert chain["whys"][0]["evidence"] == [{"version": 1, "link": ""}]

    code, out, _ = run(
        "--db", db, "review", "factor", "INC-7", "capacity", "pool size fixed", "--by", "bob"
    )
    assert code == 0 and "factor F1 [capacity] pool size fixed" in out

    code, out, _ = run(
        "--db", db, "review", "action", "INC-7", "Add connection pool metrics",
        "--owner", "@bob", "--priority", "P0", "--type", "detective", "--due", "2024-11-22",
        "--addresses", "factor:F1", "--by", "alice", "--json",
    )  # fmt: skip
    item = json.loads(out)["item"]
    assert code == 0 and (item["id"], item["owner"], item["status"]) == ("A1", "bob", "open")

    code, out, _ = run("--db", db, "actions", "--overdue", "--at", "2024-11-24T12:00:00Z", "--json")
    rows = json.loads(out)
    assert code == 0 and [(r["incident_id"], r["id"], r["days_overdue"]) for r in rows] == [
        ("INC-7", "A1", 2)
    ]
    code, out, _ = run("--db", db, "actions", "--overdue", "--at", "2024-11-22T12:00:00Z")
    assert code == 0 and out == "no overdue action items\n"

    for status in ("in_review", "reviewed"):
        code, out, _ = run("--db", db, "review", "status", "INC-7", status, "--by", "alice")
        assert (code, out) == (0, f"INC-7: review {status}\n")
    before = versions(db, "INC-7")
    code, out, err = run("--db", db, "review", "status", "INC-7", "closed", "--by", "alice")
    assert code == 1 and out == "" and "A1" in err and err.count("\n") == 1
    assert versions(db, "INC-7") == before
    code, out, _ = run(
        "--db", db, "review", "action", "INC-7", "--item", "A1", "--set", "done", "--by", "bob",
        "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["item"]["status"] == "done"
    code, out, _ = run("--db", db, "review", "status", "INC-7", "closed", "--by", "alice", "--json")
    assert code == 0 and json.loads(out)["review"]["status"] == "closed"

    code, markdown, _ = run("--db", db, "review", "render", "INC-7")
    assert code == 0 and markdown.startswith("# Incident Report: Login API returning 500 errors")
    assert (
        "| A1 | Add connection pool metrics | detective | @bob | P0 | Nov 22 | done |" in markdown
    )
    target = tmp_path / "review.html"
    code, out, _ = run("--db", db, "review", "render", "INC-7", "--html", "-o", str(target))
    assert code == 0 and out == "" and target.read_text().startswith("<!DOCTYPE html>")
    code, out, _ = run("--db", db, "review", "render", "INC-7", "--json")
    assert json.loads(out)["document"] == markdown


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["review", "schedule", "INC-7", "--at", "tomorrow", "--by", "a"], "--at"),
        (["review", "why", "INC-7", "--by", "a"], "text"),
        (["review", "why", "INC-7", "x", "--conclude", "y", "--by", "a"], "text"),
        (["review", "why", "INC-7", "x", "--problem", "p", "--evidence", "12", "--by", "a"],
         "--evidence"),
        (["review", "factor", "INC-7", "astrology", "x", "--by", "a"], "category"),
        (["review", "action", "INC-7", "t", "--priority", "P0", "--type", "detective",
          "--due", "2024-11-22", "--by", "a"], "--owner"),
        (["review", "action", "INC-7", "t", "--owner", "b", "--priority", "P9",
          "--type", "detective", "--due", "2024-11-22", "--by", "a"], "priority"),
        (["review", "action", "INC-7", "t", "--owner", "b", "--priority", "P0",
          "--type", "detective", "--due", "Nov 22", "--by", "a"], "--due"),
        (["review", "action", "INC-7", "--item", "A1", "--by", "a"], "--item"),
        (["review", "status", "INC-7", "reviewed"], "--by"),
        (["review", "status", "INC-7", "bogus", "--by", "a"], "status"),
        (["actions", "--at", "yesterday"], "--at"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line_naming_the_field(
    db: str, argv: list[str], field: str
) -> None:
    before = versions(db, "INC-7")
    code, out, err = run("--db", db, *argv)
    assert code == 2 and out == ""
    assert err.startswith("incidentkit: error:") and err.count("\n") == 1
    assert field in err
    assert versions(db, "INC-7") == before


def test_refusals_exit_1(db: str) -> None:
    before = versions(db, "INC-8"), versions(db, "INC-7")
    code, out, err = run("--db", db, "review", "show", "INC-8")
    assert code == 1 and out == "" and "review" in err and err.count("\n") == 1
    code, _, err = run("--db", db, "review", "status", "INC-7", "in_review", "--by", "a")
    assert code == 1 and "at least one why" in err
    code, _, err = run("--db", db, "review", "show", "INC-404")
    assert code == 1 and "INC-404" in err
    assert (versions(db, "INC-8"), versions(db, "INC-7")) == before
