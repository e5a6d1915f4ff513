"""The ``incidentkit`` command.

Every command takes ``--db URL`` (default ``$INCIDENTKIT_DB``, then
``sqlite:///incidents.db``), ``--policy FILE`` (default ``$INCIDENTKIT_POLICY``,
then ``./incidentkit.toml`` when it exists) and ``--tz ZONE`` (default: the
policy's zone); every read command takes ``--json``. Times are printed in that
zone with the zone's name; ``--json`` prints ISO 8601 UTC. Exit codes: 0
success, 1 a refused command or store error, 2 bad input (the message names
the option or field). Every error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from incidentkit import _validate as validate
from incidentkit._time import format_duration, parse_datetime
from incidentkit.checkpoint import Checkpoint, checkpoint_from_json
from incidentkit.clock import SystemClock
from incidentkit.errors import IncidentKitError, NotFound, PolicyError, ValidationError
from incidentkit.events import Conclusion, PublicStatus, Source
from incidentkit.incident import Incident
from incidentkit.intake import add_alerts_parser, run_alerts
from incidentkit.kit import DB_ENV, IncidentKit
from incidentkit.lifecycle import Phase, Status
from incidentkit.metrics import add_metrics_parser, run_metrics
from incidentkit.oncall import add_oncall_parser, run_oncall
from incidentkit.people.cli import (
    ONCALL_PEOPLE_COMMANDS,
    add_people_parser,
    run_people,
    run_people_oncall,
)
from incidentkit.plugins.manager import PluginManager
from incidentkit.policy import Policy, load_policy
from incidentkit.review import add_actions_parser, add_review_parser, run_actions, run_review
from incidentkit.runbooks import add_runbooks_parser, run_runbooks
from incidentkit.serialization import converter, parse_duration
from incidentkit.severity import Severity
from incidentkit.status import STATUS_COMMANDS, add_status_parsers, run_status
from incidentkit.store import IncidentSummary
from incidentkit.timeline import render_chat, to_json_rows
from incidentkit.web import add_serve_parser, run_serve

__all__ = ["main"]

DEFAULT_DB = "sqlite:///incidents.db"
POLICY_ENV = "INCIDENTKIT_POLICY"
"""Environment variable naming the policy file when ``--policy`` is not given."""
DEFAULT_POLICY = "incidentkit.toml"
"""The policy file read from the working directory when neither is given."""


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own errors exit 2 too
        raise _UsageError(message)


def _datetime(text: str) -> Any:
    try:
        return parse_datetime(text, "datetime")
    except ValidationError as err:
        raise argparse.ArgumentTypeError(err.reason) from None


def _zone(text: str) -> Any:
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown IANA time zone: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = _Parser(prog="incidentkit", description="Run incident response from the shell.")
    parser.add_argument("--db", help=f"store URL (default ${DB_ENV}, then {DEFAULT_DB})")
    parser.add_argument(
        "--policy", help=f"policy TOML file (default ${POLICY_ENV}, then ./{DEFAULT_POLICY})"
    )
    parser.add_argument(
        "--tz", type=_zone, help="IANA zone for printed times (default: the policy's)"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="replay the guide's login incident")
    demo.add_argument(
        "--db", dest="demo_db", help="store URL for the demo (default: a temp SQLite file)"
    )

    declare = sub.add_parser("declare", help="declare an incident")
    declare.add_argument("title")
    declare.add_argument("--severity", "-s", required=True, help="SEV1 … SEV4")
    declare.add_argument("--by", required=True)
    declare.add_argument("--service", action="append", default=[], dest="services")
    declare.add_argument("--source", choices=[s.value for s in Source], default="manual")
    declare.add_argument("--started-at", type=_datetime)
    declare.add_argument("--detected-at", type=_datetime)
    declare.add_argument("--id", dest="incident_id")
    declare.add_argument("--json", action="store_true")

    ack = sub.add_parser("ack", help="acknowledge an incident")
    ack.add_argument("incident_id")
    ack.add_argument("--by", required=True)

    assign = sub.add_parser("assign", help="assign or hand over a role")
    assign.add_argument("incident_id")
    assign.add_argument("role")
    assign.add_argument("person")
    assign.add_argument("--by", required=True)

    release = sub.add_parser("release", help="release a role")
    release.add_argument("incident_id")
    release.add_argument("role")
    release.add_argument("--by", required=True)

    severity = sub.add_parser("severity", help="change severity")
    severity.add_argument("incident_id")
    severity.add_argument("severity")
    severity.add_argument("--by", required=True)
    severity.add_argument("--reason", required=True)

    status = sub.add_parser("status", help="show an incident, or move it to a new status")
    status.add_argument("incident_id")
    status.add_argument("new_status", nargs="?", choices=[s.value for s in Status if s.is_open])
    status.add_argument("--by")
    status.add_argument("--reason", default="")
    status.add_argument("--json", action="store_true")

    phase = sub.add_parser("phase", help="enter a response phase")
    phase.add_argument("incident_id")
    phase.add_argument("phase", choices=[p.value for p in Phase])
    phase.add_argument("--by", required=True)

    note = sub.add_parser("note", help="add a note")
    note.add_argument("incident_id")
    note.add_argument("text")
    note.add_argument("--by", required=True)

    hypothesis = sub.add_parser("hypothesis", help="record a hypothesis and how it was tested")
    hypothesis.add_argument("incident_id")
    hypothesis.add_argument("hypothesis")
    hypothesis.add_argument("--by", required=True)
    hypothesis.add_argument("--test", default="")
    hypothesis.add_argument("--result", default="")
    hypothesis.add_argument(
        "--conclusion", choices=[c.value for c in Conclusion], default="inconclusive"
    )

    mitigate = sub.add_parser("mitigate", help="request a mitigation action")
    mitigate.add_argument("incident_id")
    mitigate.add_argument("action")
    mitigate.add_argument("--by", required=True)
    mitigate.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help='an action parameter; VALUE is read as JSON when it parses (5, true, "x")',
    )
    mitigate.add_argument("--dry-run", action="store_true")
    mitigate.add_argument("--inline", action="store_true", help="run it now, not via deliver")

    mitigated = sub.add_parser("mitigated", help="record a mitigation done by hand")
    mitigated.add_argument("incident_id")
    mitigated.add_argument("detail")
    mitigated.add_argument("--by", required=True)
    mitigated.add_argument("--action", default="manual")

    update = sub.add_parser("update", help="post a status update")
    update.add_argument("incident_id")
    update.add_argument("public_status", choices=[s.value for s in PublicStatus])
    update.add_argument("message")
    update.add_argument("--by", required=True)

    check = sub.add_parser("check", help="mark a checklist item done (or --skip with --reason)")
    check.add_argument("incident_id")
    check.add_argument("checklist")
    check.add_argument("item")
    check.add_argument("--by", required=True)
    check.add_argument("--skip", action="store_true")
    check.add_argument("--na", action="store_true", help="mark it not applicable")
    check.add_argument("--reason", default="")

    resolve = sub.add_parser("resolve", help="resolve an incident")
    resolve.add_argument("incident_id")
    resolve.add_argument("--by", required=True)
    resolve.add_argument("--summary", default="")
    resolve.add_argument("--force", action="store_true")
    resolve.add_argument("--reason", default="")

    reopen = sub.add_parser("reopen", help="reopen a resolved incident")
    reopen.add_argument("incident_id")
    reopen.add_argument("--by", required=True)
    reopen.add_argument("--reason", required=True)

    close = sub.add_parser("close", help="close a resolved incident")
    close.add_argument("incident_id")
    close.add_argument("--by", required=True)
    close.add_argument("--reason", default="")
    close.add_argument(
        "--force", action="store_true", help="close with open recovery items (needs --reason)"
    )

    show = sub.add_parser("show", help="an incident: roles, checklists, open items and next timers")
    show.add_argument("incident_id")
    show.add_argument("--json", action="store_true")

    listing = sub.add_parser("list", help="list incidents")
    listing.add_argument("--open", action="store_true", dest="open_only")
    listing.add_argument("--status", action="append", choices=[s.value for s in Status])
    listing.add_argument("--limit", type=int)
    listing.add_argument("--severity", action="append")
    listing.add_argument("--service")
    listing.add_argument("--since", type=_datetime)
    listing.add_argument("--until", type=_datetime)
    listing.add_argument("--json", action="store_true")

    timeline = sub.add_parser("timeline", help="print an incident's timeline")
    timeline.add_argument("incident_id")
    timeline.add_argument("--json", action="store_true")
    timeline.add_argument("--zone", type=_zone, help="IANA zone for times (default: the policy's)")

    verify = sub.add_parser("verify", help="verify hash chains and summaries (one incident or all)")
    verify.add_argument("incident_id", nargs="?")
    verify.add_argument(
        "--against", metavar="FILE", help="also check against a checkpoint from `checkpoint`"
    )
    verify.add_argument("--json", action="store_true")

    checkpoint = sub.add_parser(
        "checkpoint", help="print a signed head of every incident (JSON) to keep elsewhere"
    )
    checkpoint.add_argument("--output", "-o", metavar="FILE", help="write it to FILE")

    plugins = sub.add_parser("plugins", help="list loaded plugins")
    plugins.add_argument("--json", action="store_true")

    tick = sub.add_parser("tick", help="fire due timers once (escalations, reminders, targets)")
    tick.add_argument("--at", type=_datetime, help="evaluate at this instant (default: now)")
    tick.add_argument("--json", action="store_true")

    deliver = sub.add_parser("deliver", help="deliver due outbox rows once")
    deliver.add_argument("--json", action="store_true")

    run = sub.add_parser("run", help="tick and deliver in a loop until SIGTERM")
    run.add_argument("--interval", default="30s", help="time between passes (default 30s)")

    add_oncall_parser(sub)
    add_metrics_parser(sub)
    add_runbooks_parser(sub)
    add_status_parsers(sub)
    add_people_parser(sub)
    add_serve_parser(sub)
    add_alerts_parser(sub)
    add_review_parser(sub)
    add_actions_parser(sub)
    return parser


def _summary_row(summary: IncidentSummary) -> dict[str, Any]:
    data: dict[str, Any] = converter().unstructure(summary)
    return data


def _incident_json(state: Incident) -> dict[str, Any]:
    return {
        "id": state.id,
        "version": state.version,
        "title": state.title,
        "severity": state.severity.value,
        "status": state.status.value,
        "phase": state.phase.value,
        "channel": state.channel,
        "services": list(state.services),
        "roles": dict(state.roles),
        "started_at": state.started_at.isoformat() if state.started_at else None,
        "detected_at": state.detected_at.isoformat(),
        "declared_at": state.declared_at.isoformat(),
        "acknowledged_at": state.acknowledged_at.isoformat() if state.acknowledged_at else None,
        "mitigated_at": state.mitigated_at.isoformat() if state.mitigated_at else None,
        "resolved_at": state.resolved_at.isoformat() if state.resolved_at else None,
        "closed_at": state.closed_at.isoformat() if state.closed_at else None,
        "checklists": {
            name: {key: item.state.value for key, item in items.items()}
            for name, items in state.checklists.items()
        },
    }


def format_time(value: datetime | None, zone: tzinfo, *, seconds: bool = False) -> str:
    """``2024-11-20 23:30 CET`` (``-`` for none): ``value`` in ``zone``, minute precision.

    >>> from datetime import timezone
    >>> format_time(datetime(2024, 11, 20, 22, 30, 5, 123, tzinfo=timezone.utc),
    ...             ZoneInfo("Europe/Berlin"), seconds=True)
    '2024-11-20 23:30:05 CET'
    """
    if value is None:
        return "-"
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def _print_incident(state: Incident, out: TextIO, zone: tzinfo) -> None:
    print(f"{state.id}  {state.severity}  {state.status}  {state.title}", file=out)
    print(f"  phase: {state.phase}   channel: {state.channel}", file=out)
    roles = ", ".join(f"{r}={p}" for r, p in state.roles.items()) or "(none)"
    print(f"  roles: {roles}", file=out)
    print(f"  declared: {format_time(state.declared_at, zone, seconds=True)}", file=out)
    for name in ("acknowledged_at", "mitigated_at", "resolved_at"):
        value = getattr(state, name)
        since = format_duration(value - state.detected_at) if value else "-"
        print(
            f"  {name.removesuffix('_at')}: {format_time(value, zone, seconds=True)} ({since})",
            file=out,
        )
    for checklist in state.templates:
        total = len(checklist.items)
        done = total - len(state.open_items(checklist.name, required_only=False))
        print(f"  {checklist.name}: {done}/{total} done", file=out)


def _show(kit: IncidentKit, incident_id: str, zone: tzinfo, as_json: bool, out: TextIO) -> None:
    """The ``show`` command: the incident, its roles, checklists, open items, next timer."""
    state = kit.get(incident_id)
    summary = kit.summary(incident_id)
    deadline = (
        kit.policy.response_deadline(state.severity, state.declared_at)
        if state.acknowledged_at is None and state.is_open
        else None
    )
    if as_json:
        data = _incident_json(state)
        data["open_items"] = {
            t.name: list(state.open_items(t.name, required_only=False)) for t in state.templates
        }
        data["next_due_at"] = summary.next_due_at.isoformat() if summary.next_due_at else None
        data["response_due_at"] = deadline.isoformat() if deadline else None
        print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
        return
    print(f"{state.id}  {state.severity}  {state.status}  {state.title}", file=out)
    rows = [
        ("phase", str(state.phase)),
        ("channel", state.channel or "-"),
        ("services", ", ".join(state.services) or "-"),
        ("declared", format_time(state.declared_at, zone, seconds=True)),
    ]
    for name in ("acknowledged", "mitigated", "resolved", "closed"):
        value = getattr(state, f"{name}_at")
        if value is not None:
            rows.append((name, format_time(value, zone, seconds=True)))
    if deadline is not None:
        rows.append(("ack due", format_time(deadline, zone, seconds=True)))
    rows.append(("next timer", format_time(summary.next_due_at, zone, seconds=True)))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}", file=out)
    print("roles:", file=out)
    for role, person in state.roles.items():
        print(f"  {role}: {person}", file=out)
    if not state.roles:
        print("  (none)", file=out)
    print("checklists:", file=out)
    for checklist in state.templates:
        total = len(checklist.items)
        pending = state.open_items(checklist.name, required_only=False)
        print(f"  {checklist.name}: {total - len(pending)}/{total} done", file=out)
        required = set(state.open_items(checklist.name))
        for item in checklist.items:
            if item.key in pending:
                mark = "required" if item.key in required else "optional"
                print(f"    [ ] {item.key} ({mark}): {item.text}", file=out)


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Print ``rows`` as columns sized to their content (the last column unpadded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip(), file=out)


def _params(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a VALUE that parses as JSON is taken as JSON, else as text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError("--param", f"expected KEY=VALUE, got {pair!r}")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
        except RecursionError:
            raise ValidationError(
                "--param", f"{key.strip()!r}: nested deeper than {validate.MAX_NESTING} levels"
            ) from None
    return params


def _read_checkpoint(path: str) -> Checkpoint:
    try:
        with open(path, "rb") as file:
            text = file.read()
    except OSError as failure:
        raise ValidationError("--against", f"cannot read {path}: {failure.strerror}") from None
    return checkpoint_from_json(text)


def _write_file(path: str, text: str, option: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as failure:
        raise ValidationError(option, f"cannot write {path}: {failure.strerror}") from None


def policy_path(given: str | None) -> str | None:
    """The policy file to read: ``--policy``, else ``$INCIDENTKIT_POLICY``, else
    ``./incidentkit.toml`` when it exists, else none (the guide's defaults)."""
    if given:
        return given
    named = os.environ.get(POLICY_ENV)
    if named:
        return named
    return DEFAULT_POLICY if Path(DEFAULT_POLICY).is_file() else None


def _policy(args: argparse.Namespace) -> Policy | None:
    path = policy_path(args.policy)
    return load_policy(path) if path else None


READ_ONLY = frozenset(
    {"show", "list", "timeline", "verify", "checkpoint", "metrics", "status-page", "uptime"}
)
"""Commands that only read: they open the kit without the policy's ``[notifiers]`` and
``[actions]``, so a secret those need (``url_env``) is not asked of someone listing."""


def _reads_only(args: argparse.Namespace) -> bool:
    if args.command in READ_ONLY:
        return True
    return args.command == "maintenance" and args.maintenance_command in ("list", "show")


def _kit(args: argparse.Namespace) -> IncidentKit:
    policy = _policy(args)
    if policy is not None and _reads_only(args) and (policy.notifiers or policy.actions):
        policy = attrs.evolve(policy, notifiers=(), actions=())
    return IncidentKit.open(args.db, policy=policy)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.command == "demo":
        return _demo(args, out)
    if args.command == "oncall" and args.oncall_command not in ONCALL_PEOPLE_COMMANDS:
        policy = _policy(args) or Policy.default()
        if args.oncall_command == "now" and not policy.oncall.schedules:
            if args.at:
                parse_datetime(args.at, "--at")  # bad input is reported before the refusal
            where = policy_path(args.policy) or "the default policy (no policy file)"
            raise NotFound("on-call schedule", f"in {where}; add [[oncall.schedules]]")
        return run_oncall(args, policy.oncall, out, SystemClock().now())
    if args.command == "plugins":
        return _plugins(PluginManager(), args, out)
    kit = _kit(args)
    try:
        return _dispatch(kit, args, out, err)
    finally:
        kit.shutdown()


def _plugins(manager: PluginManager, args: argparse.Namespace, out: TextIO) -> int:
    """List the plugins a kit would load; opens no store (so creates no database file)."""
    infos = manager.describe()
    if args.json:
        print(json.dumps([converter().unstructure(i) for i in infos], indent=2), file=out)
    else:
        for info in infos:
            version = f" {info.distribution} {info.version}" if info.distribution else ""
            print(f"{info.name} ({info.origin}{version}): {', '.join(info.hooks)}", file=out)
        for failure in manager.failures:
            print(f"{failure.name}: FAILED to load: {failure.error}", file=out)
    return 0


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    import tempfile

    from incidentkit._demo import ConsoleNotifier, run_demo
    from incidentkit.clock import ManualClock

    base = _policy(args)

    def opener(url: str) -> Callable[[ManualClock, Policy, ConsoleNotifier], IncidentKit]:
        def make(clock: ManualClock, policy: Policy, console: ConsoleNotifier) -> IncidentKit:
            return IncidentKit.open(
                url, policy=policy, clock=clock, plugins=[console], autoload_plugins=False
            )

        return make

    if args.demo_db:
        run_demo(out, opener(args.demo_db), base).shutdown()
        return 0
    with tempfile.TemporaryDirectory(prefix="incidentkit-demo-") as folder:
        run_demo(out, opener(f"sqlite:///{folder}/demo.db"), base).shutdown()
    return 0


def _dispatch(kit: IncidentKit, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    command = args.command
    zone: tzinfo = args.tz or kit.policy.zone
    if command == "declare":
        state = kit.declare(
            args.title,
            severity=Severity.parse(args.severity),
            by=args.by,
            source=Source(args.source),
            services=args.services,
            started_at=args.started_at,
            detected_at=args.detected_at,
            incident_id=args.incident_id,
        )
        if args.json:
            print(json.dumps(_incident_json(state), indent=2), file=out)
        else:
            print(f"{state.id} declared ({state.severity}) — channel {state.channel}", file=out)
        return 0
    if command == "ack":
        kit.acknowledge(args.incident_id, by=args.by)
    elif command == "assign":
        kit.assign_role(args.incident_id, args.role, args.person, by=args.by)
    elif command == "release":
        kit.release_role(args.incident_id, args.role, by=args.by)
    elif command == "severity":
        kit.set_severity(args.incident_id, args.severity, by=args.by, reason=args.reason)
    elif command == "status":
        if args.new_status:
            if not args.by:
                raise ValidationError("--by", "required when changing status")
            kit.set_status(args.incident_id, args.new_status, by=args.by, reason=args.reason)
        state = kit.get(args.incident_id)
        if args.json:
            print(json.dumps(_incident_json(state), indent=2), file=out)
        else:
            _print_incident(state, out, zone)
        return 0
    elif command == "show":
        _show(kit, args.incident_id, zone, args.json, out)
        return 0
    elif command == "phase":
        kit.enter_phase(args.incident_id, args.phase, by=args.by)
    elif command == "note":
        kit.add_note(args.incident_id, args.text, by=args.by)
    elif command == "update":
        kit.post_update(args.incident_id, args.public_status, args.message, by=args.by)
    elif command == "hypothesis":
        kit.record_hypothesis(
            args.incident_id,
            args.hypothesis,
            by=args.by,
            test=args.test,
            result=args.result,
            conclusion=args.conclusion,
        )
    elif command == "mitigate":
        kit.mitigate(
            args.incident_id,
            args.action,
            by=args.by,
            params=_params(args.param),
            dry_run=args.dry_run,
            inline=args.inline,
        )
        if args.inline:
            print(kit.timeline(args.incident_id)[-1].event.describe(), file=out)
            return 0
    elif command == "mitigated":
        kit.mark_mitigated(args.incident_id, by=args.by, detail=args.detail, action=args.action)
    elif command == "check":
        if args.skip and args.na:
            raise ValidationError("--na", "give --skip or --na, not both")
        if args.na:
            kit.not_applicable(
                args.incident_id, args.checklist, args.item, by=args.by, reason=args.reason
            )
        elif args.skip:
            kit.skip(args.incident_id, args.checklist, args.item, by=args.by, reason=args.reason)
        else:
            kit.check(args.incident_id, args.checklist, args.item, by=args.by)
    elif command == "resolve":
        kit.resolve(
            args.incident_id, by=args.by, summary=args.summary, force=args.force, reason=args.reason
        )
    elif command == "reopen":
        kit.reopen(args.incident_id, by=args.by, reason=args.reason)
    elif command == "close":
        kit.close(args.incident_id, by=args.by, reason=args.reason, force=args.force)
    elif command == "list":
        rows = kit.incidents(
            open_only=args.open_only,
            status=args.status,
            limit=args.limit,
            severity=args.severity,
            service=args.service,
            since=args.since,
            until=args.until,
        )
        if args.json:
            print(json.dumps([_summary_row(r) for r in rows], indent=2), file=out)
        elif rows:
            _table(
                [
                    ("ID", "SEV", "STATUS", f"DECLARED ({_zone_name(zone)})", "TITLE"),
                    *(
                        (
                            r.incident_id,
                            str(r.severity),
                            str(r.status),
                            format_time(r.declared_at, zone),
                            r.title,
                        )
                        for r in rows
                    ),
                ],
                out,
            )
        else:
            print("no incidents", file=out)
        return 0
    elif command == "timeline":
        records = kit.timeline(args.incident_id)
        if args.json:
            print(json.dumps(to_json_rows(records), indent=2, ensure_ascii=False), file=out)
        else:
            zone = args.zone or zone
            print(f"times in {_zone_name(zone)}", file=out)
            for line in render_chat(records, zone=zone):
                print(line, file=out)
        return 0
    elif command == "verify":
        against = _read_checkpoint(args.against) if args.against else None
        checks = (
            [kit.verify(args.incident_id, against=against)]
            if args.incident_id
            else kit.verify_all(against=against)
        )
        if args.json:
            print(json.dumps([converter().unstructure(c) for c in checks], indent=2), file=out)
        else:
            for check in checks:
                verdict = (
                    "ok"
                    if check.ok
                    else f"BROKEN at version {check.broken_version}: {check.reason}"
                )
                print(f"{check.incident_id}: {verdict} ({check.events} events)", file=out)
        return 0 if all(c.ok for c in checks) else 1
    elif command == "checkpoint":
        document = kit.checkpoint().to_json()
        if args.output:
            _write_file(args.output, document + "\n", "--output")
        else:
            print(document, file=out)
        return 0
    elif command == "metrics":
        return run_metrics(args, kit.store, out, err, policy=kit.policy)
    elif command == "runbooks":
        return run_runbooks(args, kit, out)
    elif command in STATUS_COMMANDS:
        return run_status(args, kit, out)
    elif command in ("people", "drill"):
        return run_people(args, kit, out)
    elif command == "oncall":
        return run_people_oncall(args, kit, out, kit.clock.now())
    elif command == "serve":
        return run_serve(args, kit, out)
    elif command in ("alert", "alerts", "heartbeat"):
        return run_alerts(args, kit, out)
    elif command == "review":
        return run_review(args, kit, out)
    elif command == "actions":
        return run_actions(args, kit, out)
    elif command == "tick":
        report = kit.tick(args.at)
        fired = [
            {"incident_id": r.incident_id, "version": r.version, "event": r.event.describe()}
            for r in report.fired
        ]
        if args.json:
            payload = {
                "at": report.at.isoformat(),
                "checked": report.checked,
                "fired": fired,
                "failures": dict(report.failures),
            }
            print(json.dumps(payload, indent=2), file=out)
        else:
            print(
                f"{format_time(report.at, zone, seconds=True)}: checked {report.checked} "
                f"incidents, fired {len(fired)} timers",
                file=out,
            )
            for item in fired:
                print(f"  {item['incident_id']} v{item['version']}: {item['event']}", file=out)
            for incident_id, error in report.failures.items():
                print(f"  {incident_id}: FAILED: {error}", file=out)
        return 1 if report.failures else 0
    elif command == "deliver":
        delivery = kit.deliver()
        if args.json:
            print(json.dumps(converter().unstructure(delivery), indent=2), file=out)
        else:
            print(
                f"claimed {delivery.claimed}: delivered {delivery.delivered}, "
                f"retrying {delivery.retried}, dead {delivery.dead}",
                file=out,
            )
        return 0
    elif command == "run":
        interval = parse_duration(args.interval, "--interval")
        validate.duration_in(interval, "--interval", validate.MIN_INTERVAL, validate.MAX_INTERVAL)
        kit.run_forever(interval)
        return 0
    print("ok", file=out)
    return 0


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone.tzname(None) or zone)


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the CLI; returns the exit code."""
    stdout = out or sys.stdout
    stderr = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
        code = _run(args, stdout, stderr)
        stdout.flush()
        return code
    except BrokenPipeError:
        # the reader (``| head``) went away: stop quietly, as other shell tools do
        _silence(stdout)
        return 1
    except (_UsageError, ValidationError, PolicyError) as error:
        _complain(error, stderr)
        return 2
    except IncidentKitError as error:
        _complain(error, stderr)
        return 1
    except OSError as error:
        _complain(error, stderr)
        return 1


def _silence(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at /dev/null so the interpreter's final flush cannot fail."""
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def _complain(error: Exception, stderr: TextIO) -> None:
    """Print ``error`` as one line: line breaks folded, unencodable characters escaped."""
    line = " ".join(str(error).split())
    line = line.encode("utf-8", "backslashreplace").decode("utf-8")
    print(f"incidentkit: error: {line}", file=stderr)


if __name__ == "__main__":
    raise SystemExit(main())
