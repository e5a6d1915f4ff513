"""Duties and handoff report, iCalendar export, and the oncall CLI pieces."""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from incidentkit.errors import NotFound, ValidationError
from incidentkit.lifecycle import Status
from incidentkit.oncall import (
    AFTER_SHIFT,
    BEFORE_SHIFT,
    DURING_SHIFT,
    Layer,
    MissingExtra,
    OnCallConfig,
    Override,
    Rotation,
    Schedule,
    add_oncall_parser,
    handoff_report,
    run_oncall,
    shift_uid,
    to_ical,
)
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary

LONDON = ZoneInfo("Europe/London")
END = datetime(2025, 3, 10, 9, tzinfo=UTC)


def summary(
    iid: str, sev: Severity, status: Status, hours_ago: float, title: str
) -> IncidentSummary:
    return IncidentSummary(
        incident_id=iid,
        version=3,
        title=title,
        status=status,
        severity=sev,
        declared_at=END - timedelta(hours=hours_ago),
    )


def test_checklists_have_stable_kebab_case_keys() -> None:
    for checklist in (BEFORE_SHIFT, DURING_SHIFT, AFTER_SHIFT):
        keys = [key for key, _ in checklist]
        assert len(keys) == len(set(keys))
        assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", key) for key in keys)
    assert len(BEFORE_SHIFT) == 6 and len(DURING_SHIFT) == 6 and len(AFTER_SHIFT) == 4
    assert ("test-alert-delivery", "Test alert delivery (phone, Slack, email)") in BEFORE_SHIFT


def test_handoff_report_renders_markdown() -> None:
    report = handoff_report(
        "ana",
        END,
        [
            summary("INC-2", Severity.SEV3, Status.MONITORING, 1, "Slow search"),
            summary("INC-1", Severity.SEV2, Status.INVESTIGATING, 2.5, "Checkout | errors"),
        ],
        ["Disk on db-3 at 80%"],
        ["Raise pool size"],
    )
    assert [i.incident_id for i in report.open_incidents] == ["INC-1", "INC-2"]
    text = report.render()
    assert text.startswith("# On-call handoff: ana\n")
    assert "Shift ended 2025-03-10 09:00 UTC." in text
    assert "| INC-1 | SEV2 | investigating | Checkout \\| errors | 2h 30m 00s |" in text
    assert "- Disk on db-3 at 80%" in text
    assert "- [ ] Raise pool size" in text
    assert "- [ ] Hand off any ongoing issues" in text


def test_handoff_report_with_nothing_open() -> None:
    text = handoff_report("bo", END, [], []).render()
    assert "## Open incidents (0)\n\nNone." in text
    assert "## Action items\n\nNone." in text


def test_handoff_report_bad_input() -> None:
    with pytest.raises(ValidationError) as info:
        handoff_report("", END, [], [])
    assert info.value.field == "person"
    with pytest.raises(ValidationError) as info:
        handoff_report("ana", datetime(2025, 1, 1), [], [])
    assert info.value.field == "shift_end"
    with pytest.raises(ValidationError) as info:
        handoff_report("ana", END, [summary("INC-9", Severity.SEV1, Status.RESOLVED, 1, "x")], [])
    assert info.value.field == "open_incidents[0]"


def schedule() -> Schedule:
    primary = Rotation(("ana", "bo"), datetime(2025, 3, 3, 9, tzinfo=LONDON), LONDON)
    secondary = Rotation(("cy", "ana"), datetime(2025, 3, 3, 9, tzinfo=LONDON), LONDON)
    return Schedule(
        "platform",
        (Layer("primary", (primary,)), Layer("secondary", (secondary,))),
        (
            Override(
                "primary",
                "zed",
                datetime(2025, 3, 12, tzinfo=UTC),
                datetime(2025, 3, 13, tzinfo=UTC),
            ),
        ),
    )


