"""The ``incidentkit people``, ``drill run`` and ``oncall gaps|dry-run|health`` commands.

* ``people [--json]`` — the directory: ids, zones, contact methods, teams, roles;
* ``drill run SCRIPT.toml [--json]`` — run a drill and print its report;
* ``oncall gaps [--from ISO] [--days N] [--json]`` — uncovered intervals (exit 1 if any);
* ``oncall dry-run --severity SEV1 [--at ISO] [--service S] [--json]``;
* ``oncall health --from ISO --to ISO [--json | --chart FILE.svg]``.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from incidentkit._time import ensure_aware, parse_datetime
from incidentkit.errors import ValidationError
from incidentkit.people.drill import DrillScript
from incidentkit.serialization import converter

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = ["ONCALL_PEOPLE_COMMANDS", "add_people_parser", "run_people", "run_people_oncall"]

ONCALL_PEOPLE_COMMANDS = frozenset({"gaps", "dry-run", "health"})
"""The ``oncall`` subcommands :func:`run_people_oncall` runs."""


def add_people_parser(subparsers: Any) -> None:
    """Add the ``people`` and ``drill`` commands (namespace: ``drill_command``)."""
    people = subparsers.add_parser("people", help="the people directory")
    people.add_argument("--json", action="store_true", help="print JSON")
    drill = subparsers.add_parser("drill", help="drills: scripted incidents, nothing sent")
    sub = drill.add_subparsers(dest="drill_command", required=True)
    run = sub.add_parser("run", help="run a drill script (TOML) and print the report")
    run.add_argument("script", help="the drill script")
    run.add_argument("--json", action="store_true", help="print JSON")


def _dump(value: object) -> str:
    return json.dumps(converter().unstructure(value), indent=2, sort_keys=True)


def run_people(args: argparse.Namespace, kit: IncidentKit, out: TextIO) -> int:
    """Run ``people`` or ``drill run``; return the exit code."""
    if args.command == "people":
        persons = kit.people.directory
        if args.json:
            out.write(_dump(list(persons)) + "\n")
            return 0
        if not persons:
            out.write("no people in the policy's [people] section\n")
        for p in persons:
            methods = ", ".join(f"{c.kind.value} {c.address}" for c in p.contacts) or "-"
            extra = " ".join(
                part
                for part in (
                    f"teams={','.join(p.teams)}" if p.teams else "",
                    f"roles={','.join(p.roles)}" if p.roles else "",
                )
                if part
            )
            out.write(f"{p.id:<12} {p.display:<20} {p.zone.key:<20} {methods} {extra}".rstrip())
            out.write("\n")
        return 0
    script = DrillScript.load(args.script)
    report = kit.people.drill(script)
    out.write((_dump(report) if args.json else report.render().rstrip("\n")) + "\n")
    return 0


def run_people_oncall(
    args: argparse.Namespace, kit: IncidentKit, out: TextIO, now: datetime
) -> int:
    """Run ``oncall gaps|dry-run|health``; ``gaps`` exits 1 when it finds any."""
    now = ensure_aware(now, "now")
    command = args.oncall_command
    if command == "gaps":
        start = parse_datetime(args.start, "--from") if args.start else now
        gaps = kit.people.gaps(start, args.days)
        if args.json:
            out.write(_dump(list(gaps)) + "\n")
        elif not gaps:
            out.write(f"no gaps in the {args.days} days from {start.isoformat()}\n")
        for g in gaps if not args.json else ():
            out.write(
                f"{g.schedule}/{g.layer}: nobody on call from {g.start.isoformat()} "
                f"to {g.end.isoformat()} ({g.duration})\n"
            )
        return 1 if gaps else 0
    if command == "dry-run":
        at = parse_datetime(args.at, "--at") if args.at else now
        pages = kit.people.who_would_be_paged(args.severity, at, service=args.service)
        if args.json:
            out.write(_dump(list(pages)) + "\n")
            return 0
        out.write(f"{args.severity.upper()} at {at.isoformat()}, if nobody acknowledges:\n")
        if not pages:
            out.write("  nobody is paged\n")
        for p in pages:
            minute = int((p.at - at).total_seconds() // 60)
            how = p.channel or "all notifiers"
            out.write(f"  +{minute:>3}m {p.at.isoformat()}  {p.person:<12} {how:<14} {p.reason}\n")
        return 0
    if command == "health":
        start = parse_datetime(args.start, "--from")
        end = parse_datetime(args.end, "--to")
        report = kit.people.health(start, end)
        chart = getattr(args, "chart", None)
        if chart:
            try:
                path = report.chart(chart)
            except ValidationError as err:
                raise ValidationError("--chart", err.reason) from err
            except ImportError as err:
                raise ValidationError("--chart", str(err)) from err
            except OSError as err:
                raise ValidationError("--chart", f"cannot write {chart}: {err.strerror}") from err
            out.write(f"wrote {path}\n")
            return 0
        out.write((report.to_json() if args.json else report.to_table()) + "\n")
        return 0
    raise ValidationError("oncall_command", f"unknown command {command!r}")
