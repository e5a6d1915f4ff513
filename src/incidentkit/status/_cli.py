"""The status commands of the CLI (wired into the main CLI by ``incidentkit.cli``).

* ``status-page [--page P] [--json]`` — the page status, components and open
  incidents (``--json``: Statuspage's ``summary.json``);
* ``component set INCIDENT_ID COMPONENT STATUS --by WHO [--reason R] [--json]``;
* ``uptime [--component C | --group G] [--window 90d|30d|7d|24h|YYYY-MM] [--at ISO] [--json]``;
* ``report customer INCIDENT_ID [--zone Z] [--json]`` — the customer report e-mail;
* ``maintenance schedule NAME --start ISO --end ISO --component C … --by WHO``,
  ``maintenance start|verify|complete ID --by WHO [--body B]``,
  ``maintenance list [--page P]``, ``maintenance show ID`` (each with ``--json``).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, TextIO

from incidentkit._time import parse_datetime
from incidentkit.serialization import converter
from incidentkit.status.model import ComponentStatus

if TYPE_CHECKING:
    from incidentkit.status.maintenance import Maintenance

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = ["STATUS_COMMANDS", "add_status_parsers", "run_status"]

STATUS_COMMANDS = frozenset({"status-page", "component", "uptime", "report", "maintenance"})
"""The top-level commands :func:`run_status` runs."""


def add_status_parsers(subparsers: Any) -> None:
    """Add ``status-page``, ``component``, ``uptime``, ``report`` and ``maintenance``."""
    page = subparsers.add_parser("status-page", help="page status, components, open incidents")
    page.add_argument("--page", help="page id (default: the first)")
    page.add_argument("--json", action="store_true", help="Statuspage summary.json")
    component = subparsers.add_parser("component", help="set a component's status")
    sub = component.add_subparsers(dest="component_command", required=True)
    setter = sub.add_parser("set", help="record a component status on an incident")
    setter.add_argument("incident_id")
    setter.add_argument("component")
    setter.add_argument("status", choices=[s.value for s in ComponentStatus])
    setter.add_argument("--by", required=True)
    setter.add_argument("--reason", default="")
    setter.add_argument("--json", action="store_true")
    uptime = subparsers.add_parser("uptime", help="uptime of a component, a group or all")
    scope = uptime.add_mutually_exclusive_group()
    scope.add_argument("--component")
    scope.add_argument("--group")
    uptime.add_argument("--window", default="90d", help="24h, 7d, 30d, 90d or YYYY-MM")
    uptime.add_argument("--at", help="ISO 8601 instant with an offset (default: now)")
    uptime.add_argument("--json", action="store_true")
    report = subparsers.add_parser("report", help="render a report")
    reports = report.add_subparsers(dest="report_command", required=True)
    customer = reports.add_parser("customer", help="the customer incident report e-mail")
    customer.add_argument("incident_id")
    customer.add_argument("--zone", help="the customer's IANA zone (default: the page's)")
    customer.add_argument("--json", action="store_true")
    maintenance = subparsers.add_parser("maintenance", help="scheduled maintenances")
    moves = maintenance.add_subparsers(dest="maintenance_command", required=True)
    plan = moves.add_parser("schedule", help="schedule a maintenance of some components")
    plan.add_argument("name")
    plan.add_argument("--start", required=True, help="ISO 8601 instant with an offset")
    plan.add_argument("--end", required=True, help="ISO 8601 instant with an offset")
    plan.add_argument("--component", action="append", required=True, dest="components")
    plan.add_argument("--by", required=True)
    plan.add_argument("--body", default="")
    plan.add_argument("--page", help="page id (default: the first)")
    plan.add_argument("--id", dest="maintenance_id")
    plan.add_argument("--auto-start", action="store_true", help="tick() starts it on time")
    plan.add_argument("--auto-complete", action="store_true", help="tick() completes it on time")
    plan.add_argument("--idempotency-key")
    plan.add_argument("--json", action="store_true")
    for verb, what in (
        ("start", "move to in_progress"),
        ("verify", "move to verifying"),
        ("complete", "move to completed (from scheduled: cancel)"),
    ):
        move = moves.add_parser(verb, help=what)
        move.add_argument("maintenance_id")
        move.add_argument("--by", required=True)
        move.add_argument("--body", default="")
        move.add_argument("--idempotency-key")
        move.add_argument("--json", action="store_true")
    listing = moves.add_parser("list", help="every stored maintenance")
    listing.add_argument("--page")
    listing.add_argument("--json", action="store_true")
    show = moves.add_parser("show", help="one maintenance with its updates")
    show.add_argument("maintenance_id")
    show.add_argument("--json", action="store_true")


def _maintenance_json(m: Maintenance) -> Any:
    return converter().unstructure(m)


def _maintenance_line(m: Maintenance, zone: Any) -> str:
    from incidentkit.cli import format_time

    window = f"{format_time(m.scheduled_for, zone)} – {format_time(m.scheduled_until, zone)}"
    return f"{m.id} [{m.status.value}] {m.name}: {window}; {', '.join(m.components)}"


def _run_maintenance(args: argparse.Namespace, kit: IncidentKit, out: TextIO) -> int:
    from incidentkit.cli import format_time

    book = kit.status.maintenances
    zone = getattr(args, "tz", None) or kit.policy.zone
    command = args.maintenance_command
    if command == "list":
        found = book.all(args.page)
        if args.json:
            _dump([_maintenance_json(m) for m in found], out)
        else:
            for m in found:
                print(_maintenance_line(m, zone), file=out)
            if not found:
                print("no scheduled maintenances", file=out)
        return 0
    if command == "schedule":
        m = book.schedule(
            args.name,
            parse_datetime(args.start, "--start"),
            parse_datetime(args.end, "--end"),
            args.components,
            by=args.by,
            body=args.body,
            page=args.page,
            maintenance_id=args.maintenance_id,
            auto_start=args.auto_start,
            auto_complete=args.auto_complete,
            idempotency_key=args.idempotency_key,
        )
    elif command == "show":
        m = book.get(args.maintenance_id)
    else:
        move = {"start": book.start, "verify": book.verify, "complete": book.complete}[command]
        m = move(
            args.maintenance_id, by=args.by, body=args.body, idempotency_key=args.idempotency_key
        )
    if args.json:
        _dump(_maintenance_json(m), out)
        return 0
    print(_maintenance_line(m, zone), file=out)
    if command == "show":
        for u in m.updates:
            said = f": {u.body}" if u.body else ""
            print(f"  {format_time(u.at, zone)} {u.status.value} by {u.by}{said}", file=out)
    return 0


def _dump(data: Any, out: TextIO) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False), file=out)


def run_status(args: argparse.Namespace, kit: IncidentKit, out: TextIO) -> int:
    """Run one of :data:`STATUS_COMMANDS`; 0 on success."""
    status = kit.status
    if args.command == "maintenance":
        return _run_maintenance(args, kit, out)
    if args.command == "status-page":
        if args.json:
            _dump(status.json("summary", args.page), out)
            return 0
        page = status.page(args.page)
        print(f"{page.description} ({page.indicator.value})", file=out)
        for row in status.components(args.page):
            print(f"  {row.component.name}: {row.status.value}", file=out)
        for incident in status.json("incidents/unresolved", args.page)["incidents"]:
            print(f"  {incident['id']} [{incident['status']}] {incident['name']}", file=out)
        return 0
    if args.command == "component":
        state = status.update_component(
            args.incident_id, args.component, args.status, by=args.by, reason=args.reason
        )
        current = status.current().get(args.component, ComponentStatus.OPERATIONAL)
        if args.json:
            _dump(
                {
                    "incident_id": state.id,
                    "version": state.version,
                    "component": args.component,
                    "status": current.value,
                },
                out,
            )
        else:
            print(f"{args.component}: {current.value} (recorded on {state.id})", file=out)
        return 0
    if args.command == "uptime":
        at = parse_datetime(args.at, "--at") if args.at else None
        result = status.uptime(args.component, group=args.group, window=args.window, at=at)
        scope = args.component or args.group or "all components"
        if args.json:
            _dump(
                {
                    "scope": scope,
                    "window": args.window,
                    "start": result.start.isoformat(),
                    "end": result.end.isoformat(),
                    "percent": result.percent,
                    "down_seconds": result.down.total_seconds(),
                    "tracked_seconds": result.tracked.total_seconds(),
                    "maintenance_seconds": result.maintenance.total_seconds(),
                },
                out,
            )
        else:
            shown = "no data" if result.percent is None else f"{result.percent:.3f} %"
            print(f"{scope} over {args.window}: {shown}", file=out)
        return 0
    report = status.customer_report(args.incident_id, args.zone)
    if args.json:
        _dump(
            {"incident_id": report.incident_id, "subject": report.subject, "text": report.text}, out
        )
    else:
        print(f"Subject: {report.subject}\n\n{report.text}", file=out)
    return 0
