"""The public status app: the status page, incident history, Statuspage JSON and an Atom feed.

Read-only and unauthenticated by design (expose it alone, e.g. on
``status.example.com``). Every document is rendered by :mod:`incidentkit.status`
(``kit.status``); this module adds HTTP: strong ``ETag`` s, ``If-None-Match``
→ 304 and ``Cache-Control``.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from incidentkit.errors import IncidentKitError, NotFound, ValidationError
from incidentkit.ids import check_incident_id
from incidentkit.status.maintenance import Maintenance
from incidentkit.status.model import ComponentStatus
from incidentkit.status.render import incident_json

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = ["DOCUMENTS", "Maintenances", "public_app"]

DOCUMENTS = (
    "summary",
    "status",
    "components",
    "incidents",
    "incidents/unresolved",
    "scheduled-maintenances",
    "scheduled-maintenances/upcoming",
    "scheduled-maintenances/active",
)
"""The Statuspage documents served under ``/api/v2/<document>.json``."""

Maintenances = Callable[[], Sequence[Maintenance]]
"""Returns scheduled maintenances of the host's own, shown beside the stored ones."""

_WORDS = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
    ComponentStatus.MAJOR_OUTAGE: "Major outage",
    ComponentStatus.UNDER_MAINTENANCE: "Under maintenance",
}

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'self'; form-action 'none'"
)

ATOM = "http://www.w3.org/2005/Atom"