def test_ical_round_trip() -> None:
    shifts = schedule().shifts(
        datetime(2025, 3, 3, 9, tzinfo=UTC), datetime(2025, 4, 7, tzinfo=UTC), person="ana"
    )
    data = to_ical(shifts, calendar_name="ana on call")
    assert data == to_ical(list(reversed(shifts)), calendar_name="ana on call")  # deterministic
    assert b"DTSTART:20250331T080000Z" in data  # 09:00 BST, written in UTC
    calendar = icalendar.Calendar.from_ical(data)
    assert str(calendar["X-WR-CALNAME"]) == "ana on call"
    events = list(calendar.walk("VEVENT"))
    assert len(events) == len(shifts)
    parsed = sorted(
        (e.decoded("DTSTART"), e.decoded("DTEND"), str(e["UID"]), str(e["SUMMARY"])) for e in events
    )
    expected = sorted(
        (s.start, s.end, shift_uid(s), f"On call: ana (platform/{s.layer})") for s in shifts
    )
    assert parsed == expected
    assert all(
        start.tzinfo is not None and start.utcoffset() == timedelta(0) for start, *_ in parsed
    )


def test_ical_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "icalendar", None)
    with pytest.raises(MissingExtra, match=r"incidentkit\[ical\]"):
        to_ical([], calendar_name="x")


def test_ical_bad_input() -> None:
    with pytest.raises(ValidationError):
        to_ical([], calendar_name=" ")
    with pytest.raises(ValidationError):
        to_ical([], calendar_name="x", generated_at=datetime(2025, 1, 1))


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="incidentkit")
    add_oncall_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


CONFIG = OnCallConfig((schedule(),))
NOW = datetime(2025, 3, 12, 12, tzinfo=UTC)


def test_cli_now_text_and_json() -> None:
    out = io.StringIO()
    assert run_oncall(parse("oncall", "now"), CONFIG, out, NOW) == 0
    assert "primary: zed (override) until 2025-03-13T00:00:00+00:00" in out.getvalue()
    assert "secondary: ana" in out.getvalue()
    out = io.StringIO()
    run_oncall(parse("oncall", "now", "--at", "2025-03-04T10:00:00Z", "--json"), CONFIG, out, NOW)
    payload = json.loads(out.getvalue())
    assert payload[0]["holders"][0] == {
        "layer": "primary",
        "person": "ana",
        "shift_start": "2025-03-03T09:00:00+00:00",
        "shift_end": "2025-03-10T09:00:00+00:00",
        "via_override": False,
    }


def test_cli_shifts_for_a_person() -> None:
    out = io.StringIO()
    args = parse(
        "oncall",
        "shifts",
        "--from",
        "2025-03-03T09:00Z",
        "--to",
        "2025-03-17T09:00Z",
        "--person",
        "bo",
        "--json",
    )
    run_oncall(args, CONFIG, out, NOW)
    rows = json.loads(out.getvalue())
    assert [(r["person"], r["start"], r["end"]) for r in rows] == [
        ("bo", "2025-03-10T09:00:00+00:00", "2025-03-12T00:00:00+00:00"),
        ("bo", "2025-03-13T00:00:00+00:00", "2025-03-17T09:00:00+00:00"),
    ]


def test_cli_ics_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "ana.ics"
    out = io.StringIO()
    args = parse(
        "oncall",
        "ics",
        "--person",
        "ana",
        "--layer",
        "primary",
        "--from",
        "2025-03-01T00:00Z",
        "--to",
        "2025-04-01T00:00Z",
        "--out",
        str(target),
    )
    run_oncall(args, CONFIG, out, NOW)
    events = list(icalendar.Calendar.from_ical(target.read_bytes()).walk("VEVENT"))
    assert len(events) == 3  # 3 Mar, 17 Mar, 31 Mar
    assert "wrote 3 shifts" in out.getvalue()


def test_cli_bad_input() -> None:
    with pytest.raises(ValidationError) as info:
        run_oncall(parse("oncall", "now", "--at", "yesterday"), CONFIG, io.StringIO(), NOW)
    assert info.value.field == "--at"
    with pytest.raises(ValidationError) as info:
        run_oncall(
            parse("oncall", "now", "--at", "2025-03-04T10:00:00"), CONFIG, io.StringIO(), NOW
        )
    assert info.value.field == "--at"
    with pytest.raises(NotFound):
        run_oncall(parse("oncall", "now", "--schedule", "nope"), CONFIG, io.StringIO(), NOW)
