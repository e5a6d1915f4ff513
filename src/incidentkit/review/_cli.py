"""The ``incidentkit review …`` and ``incidentkit actions`` commands (wired by ``incidentkit.cli``).

* ``review show INC [--json]`` — status, due date, meeting, chains, factors, items;
* ``review schedule INC --at ISO --by WHO [--extra P …]`` — the meeting and its participants;
* ``review why INC TEXT --by WHO [--chain C] [--problem P] [--evidence v12|URL …]``,
  ``review why INC --conclude TEXT --by WHO [--chain C]`` — the 5 whys;
* ``review factor INC CATEGORY TEXT --by WHO [--evidence …]`` — a contributing factor;
* ``review action INC TITLE --owner O --priority P0 --type T --due DATE --by WHO
  [--addresses REF …]`` adds an item; ``review action INC --item A1 --set STATUS
  [--reason R] --by WHO`` moves one;
* ``review status INC [NEW --by WHO [--reason R]]`` — show or move the review;
* ``review render INC [--html] [--output FILE]`` — the review document;
* ``actions --overdue [--at ISO] [--owner O]`` — open action items past their due date.

Every command takes ``--json``. Bad input exits 2, a refused command 1 (``incidentkit.cli``).
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from incidentkit._time import parse_datetime
from incidentkit.errors import ValidationError
from incidentkit.review.model import ActionItem, Evidence, Review
from incidentkit.serialization import converter

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = ["add_actions_parser", "add_review_parser", "run_actions", "run_review"]


def add_review_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``review`` command; the namespace carries ``review_command``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "review", help="post-incident review: show, schedule, why, factor, action, status, render"
    )
    sub = parser.add_subparsers(dest="review_command", required=True)

    def command(name: str, help: str, *, by: bool = True) -> argparse.ArgumentParser:
        found: argparse.ArgumentParser = sub.add_parser(name, help=help)
        found.add_argument("incident_id")
        if by:
            found.add_argument("--by", required=True)
        found.add_argument("--json", action="store_true")
        return found

    command("show", "the review of an incident", by=False)
    schedule = command("schedule", "set the review meeting and its participants")
    schedule.add_argument("--at", required=True, help="ISO 8601 instant with an offset")
    schedule.add_argument("--extra", action="append", default=[], help="invitee (repeatable)")
    why = command("why", "add a why to a chain, or conclude the chain")
    why.add_argument("text", nargs="?", default=None)
    why.add_argument("--chain", default="main")
    why.add_argument("--problem", default="", help="the problem a new chain starts from")
    why.add_argument("--evidence", action="append", default=[], help="v12 or a link")
    why.add_argument("--conclude", metavar="TEXT", help="end the chain in this conclusion")
    factor = command("factor", "record a contributing factor")
    factor.add_argument("category")
    factor.add_argument("text")
    factor.add_argument("--evidence", action="append", default=[], help="v12 or a link")
    action = command("action", "add an action item, or move one with --item/--set")
    action.add_argument("title", nargs="?", default=None)
    action.add_argument("--owner")
    action.add_argument("--priority", help="P0, P1 or P2")
    action.add_argument("--type", help="detective, preventive or corrective")
    action.add_argument("--due", help="YYYY-MM-DD")
    action.add_argument("--addresses", action="append", default=[], help="why:C:N or factor:F1")
    action.add_argument("--item", help="the action item to move (A1)")
    action.add_argument("--set", dest="set_status", help="open, in_progress, done, wont_do")
    action.add_argument("--reason", default="")
    status = command("status", "show the review's status, or move it", by=False)
    status.add_argument("new_status", nargs="?", default=None)
    status.add_argument("--by")
    status.add_argument("--reason", default="")
    render = command("render", "the review document (Markdown, or HTML)", by=False)
    render.add_argument("--html", action="store_true")
    render.add_argument("--output", "-o", metavar="FILE")
    return parser


def add_actions_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``actions`` command (action items across incidents)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "actions", help="action items of every review (--overdue: past their due date)"
    )
    parser.add_argument("--overdue", action="store_true", help="only items past their due date")
    parser.add_argument("--owner", help="only this owner's items")
    parser.add_argument("--at", help="ISO 8601 instant with an offset (default: now)")
    parser.add_argument("--json", action="store_true")
    return parser


def _evidence(values: list[str]) -> tuple[Evidence, ...]:
    found = []
    for index, value in enumerate(values):
        text = value.strip()
        if text[:1] == "v" and text[1:].isdigit():
            found.append(Evidence(version=int(text[1:])))
        elif "://" in text:
            found.append(Evidence(link=text))
        else:
            raise ValidationError(f"--evidence[{index}]", f"{value!r} is not v<version> or a URL")
    return tuple(found)


def _day(value: str | None, field: str) -> date:
    if not value:
        raise ValidationError(field, "required when adding an action item")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _required(value: str | None, field: str) -> str:
    if not value:
        raise ValidationError(field, "required when adding an action item")
    return value


def _print_review(incident_id: str, review: Review, out: TextIO) -> None:
    meeting = review.meeting_at.isoformat() if review.meeting_at else "not scheduled"
    print(
        f"{incident_id}: review {review.status.value}, due {review.due_by.isoformat()}, "
        f"meeting {meeting}",
        file=out,
    )
    for person in review.participants:
        tail = " (handed over)" if person.renounced_at else ""
        print(f"  participant {person.person} {','.join(person.roles)}{tail}", file=out)
    for chain in review.chains:
        print(f"  chain {chain.name}: {chain.problem}", file=out)
        for number, why in enumerate(chain.whys, start=1):
            print(f"    {number}. Why? {why.text}", file=out)
        if chain.conclusion:
            print(f"    Root cause: {chain.conclusion}", file=out)
    for factor in review.factors:
        print(f"  factor {factor.id} [{factor.category}] {factor.text}", file=out)
    for item in review.items:
        _print_item(incident_id, item, out)


def _print_item(incident_id: str, item: ActionItem, out: TextIO) -> None:
    print(
        f"  {incident_id} {item.id} {item.priority.value} {item.status.value:<11} "
        f"@{item.owner} due {item.due.isoformat()}: {item.title}",
        file=out,
    )


def _emit(incident_id: str, review: Review, args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        payload = {"incident_id": incident_id, "review": review.to_dict()}
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
    else:
        _print_review(incident_id, review, out)
    return 0


def run_review(args: argparse.Namespace, kit: IncidentKit, out: TextIO) -> int:
    """Run ``incidentkit review …``; 0 on success (errors raise, ``incidentkit.cli`` maps them)."""
    command = args.review_command
    reviews = kit.reviews
    incident = args.incident_id
    if command == "show":
        return _emit(incident, reviews.get(incident), args, out)
    if command == "schedule":
        at = parse_datetime(args.at, "--at")
        return _emit(
            incident, reviews.schedule(incident, at, by=args.by, extra=args.extra), args, out
        )
    if command == "why":
        if args.conclude is not None:
            if args.text is not None:
                raise ValidationError("text", "give a why or --conclude, not both")
            review = reviews.conclude(incident, args.conclude, by=args.by, chain=args.chain)
        else:
            if args.text is None:
                raise ValidationError("text", "give the why, or --conclude TEXT")
            review = reviews.add_why(
                incident,
                args.text,
                by=args.by,
                chain=args.chain,
                problem=args.problem,
                evidence=_evidence(args.evidence),
            )
        return _emit(incident, review, args, out)
    if command == "factor":
        review = reviews.add_factor(
            incident, args.category, args.text, by=args.by, evidence=_evidence(args.evidence)
        )
        return _emit(incident, review, args, out)
    if command == "action":
        return _action(args, kit, out)
    if command == "status":
        if args.new_status is None:
            review = reviews.get(incident)
        else:
            if not args.by:
                raise ValidationError("--by", "required when moving the review")
            review = reviews.move(incident, args.new_status, by=args.by, reason=args.reason)
        if args.json:
            return _emit(incident, review, args, out)
        print(f"{incident}: review {review.status.value}", file=out)
        return 0
    text = reviews.render(incident, format="html" if args.html else "markdown")
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as failure:
            raise ValidationError("--output", f"cannot write {args.output}: {failure}") from None
    if args.json:
        payload = {"incident_id": incident, "format": "html" if args.html else "markdown"}
        payload["document"] = text
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
    elif not args.output:
        out.write(text)
    return 0


def _action(args: argparse.Namespace, kit: IncidentKit, out: TextIO) -> int:
    reviews = kit.reviews
    incident = args.incident_id
    if args.item is not None or args.set_status is not None:
        if args.item is None or args.set_status is None:
            raise ValidationError("--item", "give --item and --set together")
        if args.title is not None:
            raise ValidationError("title", "give a title to add an item, or --item to move one")
        item = reviews.set_action_status(
            incident, args.item, args.set_status, by=args.by, reason=args.reason
        )
    else:
        if args.title is None:
            raise ValidationError("title", "give the action item's title")
        item = reviews.add_action(
            incident,
            args.title,
            owner=_required(args.owner, "--owner"),
            priority=_required(args.priority, "--priority"),
            type=_required(args.type, "--type"),
            due=_day(args.due, "--due"),
            by=args.by,
            addresses=args.addresses,
        )
    if args.json:
        payload = {"incident_id": incident, "item": converter().unstructure(item)}
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
    else:
        _print_item(incident, item, out)
    return 0


def run_actions(args: argparse.Namespace, kit: IncidentKit, out: TextIO) -> int:
    """Run ``incidentkit actions [--overdue]``: open action items of every review."""
    from incidentkit.metrics.learning import learning_report, review_states

    at = parse_datetime(args.at, "--at") if args.at else kit.engine.now()
    states = review_states(kit)
    report = learning_report(states, at=at, zone=kit.policy.zone)
    late = {(o.incident_id, o.item_id): o.days for o in report.overdue}
    rows: list[dict[str, Any]] = []
    for state in states:
        review = state.extensions["reviews"]
        assert isinstance(review, Review)
        for item in review.items:
            if args.overdue and (state.id, item.id) not in late:
                continue
            if not args.overdue and not item.status.is_open:
                continue
            if args.owner and item.owner != args.owner.removeprefix("@"):
                continue
            row = converter().unstructure(item)
            row["incident_id"] = state.id
            row["days_overdue"] = late.get((state.id, item.id), 0)
            rows.append(row)
    rows.sort(key=lambda r: (r["priority"], r["due"], r["incident_id"], r["id"]))
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False), file=out)
        return 0
    for row in rows:
        overdue = f" ({row['days_overdue']} days overdue)" if row["days_overdue"] else ""
        print(
            f"{row['incident_id']} {row['id']} {row['priority']} @{row['owner']} "
            f"due {row['due']}{overdue}: {row['title']}",
            file=out,
        )
    if not rows:
        print("no overdue action items" if args.overdue else "no open action items", file=out)
    return 0