def etag_of(body: bytes) -> str:
    """A strong entity tag for ``body`` (its SHA-256, shortened)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header matches ``etag`` (weak comparison, RFC 9110)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def _no_data() -> Sequence[Maintenance]:
    return ()


class _Public:
    def __init__(
        self,
        kit: IncidentKit,
        page: str | None,
        maintenances: Maintenances,
        max_age: int,
        bar_days: int,
    ) -> None:
        self.kit = kit
        self.page = kit.status.config.page(page)
        self.maintenances = maintenances
        self.max_age = max_age
        self.bar_days = bar_days
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("incidentkit.web", "templates"),
            autoescape=jinja2.select_autoescape(["html", "svg"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = self.when
        self.env.filters["words"] = lambda status: _WORDS[ComponentStatus(status)]

    # --- plumbing ---------------------------------------------------------------

    def when(self, value: str | None) -> str:
        if not value:
            return "—"
        moment = datetime.fromisoformat(value).astimezone(self.page.zone)
        return f"{moment:%b %d, %Y %H:%M} {moment:%Z}"

    def cached(self, request: Request, body: bytes, media_type: str) -> Response:
        etag = etag_of(body)
        headers = {
            "ETag": etag,
            "Cache-Control": f"public, max-age={self.max_age}",
            "X-Content-Type-Options": "nosniff",
        }
        if media_type.startswith("text/html"):
            headers["Content-Security-Policy"] = _CSP
        if not_modified(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    def document(self, name: str) -> dict[str, Any]:
        return self.kit.status.json(name, self.page.id, maintenances=tuple(self.maintenances()))

    def html(self, request: Request, template: str, **context: Any) -> str:
        root = request.scope.get("root_path", "").rstrip("/")
        return self.env.get_template(template).render(root=root, page=self.page, **context)

    # --- routes -----------------------------------------------------------------

    async def api(self, request: Request) -> Response:
        name = request.path_params["document"]
        if name not in DOCUMENTS:
            raise NotFound("document", f"{name}.json", [f"{d}.json" for d in DOCUMENTS])
        doc = await run_in_threadpool(self.document, name)
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        return self.cached(request, body, "application/json")

    def _home(self) -> dict[str, Any]:
        summary = self.document("summary")
        rows = summary["components"]
        groups = [r for r in rows if r["group"]]
        members = {cid for g in groups for cid in g["components"]}
        shown = {
            r["id"]: r
            for r in rows
            if not r["group"] and not (r["only_show_if_degraded"] and r["status"] == "operational")
        }
        bars: dict[str, list[Any]] = {}
        uptime: dict[str, float | None] = {}
        for component in self.kit.status.config.components:
            if component.id in shown and component.uptime:
                bars[component.id] = list(self.kit.status.bars(component.id, days=self.bar_days))
                uptime[component.id] = self.kit.status.uptime(
                    component.id, window=f"{self.bar_days}d"
                ).percent
        sections = [
            (g, [shown[c] for c in g["components"] if c in shown])
            for g in groups
            if any(c in shown for c in g["components"])
        ]
        loose = [r for cid, r in shown.items() if cid not in members]
        return {
            "summary": summary,
            "status": summary["status"],
            "sections": sections,
            "loose": loose,
            "bars": bars,
            "uptime": uptime,
            "bar_days": self.bar_days,
        }

    async def home(self, request: Request) -> Response:
        context = await run_in_threadpool(self._home)
        body = self.html(request, "public/status.html", **context).encode()
        return self.cached(request, body, "text/html; charset=utf-8")

    async def history(self, request: Request) -> Response:
        doc = await run_in_threadpool(self.document, "incidents")
        body = self.html(request, "public/history.html", incidents=doc["incidents"]).encode()
        return self.cached(request, body, "text/html; charset=utf-8")

    def _incident(self, incident_id: str) -> dict[str, Any]:
        state = self.kit.get(incident_id)
        row = incident_json(state, self.page, self.kit.status.components(self.page.id))
        if row is None:  # never on this page: as good as unknown to the public
            raise NotFound("incident", incident_id)
        return row

    async def incident(self, request: Request) -> Response:
        incident_id = check_incident_id(request.path_params["incident_id"])
        row = await run_in_threadpool(self._incident, incident_id)
        body = self.html(request, "public/incident.html", incident=row).encode()
        return self.cached(request, body, "text/html; charset=utf-8")

    async def feed(self, request: Request) -> Response:
        doc = await run_in_threadpool(self.document, "incidents")
        root = request.scope.get("root_path", "").rstrip("/")
        base = f"{request.url.scheme}://{request.url.netloc}{root}"
        body = atom_feed(doc, base, self.page.name)
        return self.cached(request, body, "application/atom+xml")

    async def on_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, IncidentKitError)
        code = 404 if isinstance(exc, NotFound) else 400
        if "/api/" in request.url.path:
            body = json.dumps({"error": str(exc)}).encode()
            return Response(body, status_code=code, media_type="application/json")
        page = self.html(request, "public/error.html", code=code, message=str(exc))
        return Response(
            page,
            status_code=code,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-store"},
        )


def atom_feed(incidents_doc: dict[str, Any], base: str, title: str) -> bytes:
    """An Atom feed (RFC 4287) of every update of an ``incidents.json`` document, newest first."""
    ET.register_namespace("", ATOM)
    page = incidents_doc["page"]

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    root = ET.Element(f"{{{ATOM}}}feed")
    sub(root, "title", f"{title} — incident updates")
    sub(root, "id", f"urn:incidentkit:status:{page['id']}")
    sub(root, "updated", page["updated_at"])
    sub(root, "link", href=f"{base}/", rel="alternate", type="text/html")
    sub(root, "link", href=f"{base}/feed.atom", rel="self", type="application/atom+xml")
    entries = [
        (update, incident)
        for incident in incidents_doc["incidents"]
        for update in incident["incident_updates"]
    ]
    entries.sort(key=lambda e: (e[0]["created_at"], e[0]["id"]), reverse=True)
    for update, incident in entries:
        entry = sub(root, "entry")
        sub(entry, "id", f"urn:incidentkit:update:{incident['id']}:{update['id']}")
        sub(entry, "title", f"{incident['name']}: {update['status'].capitalize()}")
        sub(entry, "updated", update["created_at"])
        sub(entry, "link", href=f"{base}/incidents/{incident['id']}", rel="alternate")
        author = sub(entry, "author")
        sub(author, "name", page["name"])
        sub(entry, "content", update["body"], type="text")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def public_app(
    kit: IncidentKit,
    *,
    page: str | None = None,
    maintenances: Maintenances | None = None,
    max_age: int = 30,
    bar_days: int = 90,
    debug: bool = False,
) -> Starlette:
    """The public status page of ``page`` (default: the first ``[[status.pages]]``) as an ASGI app.

    It has no authentication and no forms: expose it alone or mount it
    next to the dashboard. Routes: ``/`` (page status, components by group,
    active incidents with their updates, ``bar_days`` uptime bars), ``/history``,
    ``/incidents/{id}``, ``/feed.atom`` and the Statuspage documents
    ``/api/v2/<name>.json`` (:data:`DOCUMENTS`), each with a strong ``ETag``,
    304 on ``If-None-Match`` and ``Cache-Control: public, max-age=<max_age>``.

    The page, ``summary.json`` and the ``scheduled-maintenances`` documents
    show the maintenances stored through ``kit.status.maintenances``.

    :param maintenances: returns more scheduled maintenances of the host's
        own (:class:`~incidentkit.status.maintenance.Maintenance`; one of them
        replaces a stored one of the same id); by default there are none.
    :raises ValidationError: naming ``maintenances``, ``max_age`` or ``bar_days``.
    :raises NotFound: ``page`` is not a configured status page.
    """
    if maintenances is not None and not callable(maintenances):
        raise ValidationError("maintenances", "expected a callable returning maintenances")
    for name, value, low, high in (("max_age", max_age, 0, 86_400), ("bar_days", bar_days, 1, 365)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(name, "expected an int")
        if not low <= value <= high:
            raise ValidationError(name, f"must be between {low} and {high}")
    public = _Public(kit, page, maintenances or _no_data, max_age, bar_days)
    static = StaticFiles(packages=[("incidentkit.web", "static")])
    routes: list[BaseRoute] = [
        Route("/", public.home, name="status"),
        Route("/history", public.history, name="history"),
        Route("/incidents/{incident_id}", public.incident, name="incident"),
        Route("/feed.atom", public.feed, name="feed"),
        Route("/api/v2/{document:path}.json", public.api, name="api"),
        Mount("/static", app=static, name="static"),
    ]
    web = Starlette(
        debug=debug, routes=routes, exception_handlers={IncidentKitError: public.on_error}
    )
    web.state.kit = kit
    return web
