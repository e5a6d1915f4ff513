"""What :class:`~incidentkit.kit.IncidentKit` delegates: wiring, declaration, delivery, lookups.

The facade stays a list of public methods; the plumbing behind them lives
here, next to the engine it drives.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial

from incidentkit._delivery import DeliveryReport, deliver
from incidentkit.clock import Clock
from incidentkit.engine._engine import Engine
from incidentkit.errors import NotFound, ValidationError
from incidentkit.events import Event, Source
from incidentkit.ids import check_incident_id
from incidentkit.incident import Incident, actor, decide_declare
from incidentkit.intake.section import Alerts
from incidentkit.integrations import build_integrations
from incidentkit.metrics import DRILL_PREFIX, is_drill
from incidentkit.plugins.manager import PluginManager
from incidentkit.policy import Policy
from incidentkit.runbooks import Runbooks, declaration_alert
from incidentkit.severity import Severity, Signals
from incidentkit.store import IncidentSummary, Store

__all__ = [
    "attach_sections",
    "declare_incident",
    "deliver_due",
    "new_incident_id",
    "plugin_manager_for",
    "plugins_for",
    "stored_summary",
]


def new_incident_id(now: datetime) -> str:
    """``INC-YYYYMMDD-XXXXXX``: the declaration date and six random hex digits."""
    return f"INC-{now:%Y%m%d}-{secrets.token_hex(3).upper()}"


def _configured(
    policy: Policy | None,
    clock: Clock | None,
    plugins: Sequence[object],
    settings: Mapping[str, Mapping[str, object]] | None,
) -> tuple[Sequence[object], Mapping[str, Mapping[str, object]] | None]:
    """The policy's ``[notifiers]``/``[actions]`` tables before the host's plugins and settings."""
    if policy is None or not (policy.notifiers or policy.actions):
        return plugins, settings
    wired, wired_settings = build_integrations(
        policy.notifiers, policy.actions, clock=clock, zone=policy.zone
    )
    return (*wired, *plugins), {**wired_settings, **(settings or {})}


def plugin_manager_for(
    policy: Policy | None,
    clock: Clock | None,
    plugins: Sequence[object],
    *,
    autoload: bool | None,
    strict: bool,
    settings: Mapping[str, Mapping[str, object]] | None,
) -> PluginManager:
    """A plugin manager with the policy's integrations, then the host's plugins and settings."""
    plugins, settings = _configured(policy, clock, plugins, settings)
    return PluginManager(plugins, autoload=autoload, strict=strict, settings=settings)


def plugins_for(
    manager: PluginManager | None,
    policy: Policy | None,
    clock: Clock | None,
    plugins: Sequence[object],
    autoload: bool | None,
    strict: bool,
    settings: Mapping[str, Mapping[str, object]] | None,
) -> PluginManager:
    """``manager`` with ``plugins`` registered, or a new one (:func:`plugin_manager_for`).

    Malformed notifiers and actions are refused now, naming the plugin, rather
    than at the first declare (when a SEV1 is already under way).

    :raises ValidationError: (``plugin_settings``) settings given with a manager.
    """
    if manager is None:
        manager = plugin_manager_for(
            policy, clock, plugins, autoload=autoload, strict=strict, settings=settings
        )
    else:
        if settings is not None:
            raise ValidationError(
                "plugin_settings", "give settings to the PluginManager you pass in"
            )
        for plugin in plugins:
            manager.register(plugin)
    manager.notifiers()
    manager.mitigation_actions()
    return manager


def attach_sections(facade: object, engine: Engine) -> dict[str, object]:
    """Build each capability's section and set it on ``facade`` under the capability's name.

    Declared alerts get matching runbooks when both the intake and the runbook
    capability are registered.

    :raises ValidationError: (``capability``) a name would hide an attribute of the facade.
    """
    sections: dict[str, object] = {}
    for capability in engine.capabilities.values():
        if capability.section is None:
            continue
        if hasattr(type(facade), capability.name):
            raise ValidationError(
                "capability", f"{capability.name!r} would hide IncidentKit.{capability.name}"
            )
        section = capability.section(engine)
        sections[capability.name] = section
        engine.sections[capability.name] = section
        setattr(facade, capability.name, section)
    alerts, runbooks = sections.get("alerts"), sections.get("runbooks")
    if isinstance(alerts, Alerts) and runbooks is not None:
        alerts.use_runbooks(runbooks)  # declared alerts get matching runbooks
    return sections


def declare_incident(
    engine: Engine,
    runbooks: Runbooks,
    id_factory: Callable[[datetime], str],
    *,
    title: str,
    severity: Severity | str | None,
    by: str,
    source: Source,
    started_at: datetime | None,
    detected_at: datetime | None,
    services: Sequence[str],
    description: str,
    signals: Signals | None,
    incident_id: str | None,
    idempotency_key: str | None,
    labels: Mapping[str, str] | None,
    annotations: Mapping[str, str] | None,
    drill: bool = False,
) -> Incident:
    """Classify, decide with :func:`~incidentkit.incident.decide_declare`, append, auto-attach.

    See :meth:`IncidentKit.declare <incidentkit.kit.IncidentKit.declare>`.
    """
    policy = engine.policy
    actor(by)
    alert = declaration_alert(
        title=title,
        description=description,
        services=services,
        signals=signals,
        labels=labels,
        annotations=annotations,
    )
    if severity is None:
        if signals is None:
            raise ValidationError("severity", "give a severity or signals to classify")
        result = policy.severity.classify(signals)
        chosen, reasons = result.severity, result.reasons
    else:
        chosen, reasons = Severity.parse(severity), ()

    def decide(new_id: str, now: datetime) -> list[Event]:
        return decide_declare(
            policy,
            now,
            incident_id=new_id,
            title=title,
            severity=chosen,
            by=actor(by),
            source=source,
            started_at=started_at,
            detected_at=detected_at,
            services=services,
            description=description,
            reasons=reasons,
        )

    if incident_id is not None:
        chosen_id = check_incident_id(incident_id)
        if not drill and is_drill(chosen_id):
            raise ValidationError(
                "incident_id",
                f"ids starting {DRILL_PREFIX} are drills' (metrics leave them out); "
                "run a drill with kit.people.drill",
            )
        state = engine.create(
            chosen_id, by, partial(decide, chosen_id), idempotency_key=idempotency_key
        ).state
    else:
        state = engine.create_new(
            lambda: check_incident_id(id_factory(engine.now())),
            by,
            decide,
            idempotency_key=idempotency_key,
        ).state
    if not policy.runbooks.auto_attach:
        return state
    return runbooks.declared(state.id, alert, by=by, idempotency_key=idempotency_key)


def deliver_due(
    engine: Engine, *, limit: int, lease: timedelta, worker: str | None
) -> DeliveryReport:
    """One delivery pass at the engine's now, as this kit's worker unless ``worker`` is given."""
    return deliver(
        engine,
        now=engine.now(),
        limit=limit,
        lease=lease,
        worker=worker or engine.worker,
        rng=engine.rng,
    )


def stored_summary(store: Store, incident_id: str) -> IncidentSummary:
    """The stored summary of one incident.

    :raises NotFound: the store holds no summary for ``incident_id``.
    """
    found = store.summary(check_incident_id(incident_id))
    if found is None:
        raise NotFound("incident", incident_id)
    return found
