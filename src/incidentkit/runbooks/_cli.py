"""The ``incidentkit runbooks …`` commands (wired into the main CLI by ``incidentkit.cli``).

* ``runbooks init DIR [--force]`` — write the guide's six common runbooks;
* ``runbooks check DIR [--at ISO] [--json]`` — validate; every problem with file
  and line, then the overdue reviews;
* ``runbooks list DIR [--json]``, ``runbooks show DIR ID [--json]`` (with usage);
* ``runbooks match DIR [--label k=v …] [--annotation k=v …] [--service S …] [--text T] [--json]``;
* ``runbooks attach DIR INCIDENT_ID ID --by WHO [--json]``;
* ``runbooks tick DIR [--at ISO] [--json]`` — enqueue due review reminders once
  (outbox rows of no incident; ``incidentkit deliver`` sends them).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, TextIO

from incidentkit._time import parse_datetime
from incidentkit.errors import ValidationError
from incidentkit.runbooks._defaults import write_defaults
from incidentkit.runbooks._model import Alert, RunbookError
from incidentkit.serialization import converter

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = ["add_runbooks_parser", "run_runbooks"]


def add_runbooks_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``runbooks`` command; the namespace carries ``runbooks_command``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "runbooks", help="runbooks: init, check, list, show, match, attach"
    )
    sub = parser.add_subparsers(dest="runbooks_command", required=True)
    init = sub.add_parser("init", help="write the six common runbooks into DIR")
    init.add_argument("dir")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    check = sub.add_parser("check", help="validate DIR; list overdue reviews")
    check.add_argument("dir")
    check.add_argument("--at", help="ISO 8601 instant with an offset (default: now)")
    check.add_argument("--json", action="store_true")
    listing = sub.add_parser("list", help="list the runbooks of DIR")
    listing.add_argument("dir")
    listing.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="one runbook, its usage and related incidents")
    show.add_argument("dir")
    show.add_argument("runbook")
    show.add_argument("--json", action="store_true")
    match = sub.add_parser("match", help="the runbooks for an alert, strongest first")
    match.add_argument("dir")
    match.add_argument("--label", action="append", default=[], help="k=v (repeatable)")
    match.add_argument("--annotation", action="append", default=[], help="k=v (repeatable)")
    match.add_argument("--service", action="append", default=[], help="repeatable")
    match.add_argument("--text", default="", help="alert text (summary, title)")
    match.add_argument("--json", action="store_true")
    attach = sub.add_parser("attach", help="attach a runbook to an incident")
    attach.add_argument("dir")
    attach.add_argument("incident_id")
    attach.add_argument("runbook")
    attach.add_argument("--by", required=True)
    attach.add_argument("--json", action="store_true")
    tick = sub.add_parser("tick", help="enqueue reminders of overdue reviews (once each)")
    tick.add_argument("dir")
    tick.add_argument("--at", help="ISO 8601 instant with an offset (default: now)")
    tick.add_argument("--json", action="store_true")
    return parser


def _pairs(values: list[str], field: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise ValidationError(field, f"{value!r} is not k=v")
        found[key.strip()] = rest.strip()
    return found


def run_runbooks(args: argparse.Namespace, kit: IncidentKit, out: TextIO) -> int:
    """Run ``incidentkit runbooks …``; 0 on success, 1 when ``check`` finds errors."""
    command = args.runbooks_command
    section = kit.runbooks
    if command == "init":
        written = write_defaults(args.dir, today=kit.engine.now().date(), overwrite=args.force)
        for path in written:
            print(path, file=out)
        return 0
    at = parse_datetime(args.at, "--at") if getattr(args, "at", None) else None
    if command == "check":
        try:
            runbooks, warnings = section.check(args.dir)
        except RunbookError as err:
            problems = err.problems
            if args.json:
                rows = [converter().unstructure(p) for p in problems]
                print(json.dumps({"ok": False, "problems": rows}, indent=2), file=out)
            else:
                for problem in problems:
                    print(problem, file=out)
            return 1
        section.use(runbooks)
        overdue = section.overdue(at=at)
        if args.json:
            rows = [converter().unstructure(p) for p in warnings]
            payload = {
                "ok": True,
                "runbooks": [r.id for r in runbooks],
                "problems": rows,
                "overdue": [converter().unstructure(s) for s in overdue],
            }
            print(json.dumps(payload, indent=2), file=out)
        else:
            for warning in warnings:
                print(warning, file=out)
            print(f"{len(runbooks)} runbook(s) ok", file=out)
            for status in overdue:
                assert status.due_on is not None
                owner = f" (owner: {status.owner})" if status.owner else ""
                print(
                    f"review overdue: {status.runbook} since {status.due_on.isoformat()}{owner}",
                    file=out,
                )
        return 0
    section.load(args.dir)
    if command == "list":
        rows = [{"id": r.id, "title": r.title, "source": r.source} for r in section.all]
        if args.json:
            print(json.dumps(rows, indent=2, ensure_ascii=False), file=out)
        else:
            for row in rows:
                print(f"{row['id']:<28} {row['title']}", file=out)
        return 0
    if command == "show":
        runbook = section.get(args.runbook)
        usage = section.usage(runbook.id)
        if args.json:
            payload = {
                "runbook": converter().unstructure(runbook),
                "usage": converter().unstructure(usage),
                "review": converter().unstructure(section.review_status(runbook.id, at=at)),
            }
            print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
        else:
            print(f"{runbook.id}: {runbook.title} ({runbook.source})", file=out)
            for step in (*runbook.triage, *runbook.resolution):
                print(f"  {step.key}: {step.text}", file=out)
            print(
                f"attached to {usage.attached} incident(s): {', '.join(usage.incidents)}", file=out
            )
        return 0
    if command == "match":
        alert = Alert(
            labels=_pairs(args.label, "--label"),
            annotations=_pairs(args.annotation, "--annotation"),
            services=tuple(args.service),
            text=args.text,
        )
        matches = section.match(alert)
        if args.json:
            print(json.dumps([converter().unstructure(m) for m in matches], indent=2), file=out)
        else:
            for found in matches:
                print(
                    f"{found.runbook:<28} {found.rule.name:<12} {'; '.join(found.reasons)}",
                    file=out,
                )
        return 0
    if command == "tick":
        fired = [
            {"runbook": s.runbook, "due_on": s.due_on.isoformat() if s.due_on else None}
            for s in section.remind(at)
        ]
        if args.json:
            print(json.dumps(fired), file=out)
        else:
            for row in fired:
                print(f"{row['runbook']}: review reminder enqueued (due {row['due_on']})", file=out)
        return 0
    state = section.attach(args.incident_id, args.runbook, by=args.by)
    checklist = section.get(args.runbook).checklist_name
    if args.json:
        items = {k: v.state.value for k, v in state.checklists[checklist].items()}
        print(
            json.dumps({"incident_id": state.id, "checklist": checklist, "items": items}), file=out
        )
    else:
        print(f"{state.id}: attached {args.runbook} as checklist {checklist}", file=out)
    return 0
