"""The ``incidentkit alert …`` and ``incidentkit alerts`` commands (wired in by the CLI).

* ``alert ingest FILE|- [--format NAME] [--json]`` — ingest one payload (any
  adapter, detected or named); prints the sender's response, or the 400 body
  with every problem (exit status 2) when the payload is refused;
* ``alerts [--limit N] [--json]`` — the recent alerts with their incidents;
* ``heartbeat ping NAME [--json]`` — record a ping of a ``[alerts] heartbeats``
  monitor (a cron job's last step); ``heartbeat list [--json]`` — their states.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from incidentkit.errors import PayloadInvalid, ValidationError
from incidentkit.intake.adapters import MAX_PAYLOAD_BYTES

if TYPE_CHECKING:
    from incidentkit.intake.heartbeat import HeartbeatStatus
    from incidentkit.kit import IncidentKit

__all__ = ["add_alerts_parser", "run_alerts"]


def add_alerts_parser(subparsers: Any) -> None:
    """Add the ``alert`` (namespace ``alert_command``) and ``alerts`` commands."""
    alert: argparse.ArgumentParser = subparsers.add_parser("alert", help="alert intake: ingest")
    sub = alert.add_subparsers(dest="alert_command", required=True)
    ingest = sub.add_parser("ingest", help="ingest an alert payload (a file, or - for stdin)")
    ingest.add_argument("file", help="the JSON payload file, or - to read standard input")
    ingest.add_argument(
        "--format", help="alertmanager, grafana, pagerduty, generic (default: detected)"
    )
    ingest.add_argument("--json", action="store_true")
    recent: argparse.ArgumentParser = subparsers.add_parser(
        "alerts", help="the recent alerts with their incidents"
    )
    recent.add_argument("--limit", type=int, default=50)
    recent.add_argument("--json", action="store_true")
    heartbeat: argparse.ArgumentParser = subparsers.add_parser(
        "heartbeat", help="heartbeat monitors: ping one, or list their states"
    )
    beats = heartbeat.add_subparsers(dest="heartbeat_command", required=True)
    ping = beats.add_parser("ping", help="record a ping of the monitor NAME now")
    ping.add_argument("name", help="a monitor of [alerts] heartbeats")
    ping.add_argument("--json", action="store_true")
    listing = beats.add_parser("list", help="every monitor's state")
    listing.add_argument("--json", action="store_true")


def _read(name: str) -> bytes:
    if name == "-":
        data = sys.stdin.buffer.read(MAX_PAYLOAD_BYTES + 1)
    else:
        try:
            with Path(name).open("rb") as handle:
                data = handle.read(MAX_PAYLOAD_BYTES + 1)
        except OSError as err:
            raise ValidationError("file", f"cannot read {name}: {err.strerror}") from err
    return data


def _heartbeat_row(status: HeartbeatStatus) -> dict[str, Any]:
    return {
        "name": status.name,
        "state": status.state.value,
        "timeout_seconds": int(status.timeout.total_seconds()),
        "last_ping": status.last_ping.isoformat() if status.last_ping else None,
        "expires_at": status.expires_at.isoformat() if status.expires_at else None,
    }


def _run_heartbeat(args: argparse.Namespace, kit: IncidentKit, out: TextIO) -> int:
    if args.heartbeat_command == "ping":
        rows = [_heartbeat_row(kit.alerts.heartbeat_ping(args.name))]
    else:
        rows = [_heartbeat_row(s) for s in kit.alerts.heartbeats()]
    if args.json:
        body: object = rows[0] if args.heartbeat_command == "ping" else rows
        print(json.dumps(body, indent=2, ensure_ascii=False), file=out)
    elif not rows:
        print("no heartbeat monitors ([alerts] heartbeats)", file=out)
    else:
        for row in rows:
            expires = f"  expires {row['expires_at']}" if row["expires_at"] else ""
            print(f"{row['name']}: {row['state']}{expires}", file=out)
    return 0


def run_alerts(args: argparse.Namespace, kit: IncidentKit, out: TextIO) -> int:
    """Run ``alert ingest``, ``alerts`` or ``heartbeat …``; returns the exit status."""
    from incidentkit.intake.section import error_response

    if args.command == "heartbeat":
        return _run_heartbeat(args, kit, out)
    if args.command == "alerts":
        rows = [
            {
                "received_at": a.received_at.isoformat(),
                "incident_id": a.incident_id,
                "dedup_key": a.dedup_key,
                "status": a.status.value,
                "source": a.source,
                "summary": a.summary,
            }
            for a in kit.alerts.recent(args.limit)
        ]
        if args.json:
            print(json.dumps(rows, indent=2, ensure_ascii=False), file=out)
        elif not rows:
            print("no alerts", file=out)
        else:
            for row in rows:
                print(
                    f"{row['received_at']}  {row['incident_id']}  {row['status']:<12} "
                    f"{row['source']}  {row['dedup_key']}  {row['summary']}",
                    file=out,
                )
        return 0
    try:
        result = kit.alerts.ingest(_read(args.file), args.format)
    except PayloadInvalid as err:
        body = error_response(err)
        if args.json:
            print(json.dumps(body, indent=2, ensure_ascii=False), file=out)
        else:
            for line in body["errors"]:
                print(f"refused: {line}", file=out)
        return 2
    if args.json:
        payload = {
            **result.response(),
            "http_status": result.http_status,
            "format": result.format,
            "truncated": result.truncated,
            "alerts": [
                {"dedup_key": o.dedup_key, "action": o.action, "incident_id": o.incident_id}
                for o in result.outcomes
            ],
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
    else:
        for outcome in result.outcomes:
            where = f" -> {outcome.incident_id}" if outcome.incident_id else ""
            print(f"{outcome.dedup_key}: {outcome.action}{where}", file=out)
    return 0
