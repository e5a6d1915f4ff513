"""``incidentkit serve``: the dashboard on uvicorn, with tick()/deliver() in the same process.

Wired into the main CLI by :mod:`incidentkit.cli`. This module imports
neither Starlette nor uvicorn at import time, so the core CLI stays light.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import threading
from typing import TYPE_CHECKING, Any, TextIO

from incidentkit import _validate as validate
from incidentkit.errors import MissingExtra, ValidationError
from incidentkit.serialization import parse_duration

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = [
    "ALERTS_HMAC_ENV",
    "ALERTS_SECRET_ENV",
    "SLACK_SECRET_ENV",
    "add_serve_parser",
    "run_serve",
    "served_app",
]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)

SLACK_SECRET_ENV = "INCIDENTKIT_SLACK_SIGNING_SECRET"
"""Environment variable holding the Slack signing secret (enables ``/slack/commands``)."""

ALERTS_SECRET_ENV = "INCIDENTKIT_ALERTS_SECRET"
"""Environment variable: the shared secret the alert receivers require (``Bearer``)."""

ALERTS_HMAC_ENV = "INCIDENTKIT_ALERTS_HMAC_KEY"
"""Environment variable: the HMAC-SHA256 key the alert receivers require."""


def served_app(kit: IncidentKit) -> Any:
    """What ``incidentkit serve`` runs: the dashboard at ``/``, the public status
    page at ``/status``, the alert receivers at ``/alerts`` (secrets from the
    environment: :data:`SLACK_SECRET_ENV`, :data:`ALERTS_SECRET_ENV`,
    :data:`ALERTS_HMAC_ENV`)."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from incidentkit.web._alerts import alerts_app
    from incidentkit.web._app import allow_all, app
    from incidentkit.web._public import public_app

    dashboard = app(
        kit, authorize=allow_all, slack_signing_secret=os.environ.get(SLACK_SECRET_ENV) or None
    )
    alerts = alerts_app(
        kit,
        secret=os.environ.get(ALERTS_SECRET_ENV) or None,
        hmac_key=os.environ.get(ALERTS_HMAC_ENV) or None,
    )
    return Starlette(
        routes=[
            Mount("/status", app=public_app(kit)),
            Mount("/alerts", app=alerts),
            Mount("", app=dashboard),
        ]
    )


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the web dashboard (uvicorn) with tick/deliver until SIGTERM"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--root-path", default="", help="mount prefix behind a proxy, e.g. /ik")
    parser.add_argument(
        "--interval", default="30s", help="time between tick/deliver passes (default 30s)"
    )
    parser.add_argument(
        "--no-timers", action="store_true", help="do not run tick()/deliver() in this process"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="bind a non-loopback address (the standalone server has no authentication)",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    return parser


def _check(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise ValidationError("--port", f"{args.port} is not a port (0 to 65535)")
    if args.root_path and (not args.root_path.startswith("/") or args.root_path.endswith("/")):
        raise ValidationError("--root-path", "must start with '/' and not end with one")
    try:
        loopback = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        raise ValidationError("--host", f"{args.host!r} is not an IP address") from None
    if not loopback and not args.allow_remote:
        raise ValidationError(
            "--host",
            f"{args.host} is reachable from other machines and the standalone server "
            "authorizes everyone; mount incidentkit.web.app in your own app with your "
            "authentication, or pass --allow-remote",
        )


def run_serve(args: argparse.Namespace, kit: IncidentKit, out: TextIO) -> int:
    """Serve until SIGTERM/SIGINT; the timer thread finishes its pass and stops."""
    _check(args)
    interval = parse_duration(args.interval, "--interval")
    validate.duration_in(interval, "--interval", validate.MIN_INTERVAL, validate.MAX_INTERVAL)
    try:
        import uvicorn
    except ImportError as err:
        raise MissingExtra("uvicorn", "serve", "incidentkit serve") from err
    web = served_app(kit)
    config = uvicorn.Config(
        web,
        host=args.host,
        port=args.port,
        root_path=args.root_path,
        log_level=args.log_level,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    stop = threading.Event()
    timers: threading.Thread | None = None
    if not args.no_timers:
        timers = threading.Thread(
            target=kit.run_forever, args=(interval,), kwargs={"stop": stop}, daemon=True
        )
        timers.start()
    print(
        f"incidentkit serve: http://{args.host}:{args.port}/ (links under {args.root_path or '/'}) "
        f"on {kit.store.url} (timers {'off' if timers is None else 'every ' + args.interval})",
        file=out,
        flush=True,
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then restores the
    # handlers it found and raises the signal again: these handlers turn that
    # second delivery into a clean return (the timer thread ends its pass).
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _SIGNALS}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop.set()
        if timers is not None:
            timers.join(timeout=interval.total_seconds() + 30)
    print("incidentkit serve: stopped", file=out, flush=True)
    return 0
