"""The dashboard app: routes, authorization, CSRF, and the form → command mapping."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from incidentkit import chatops
from incidentkit.checkpoint import timeline_and_check
from incidentkit.errors import (
    ConcurrencyConflict,
    DuplicateCommand,
    GuardFailed,
    IncidentKitError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    SignatureInvalid,
    ValidationError,
)
from incidentkit.events import PublicStatus
from incidentkit.ids import check_incident_id
from incidentkit.lifecycle import Status
from incidentkit.metrics import Metric, compute
from incidentkit.roles import Role
from incidentkit.runbooks.capability import attachments
from incidentkit.severity import Severity
from incidentkit.web import _charts
from incidentkit.web.slack import blocks_for, verify_slack_signature

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = ["ACTIONS", "COMMAND_ACTIONS", "READ", "Actor", "Authorize", "allow_all", "app"]

READ = "read"
"""The action every page (and the live-refresh endpoint) asks for."""

COMMAND_ACTIONS = (
    "declare",
    "acknowledge",
    "assign_role",
    "add_note",
    "post_update",
    "check",
    "resolve",
)
"""The commands the dashboard's forms run, named as ``incidentkit_authorize`` sees them."""

ACTIONS = (READ, *COMMAND_ACTIONS, "chatops")
"""Every action ``authorize`` may be asked about (``chatops``: a Slack slash command)."""

Authorize = Callable[[Request, str], bool | Awaitable[bool]]
"""``authorize(request, action) -> bool`` (or an awaitable of it)."""

Actor = Callable[[Request], str | None]
"""Who the request is (``None``: take the form's ``by`` field)."""

CSRF_COOKIE = "incidentkit_csrf"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 64 * 1024


def allow_all(request: Request, action: str) -> bool:
    """An ``authorize`` that allows everything: for ``incidentkit serve`` on 127.0.0.1 and tests."""
    return True


def _default_actor(request: Request) -> str | None:
    user = request.scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        name = getattr(user, "display_name", "") or getattr(user, "identity", "")
        return str(name) or None
    return None


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


_STATUS_OF: tuple[tuple[type[IncidentKitError], int], ...] = (
    (NotFound, 404),
    (PermissionDenied, 403),
    (SignatureInvalid, 401),
    (ValidationError, 400),
    (InvalidTransition, 409),
    (GuardFailed, 409),
    (ConcurrencyConflict, 409),
    (DuplicateCommand, 409),
)


def _http_status(err: IncidentKitError) -> int:
    for kind, status in _STATUS_OF:
        if isinstance(err, kind):
            return status
    return 500


def _parse_date(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, f"{value[:40]!r} is not a date (YYYY-MM-DD)") from None
    return datetime.combine(day, time(), tzinfo=UTC)


