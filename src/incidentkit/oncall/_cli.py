"""The ``incidentkit oncall …`` commands (wired into the main CLI by ``incidentkit.cli``).

* ``oncall now [--at ISO] [--schedule NAME] [--json]`` — who holds each layer;
* ``oncall shifts --from ISO --to ISO [--person P] [--schedule NAME] [--layer L] [--json]``;
* ``oncall ics --person P [--layer L] [--schedule NAME] --from ISO --to ISO --out FILE``;
* ``oncall gaps|dry-run|health`` — parsed here, run by the people capability
  (:func:`incidentkit.people.cli.run_people_oncall`), as they need the whole policy.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from incidentkit._time import ensure_aware, parse_datetime
from incidentkit.errors import ValidationError
from incidentkit.oncall.config import OnCallConfig
from incidentkit.oncall.ical import to_ical
from incidentkit.oncall.schedule import Schedule, Shift

__all__ = ["add_oncall_parser", "run_oncall"]


def add_oncall_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``oncall`` command and its subcommands to ``subparsers``.

    ``subparsers`` is what :meth:`argparse.ArgumentParser.add_subparsers`
    returned. The parsed namespace carries ``oncall_command`` (``now``,
    ``shifts`` or ``ics``); pass it to :func:`run_oncall`.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "oncall", help="on-call schedules: who is on call, shifts, calendar export"
    )
    sub = parser.add_subparsers(dest="oncall_command", required=True)

    now = sub.add_parser("now", help="who is on call (now or at --at)")
    now.add_argument("--at", help="ISO 8601 instant with an offset (default: now)")
    now.add_argument("--schedule", help="only this schedule")
    now.add_argument("--json", action="store_true", help="print JSON")

    shifts = sub.add_parser("shifts", help="list shifts in a window")
    shifts.add_argument("--from", dest="start", required=True, help="ISO 8601 start")
    shifts.add_argument("--to", dest="end", required=True, help="ISO 8601 end")
    shifts.add_argument("--person", help="only this person's shifts")
    shifts.add_argument("--schedule", help="only this schedule")
    shifts.add_argument("--layer", help="only this layer")
    shifts.add_argument("--json", action="store_true", help="print JSON")

    ics = sub.add_parser("ics", help="write a person's shifts as an iCalendar file")
    ics.add_argument("--person", required=True, help="whose shifts")
    ics.add_argument("--layer", help="only this layer")
    ics.add_argument("--schedule", help="only this schedule")
    ics.add_argument("--from", dest="start", required=True, help="ISO 8601 start")
    ics.add_argument("--to", dest="end", required=True, help="ISO 8601 end")
    ics.add_argument("--out", required=True, help="file to write ('-' for stdout)")

    gaps = sub.add_parser("gaps", help="uncovered minutes of paged layers (next 90 days)")
    gaps.add_argument("--from", dest="start", help="ISO 8601 start (default: now)")
    gaps.add_argument("--days", type=int, default=90, help="how many days (default 90)")
    gaps.add_argument("--json", action="store_true", help="print JSON")

    dry = sub.add_parser("dry-run", help="who would be paged, minute by minute, if nobody acks")
    dry.add_argument("--severity", required=True, help="SEV1 … SEV4")
    dry.add_argument("--at", help="ISO 8601 instant with an offset (default: now)")
    dry.add_argument("--service", help="the incident's service")
    dry.add_argument("--json", action="store_true", help="print JSON")

    health = sub.add_parser("health", help="on-call health per person and team")
    health.add_argument("--from", dest="start", required=True, help="ISO 8601 start")
    health.add_argument("--to", dest="end", required=True, help="ISO 8601 end")
    health.add_argument("--json", action="store_true", help="print JSON")
    health.add_argument("--chart", help="draw a chart into FILE.svg or FILE.png (charts extra)")
    return parser


def _schedules(config: OnCallConfig, name: str | None) -> tuple[Schedule, ...]:
    return (config.schedule(name),) if name else config.schedules


def _shift_json(shift: Shift) -> dict[str, Any]:
    return {
        "schedule": shift.schedule,
        "layer": shift.layer,
        "person": shift.person,
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
        "via_override": shift.via_override,
    }


def _collect(args: argparse.Namespace, config: OnCallConfig) -> list[Shift]:
    start = parse_datetime(args.start, "--from")
    end = parse_datetime(args.end, "--to")
    found: list[Shift] = []
    for schedule in _schedules(config, args.schedule):
        if args.layer and args.layer not in schedule.layer_names and not args.schedule:
            continue
        found.extend(schedule.shifts(start, end, layer=args.layer, person=args.person))
    found.sort(key=lambda s: (s.start, s.schedule, s.layer))
    return found


def run_oncall(args: argparse.Namespace, config: OnCallConfig, out: TextIO, now: datetime) -> int:
    """Run the parsed ``oncall`` command, writing to ``out``; return the exit code (0).

    :raises ValidationError: for a bad ``--at``/``--from``/``--to``, or an
        ``--out`` file that cannot be written.
    :raises NotFound: for an unknown schedule or layer.
    """
    now = ensure_aware(now, "now")
    command = args.oncall_command
    if command == "now":
        at = parse_datetime(args.at, "--at") if args.at else now
        answers = [s.on_call(at) for s in _schedules(config, args.schedule)]
        if args.json:
            payload = [
                {
                    "schedule": a.schedule,
                    "at": a.at.isoformat(),
                    "holders": [
                        {
                            "layer": h.layer,
                            "person": h.person,
                            "shift_start": h.shift_start.isoformat(),
                            "shift_end": h.shift_end.isoformat(),
                            "via_override": h.via_override,
                        }
                        for h in a.holders
                    ],
                }
                for a in answers
            ]
            out.write(json.dumps(payload, indent=2) + "\n")
            return 0
        for answer in answers:
            out.write(f"{answer.schedule} at {answer.at.isoformat()}\n")
            if not answer.holders:
                out.write("  nobody on call\n")
            for h in answer.holders:
                via = " (override)" if h.via_override else ""
                out.write(f"  {h.layer}: {h.person}{via} until {h.shift_end.isoformat()}\n")
        return 0
    if command == "shifts":
        shifts = _collect(args, config)
        if args.json:
            out.write(json.dumps([_shift_json(s) for s in shifts], indent=2) + "\n")
            return 0
        for s in shifts:
            via = " (override)" if s.via_override else ""
            out.write(
                f"{s.start.isoformat()}  {s.end.isoformat()}  {s.schedule}/{s.layer}  "
                f"{s.person}{via}\n"
            )
        if not shifts:
            out.write("no shifts\n")
        return 0
    if command == "ics":
        shifts = _collect(args, config)
        name = f"On call: {args.person}" + (f" ({args.layer})" if args.layer else "")
        data = to_ical(shifts, calendar_name=name, generated_at=now)
        if args.out == "-":
            out.write(data.decode())
        else:
            try:
                Path(args.out).write_bytes(data)
            except OSError as err:
                raise ValidationError("--out", f"cannot write {args.out}: {err.strerror}") from err
            out.write(f"wrote {len(shifts)} shifts to {args.out}\n")
        return 0
    raise ValidationError("oncall_command", f"unknown command {command!r}")
