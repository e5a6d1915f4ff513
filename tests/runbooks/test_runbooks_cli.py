"""``incidentkit runbooks init|check|list|show|match|attach``."""

from __future__ import annotations

import io
import json
from pathlib import Path

from incidentkit.cli import main


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def test_init_writes_six_that_check_refuses_without_their_actions(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    folder = tmp_path / "rb"
    code, text = run("--db", db, "runbooks", "init", str(folder))
    assert code == 0 and len(list(folder.glob("*.md"))) == 6
    code, text = run("--db", db, "runbooks", "check", str(folder), "--json")
    report = json.loads(text)
    assert code == 1 and not report["ok"]
    assert {p["field"].rsplit(".", 1)[-1] for p in report["problems"]} == {"action"}


def test_list_match_attach_show(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    folder = tmp_path / "rb"
    folder.mkdir()
    (folder / "a.md").write_text(
        '+++\nid = "api-errors"\nservices = ["api"]\n+++\n# Runbook: API errors\n'
        "## Triage Steps\n1. Check the dashboard\n",
        encoding="utf-8",
    )
    assert run("--db", db, "runbooks", "check", str(folder))[0] == 0
    code, text = run("--db", db, "runbooks", "list", str(folder), "--json")
    assert code == 0 and json.loads(text)[0]["title"] == "API errors"
    code, text = run(
        "--db", db, "runbooks", "match", str(folder), "--label", "service=api", "--json"
    )
    assert json.loads(text)[0]["runbook"] == "api-errors"
    code, text = run(
        "--db",
        db,
        "declare",
        "Login API returning 500 errors",
        "--severity",
        "SEV2",
        "--by",
        "alice",
        "--json",
    )
    incident = json.loads(text)["id"]
    code, text = run(
        "--db",
        db,
        "runbooks",
        "attach",
        str(folder),
        incident,
        "api-errors",
        "--by",
        "alice",
        "--json",
    )
    assert code == 0 and json.loads(text)["items"] == {"triage-1": "pending"}
    code, text = run("--db", db, "runbooks", "show", str(folder), "api-errors", "--json")
    assert json.loads(text)["usage"]["incidents"] == [incident]


def test_check_reports_overdue_reviews_and_tick_enqueues_nothing_without_notifiers(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    folder = tmp_path / "rb"
    folder.mkdir()
    (folder / "a.md").write_text(
        '+++\nid = "api-errors"\nreview_every = "30d"\nlast_reviewed = 2024-01-01\n+++\n',
        encoding="utf-8",
    )
    at = "2024-02-01T09:00:00+00:00"
    code, text = run("--db", db, "runbooks", "check", str(folder), "--at", at, "--json")
    overdue = json.loads(text)["overdue"]
    assert code == 0 and [(o["runbook"], o["due_on"]) for o in overdue] == [
        ("api-errors", "2024-01-31")
    ]
    code, text = run("--db", db, "runbooks", "check", str(folder), "--at", at)
    assert "review overdue: api-errors since 2024-01-31" in text
    code, text = run("--db", db, "runbooks", "check", str(folder), "--at", "2024-01-15T00:00Z")
    assert code == 0 and "overdue" not in text
    code, text = run("--db", db, "runbooks", "tick", str(folder), "--at", at, "--json")
    assert code == 0 and json.loads(text) == []  # no notifier wants reminders: nothing queued


def _malformed(folder: Path) -> None:
    folder.mkdir()
    (folder / "a.md").write_text('+++\nid = "dup"\n+++\n## Triage Steps\n1. x\n', encoding="utf-8")
    (folder / "b.md").write_text('+++\nid = "dup"\n+++\n', encoding="utf-8")
    (folder / "c.md").write_text('+++\ntitle = "no id"\nservices = [\n+++\n', encoding="utf-8")


def test_a_malformed_directory_is_refused_by_every_command_with_every_problem(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    folder = tmp_path / "rb"
    _malformed(folder)
    code, text = run("--db", db, "runbooks", "check", str(folder))
    lines = [line for line in text.splitlines() if ": error: " in line]
    assert code == 1 and len(lines) >= 2
    assert any(line.startswith(f"{folder / 'b.md'}:") and "dup" in line for line in lines)
    assert any(line.startswith(f"{folder / 'c.md'}:") for line in lines)
    code, text = run("--db", db, "runbooks", "check", str(folder), "--json")
    problems = json.loads(text)["problems"]
    assert code == 1 and {Path(p["file"]).name for p in problems} >= {"b.md", "c.md"}
    assert all(p["line"] >= 1 for p in problems)
    for command in (["list"], ["match", "--text", "x"], ["show", "dup"]):
        code, text = run("--db", db, "runbooks", command[0], str(folder), *command[1:])
        assert code != 0 and "c.md" in text


def test_bad_cli_input_is_refused_naming_the_option(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    folder = tmp_path / "rb"
    folder.mkdir()
    (folder / "a.md").write_text('+++\nid = "api-errors"\n+++\n', encoding="utf-8")
    code, text = run("--db", db, "runbooks", "match", str(folder), "--label", "service")
    assert code != 0 and "--label" in text
    code, text = run("--db", db, "runbooks", "show", str(folder), "nope")
    assert code != 0 and "api-errors" in text  # the known ids are listed
    code, text = run("--db", db, "runbooks", "check", str(folder), "--at", "yesterday")
    assert code != 0 and "--at" in text