def _parse_instant(value: str, field: str) -> datetime:
    """``YYYY-MM-DDTHH:MM[:SS][+HH:MM]``; without an offset, UTC (the form's ``datetime-local``)."""
    try:
        moment = datetime.fromisoformat(value[:40])
    except ValueError:
        raise ValidationError(
            field, f"{value[:40]!r} is not a date and time (YYYY-MM-DDTHH:MM, UTC)"
        ) from None
    if len(value) > 40:
        raise ValidationError(field, "longer than 40 characters")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _one_of(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise ValidationError(field, f"{value[:40]!r} is not one of {', '.join(allowed)}")
    return value


class _Dashboard:
    def __init__(
        self,
        kit: IncidentKit,
        authorize: Authorize,
        actor: Actor,
        slack_signing_secret: str | None,
        refresh_seconds: int,
    ) -> None:
        self.kit = kit
        self.authorize = authorize
        self.actor = actor
        self.slack_secret = slack_signing_secret
        self.refresh = refresh_seconds
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("incidentkit.web", "templates"),
            autoescape=jinja2.select_autoescape(["html", "svg"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["duration"] = _charts.human_duration
        self.env.filters["when"] = _when

    # --- plumbing ---------------------------------------------------------------

    async def allowed(self, request: Request, action: str) -> None:
        verdict = self.authorize(request, action)
        if not isinstance(verdict, bool):
            verdict = await verdict
        if verdict is not True:
            raise _Refused(403, f"not allowed to {action.replace('_', ' ')}")

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        token = request.cookies.get(CSRF_COOKIE) or ""
        fresh = not _valid_token(token)
        if fresh:
            token = secrets.token_urlsafe(32)
        page = self.env.get_template(template).render(
            root=root,
            csrf=token,
            command_id=secrets.token_hex(12),
            needs_by=self.actor(request) is None,
            refresh=self.refresh,
            **context,
        )
        response = HTMLResponse(page, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'self'; form-action 'self'"
        )
        if fresh:
            response.set_cookie(
                CSRF_COOKIE, token, path=root or "/", httponly=True, samesite="strict"
            )
        return response

    async def form(self, request: Request) -> FormData:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
            raise _Refused(413, "form too large")
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise _Refused(415, "expected a form (application/x-www-form-urlencoded)")
        try:
            form = await request.form(max_files=0, max_fields=50)
        except Exception as err:  # multipart errors are not typed by Starlette
            raise _Refused(400, f"malformed form: {type(err).__name__}") from None
        cookie = request.cookies.get(CSRF_COOKIE, "")
        sent = form.get(CSRF_FIELD)
        if (
            not isinstance(sent, str)
            or not _valid_token(cookie)
            or not secrets.compare_digest(cookie.encode(), sent.encode("utf-8", "replace"))
        ):
            raise _Refused(403, "CSRF check failed: reload the page and try again")
        return form

    def who(self, request: Request, form: FormData) -> str:
        name = self.actor(request)
        if name:
            return name
        return _field(form, "by", required=True)

    # --- pages ------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        await self.allowed(request, READ)
        q = request.query_params
        status = q.get("status", "")
        severity = q.get("severity", "")
        service = q.get("service", "").strip()
        search = q.get("q", "").strip()
        since = _parse_date(q.get("since", ""), "since")
        until = _parse_date(q.get("until", ""), "until")
        if until is not None:
            until += timedelta(days=1)
        if since is not None and until is not None and since >= until:
            raise ValidationError("since", "is after until")
        statuses = [s.value for s in Status]
        if status:
            _one_of(status, [*statuses, "open"], "status")
        if severity:
            severity = Severity.parse(severity).value
        summaries = await run_in_threadpool(
            self.kit.incidents,
            status=Status(status) if status and status != "open" else None,
            open_only=status == "open",
            severity=Severity(severity) if severity else None,
            service=service or None,
            since=since,
            until=until,
        )
        if search:
            needle = search.casefold()
            summaries = [
                s
                for s in summaries
                if needle in s.title.casefold() or needle in s.incident_id.casefold()
            ]
        summaries.sort(
            key=lambda s: s.declared_at or datetime.min.replace(tzinfo=UTC), reverse=True
        )
        return self.render(
            request,
            "index.html",
            incidents=summaries,
            filters={
                "status": status,
                "severity": severity,
                "service": service,
                "q": search,
                "since": q.get("since", ""),
                "until": q.get("until", ""),
            },
            statuses=statuses,
            severities=[s.value for s in Severity],
        )

    async def incident(self, request: Request, error: str = "", status: int = 200) -> Response:
        await self.allowed(request, READ)
        incident_id = check_incident_id(request.path_params["incident_id"])
        kit = self.kit
        state = await run_in_threadpool(kit.get, incident_id)
        # the timeline and its check from one read of the rows
        records, chain = await run_in_threadpool(timeline_and_check, kit.engine, incident_id)
        try:
            review = await run_in_threadpool(kit.reviews.get, incident_id)
        except NotFound:
            review = None
        checklists = []
        for template in state.templates:
            items = []
            for item in template.items:
                item_status = state.checklists.get(template.name, {}).get(item.key)
                items.append((item, item_status))
            checklists.append((template, items))
        updates = [r for r in records if r.event.tag == "update_posted"]
        mitigations = [r for r in records if r.event.tag.startswith("mitigation_")]
        return self.render(
            request,
            "incident.html",
            status=status,
            error=error,
            inc=state,
            records=records,
            chain=chain,
            review=review,
            checklists=checklists,
            updates=updates,
            mitigations=mitigations,
            runbooks=attachments(state),
            roles=[r.value for r in Role],
            public_statuses=[s.value for s in PublicStatus],
            blockers=kit.can_resolve(incident_id) if state.is_open else (),
        )

    async def version(self, request: Request) -> Response:
        await self.allowed(request, READ)
        incident_id = check_incident_id(request.path_params["incident_id"])
        summary = await run_in_threadpool(self.kit.summary, incident_id)
        return JSONResponse(
            {"incident_id": incident_id, "version": summary.version, "status": summary.status},
            headers={"Cache-Control": "no-store"},
        )

    async def oncall(self, request: Request) -> Response:
        await self.allowed(request, READ)
        now = self.kit.clock.now()
        rows = []
        for schedule in self.kit.policy.oncall.schedules:
            current = schedule.on_call(now)
            for layer in schedule.layer_names:
                holder = current.holder(layer)
                following = None
                if holder is not None:
                    following = schedule.on_call(holder.shift_end).holder(layer)
                rows.append((schedule.name, layer, holder, following))
        return self.render(request, "oncall.html", rows=rows, now=now)

    async def dry_run(self, request: Request) -> Response:
        """The escalation dry run: who a ``severity`` incident at ``at`` pages, minute by minute."""
        await self.allowed(request, READ)
        q = request.query_params
        severity = q.get("severity", "").strip()
        service = q.get("service", "").strip()
        at_text = q.get("at", "").strip()
        if len(service) > 200:
            raise ValidationError("service", "longer than 200 characters")
        at = _parse_instant(at_text, "at") if at_text else self.kit.clock.now()
        rows: list[tuple[int, Any]] = []
        if severity:
            pages = await run_in_threadpool(
                lambda: self.kit.people.who_would_be_paged(severity, at, service=service or None)
            )
            rows = [(int((p.at - at).total_seconds() // 60), p) for p in pages]
        return self.render(
            request,
            "dryrun.html",
            rows=rows,
            ran=bool(severity),
            at=at,
            form={"severity": severity, "service": service, "at": at_text},
            severities=[s.value for s in Severity],
        )

    async def metrics(self, request: Request) -> Response:
        await self.allowed(request, READ)
        summaries = await run_in_threadpool(self.kit.incidents)
        zone = self.kit.policy.zone
        by_month = compute(summaries, by="month", zone=zone)
        by_service = compute(summaries, by="service", zone=zone)
        months = [(g.key[0][1] or "(none)", g) for g in by_month.groups]
        mtta = _charts.grouped_bars(
            "MTTA by month (p50, p90)",
            [(m, (g[Metric.MTTA].p50, g[Metric.MTTA].p90)) for m, g in months],
            ("p50", "p90"),
        )
        mttr = _charts.grouped_bars(
            f"MTTR by month (p50, p90; from {by_month.basis.value})",
            [(m, (g[Metric.MTTR].p50, g[Metric.MTTR].p90)) for m, g in months],
            ("p50", "p90"),
        )
        mtbf = _charts.grouped_bars(
            "MTBF per service (mean)",
            [(g.key[0][1] or "(none)", (g[Metric.MTBF].mean,)) for g in by_service.groups],
            ("mean",),
        )
        return self.render(
            request,
            "metrics.html",
            charts=[mtta, mttr, mtbf],
            report=by_month,
            services=by_service,
        )

    # --- commands ---------------------------------------------------------------

    async def declare(self, request: Request) -> Response:
        await self.allowed(request, "declare")
        form = await self.form(request)
        by = self.who(request, form)
        services = [s.strip() for s in _field(form, "services").split(",") if s.strip()]
        state = await run_in_threadpool(
            lambda: self.kit.declare(
                _field(form, "title", required=True),
                severity=Severity.parse(_field(form, "severity", required=True)),
                by=by,
                services=services,
                description=_field(form, "description"),
                idempotency_key=_command_id(form),
            )
        )
        return self.redirect(request, f"/incidents/{state.id}")

    async def command(self, request: Request) -> Response:
        name = request.path_params["command"]
        if name not in _COMMANDS:
            raise NotFound("command", name, sorted(_COMMANDS))
        action, run = _COMMANDS[name]
        incident_id = check_incident_id(request.path_params["incident_id"])
        await self.allowed(request, action)
        form = await self.form(request)
        by = self.who(request, form)
        key = _command_id(form)
        try:
            await run_in_threadpool(run, self.kit, incident_id, form, by, key)
        except IncidentKitError as err:
            if isinstance(err, NotFound) and err.kind == "incident":
                raise  # no incident page to show the reason on: the error page
            return await self.incident(request, error=str(err), status=_http_status(err))
        return self.redirect(request, f"/incidents/{incident_id}")

    def redirect(self, request: Request, path: str) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(root + path, status_code=303)

    async def slack(self, request: Request) -> Response:
        if not self.slack_secret:
            raise NotFound("endpoint", "slack", [])
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise _Refused(413, "body too large")
        verify_slack_signature(
            self.slack_secret,
            timestamp=request.headers.get("x-slack-request-timestamp"),
            signature=request.headers.get("x-slack-signature"),
            body=body,
            now=self.kit.clock.now(),
        )
        await self.allowed(request, "chatops")
        fields = _slack_fields(body)
        user = fields.get("user_name") or fields.get("user_id") or ""
        if not user:
            raise ValidationError("user_name", "missing")
        try:
            command = chatops.parse(fields.get("text", ""))
        except ValidationError as err:
            reply = chatops.Reply(
                chatops.ReplyStyle.ERROR, str(err), chatops.help_text(), public=False
            )
            return JSONResponse(blocks_for(reply))
        channel_incident = await run_in_threadpool(
            self._incident_of_channel, fields.get("channel_name", "")
        )
        reply = await run_in_threadpool(
            lambda: chatops.execute(
                self.kit,
                command,
                by=user,
                incident_id=channel_incident,
                idempotency_key=fields.get("trigger_id") or None,
            )
        )
        return JSONResponse(blocks_for(reply))

    def _incident_of_channel(self, channel: str) -> str | None:
        if not channel:
            return None
        wanted = "#" + channel.lstrip("#")
        for summary in self.kit.incidents(open_only=True):
            if self.kit.get(summary.incident_id).channel == wanted:
                return summary.incident_id
        return None

    # --- errors -----------------------------------------------------------------

    async def on_error(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, _Refused):
            status, message = exc.status, exc.message
        elif isinstance(exc, IncidentKitError):
            status, message = _http_status(exc), str(exc)
        else:  # pragma: no cover - registered only for the two kinds above
            raise exc
        if request.url.path.endswith((".json", "/version")) or "slack" in request.url.path:
            return JSONResponse({"error": message}, status_code=status)
        return self.render(request, "error.html", status=status, message=message, code=status)


def _valid_token(token: str) -> bool:
    return 30 <= len(token) <= 64 and all(ch.isalnum() or ch in "-_" for ch in token)


def _slack_fields(body: bytes) -> dict[str, str]:
    from urllib.parse import parse_qs

    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as err:
        raise ValidationError("body", f"not a form: {err}") from None
    return {key: values[0] for key, values in parsed.items()}


def _field(form: FormData, name: str, *, required: bool = False) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise ValidationError(name, "expected text, not a file")
    value = value.strip()
    if required and not value:
        raise ValidationError(name, "is required")
    if len(value) > 10_000:
        raise ValidationError(name, "longer than 10000 characters")
    return value


def _command_id(form: FormData) -> str | None:
    value = form.get("command_id", "")
    if not isinstance(value, str) or not value:
        return None
    if len(value) > 64 or not value.isalnum():
        raise ValidationError("command_id", "expected up to 64 letters and digits")
    return f"web:{value}"


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_Run = Callable[["IncidentKit", str, FormData, str, str | None], object]


def _ack(kit: IncidentKit, iid: str, form: FormData, by: str, key: str | None) -> object:
    return kit.acknowledge(iid, by=by, idempotency_key=key)


def _assign(kit: IncidentKit, iid: str, form: FormData, by: str, key: str | None) -> object:
    return kit.assign_role(
        iid,
        _field(form, "role", required=True),
        _field(form, "person", required=True),
        by=by,
        idempotency_key=key,
    )


def _note(kit: IncidentKit, iid: str, form: FormData, by: str, key: str | None) -> object:
    return kit.add_note(iid, _field(form, "text", required=True), by=by, idempotency_key=key)


def _update(kit: IncidentKit, iid: str, form: FormData, by: str, key: str | None) -> object:
    status = _one_of(
        _field(form, "status", required=True), [s.value for s in PublicStatus], "status"
    )
    return kit.post_update(
        iid, status, _field(form, "message", required=True), by=by, idempotency_key=key
    )


def _check(kit: IncidentKit, iid: str, form: FormData, by: str, key: str | None) -> object:
    return kit.check(
        iid,
        _field(form, "checklist", required=True),
        _field(form, "item", required=True),
        by=by,
        idempotency_key=key,
    )


def _resolve(kit: IncidentKit, iid: str, form: FormData, by: str, key: str | None) -> object:
    return kit.resolve(iid, by=by, summary=_field(form, "summary"), idempotency_key=key)


_COMMANDS: Mapping[str, tuple[str, _Run]] = {
    "acknowledge": ("acknowledge", _ack),
    "assign": ("assign_role", _assign),
    "note": ("add_note", _note),
    "update": ("post_update", _update),
    "check": ("check", _check),
    "resolve": ("resolve", _resolve),
}


def app(
    kit: IncidentKit,
    *,
    authorize: Authorize,
    actor: Actor | None = None,
    slack_signing_secret: str | None = None,
    refresh_seconds: int = 10,
    debug: bool = False,
) -> Starlette:
    """The internal dashboard as an ASGI app (mount it under any prefix).

    :param authorize: ``authorize(request, action) -> bool`` (or awaitable);
        ``False`` answers 403. Asked with :data:`READ` for every page and
        with the command's name for every form (see :data:`ACTIONS`).
    :param actor: who the request is; by default the authenticated
        ``request.user`` (Starlette's ``AuthenticationMiddleware``), else the
        forms ask for a name (``by``).
    :param slack_signing_secret: enables ``POST /slack/commands`` (Slack
        slash commands, signature-verified).
    :param refresh_seconds: how often an open incident's page polls for changes.
    :raises ValidationError: naming ``authorize`` when it is not callable, or
        ``refresh_seconds`` when it is not a positive int.
    """
    if not callable(authorize):
        raise ValidationError("authorize", "expected a callable authorize(request, action)")
    if actor is not None and not callable(actor):
        raise ValidationError("actor", "expected a callable actor(request)")
    if isinstance(refresh_seconds, bool) or not isinstance(refresh_seconds, int):
        raise ValidationError("refresh_seconds", "expected an int")
    if refresh_seconds < 1:
        raise ValidationError("refresh_seconds", "must be at least 1")
    if slack_signing_secret is not None and not slack_signing_secret:
        raise ValidationError("slack_signing_secret", "is empty")
    board = _Dashboard(
        kit, authorize, actor or _default_actor, slack_signing_secret, refresh_seconds
    )
    static = StaticFiles(packages=[("incidentkit.web", "static")])
    routes: list[BaseRoute] = [
        Route("/", board.index, name="index"),
        Route("/incidents", board.declare, methods=["POST"], name="declare"),
        Route("/incidents/{incident_id}", board.incident, name="incident"),
        Route("/incidents/{incident_id}/version", board.version, name="version"),
        Route(
            "/incidents/{incident_id}/{command}", board.command, methods=["POST"], name="command"
        ),
        Route("/oncall", board.oncall, name="oncall"),
        Route("/oncall/dry-run", board.dry_run, name="dry_run"),
        Route("/metrics", board.metrics, name="metrics"),
        Route("/slack/commands", board.slack, methods=["POST"], name="slack"),
        Mount("/static", app=static, name="static"),
    ]
    handlers: dict[Any, Any] = {
        _Refused: board.on_error,
        IncidentKitError: board.on_error,
    }
    web = Starlette(debug=debug, routes=routes, exception_handlers=handlers)
    web.state.kit = kit
    return web
