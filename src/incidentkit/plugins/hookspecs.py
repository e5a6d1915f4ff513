# mypy: disable-error-code="empty-body"
"""The hooks incidentkit calls. Implement them with :data:`incidentkit.hookimpl`.

Every hook is named ``incidentkit_…``. Registration hooks
(:func:`incidentkit_notifiers`, :func:`incidentkit_mitigation_actions`) return
typed records; the kit collects them and refuses duplicate names. Delivery to
notifiers and observers never relies on one broadcast ``pm.hook`` call: each
plugin gets its own outbox row, retried on its own.

Every hook is called through pluggy, so an implementation may be a wrapper
(``@hookimpl(wrapper=True)``, a generator that yields once and returns the
result) and may ask for ``tryfirst`` or ``trylast``. A function marked
``@hookimpl`` whose name is not one of these hooks is refused when the plugin
is registered (unless marked ``optionalhook=True``), and so is a function
named ``incidentkit_…`` without the marker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pluggy

from incidentkit.plugins._markers import PROJECT_NAME

if TYPE_CHECKING:
    from incidentkit.events import RecordedEvent
    from incidentkit.incident import Incident
    from incidentkit.intake.model import AdapterSpec
    from incidentkit.mitigation import MitigationAction
    from incidentkit.notify import NotifierSpec
    from incidentkit.review.trackers import ActionItemTracker
    from incidentkit.store import Store

__all__ = ["hookspec"]

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def incidentkit_configure(settings: Mapping[str, object]) -> None:
    """Receive the settings the host gave this plugin by its name.

    Receives ``settings``: the read-only mapping the host passed for this
    plugin's name, as in ``PluginManager(settings={"slack": {"token": ...}})``.
    Called once, on this plugin alone, after every plugin is registered and
    before any other hook. Returns nothing; raise (``ValidationError`` naming
    the setting, or any exception) to refuse bad settings, and the error names
    the plugin. A plugin that is given settings must implement this hook.
    """


@hookspec(firstresult=True)
def incidentkit_store(url: str) -> Store | None:
    """Open a store for ``url``, or return ``None`` when the scheme is not yours.

    Receives the URL given to :meth:`IncidentKit.open` (``sqlite:///x.db``,
    ``postgresql://…``, ``memory://``). Returns an unmigrated :class:`Store`;
    the kit calls ``migrate()``. First non-None result wins; built-in stores are
    asked last, so a plugin may take over a built-in scheme.
    """


@hookspec
def incidentkit_notifiers() -> Sequence[NotifierSpec]:
    """Return the notifiers this plugin provides.

    Receives nothing. Returns a sequence of :class:`NotifierSpec`; every
    result from every plugin is collected, and two notifiers with the same
    name are refused naming both plugins.
    """


@hookspec
def incidentkit_mitigation_actions() -> Sequence[MitigationAction]:
    """Return the mitigation actions this plugin provides.

    Receives nothing. Returns a sequence of :class:`MitigationAction`; all
    results are collected; duplicate names are refused naming both plugins.
    """


@hookspec
def incidentkit_alert_adapters() -> Sequence[AdapterSpec]:
    """Return the alert adapters this plugin provides (Datadog, CloudWatch …).

    Receives nothing. Returns a sequence of
    :class:`~incidentkit.intake.AdapterSpec` (a name, ``parse(payload, now)``
    raising :class:`~incidentkit.errors.PayloadInvalid` with every problem by
    key path, and ``detect(payload)``); every result from every plugin is
    collected, and two adapters with the same name are refused naming both
    plugins. ``kit.alerts.ingest(payload, format=name)`` uses one by name;
    auto-detection asks plugins' adapters after the built-in ones for
    Alertmanager, Grafana and PagerDuty, and before the generic JSON one.
    """


@hookspec
def incidentkit_action_item_trackers() -> Sequence[ActionItemTracker]:
    """Return the action-item trackers this plugin provides (Jira, Linear, GitHub …).

    Receives nothing. Returns a sequence of
    :class:`~incidentkit.review.trackers.ActionItemTracker`; all results are
    collected; duplicate names are refused naming both plugins. The review
    capability exports action items to the one the policy's ``[review]
    tracker`` names (or the only one registered) through the outbox.
    """


@hookspec
def incidentkit_event_recorded(incident: Incident, record: RecordedEvent) -> None:
    """Observe an event after it was committed.

    Receives the incident state right after the event and the recorded
    event. Returns nothing. Called from ``kit.deliver()`` through the outbox,
    once per plugin with retries, so an observer may see an event more than
    once (use ``record.key`` to deduplicate) but never misses one.
    """


@hookspec(firstresult=True)
def incidentkit_open_channel(incident: Incident) -> str | None:
    """Create the incident's chat channel and return a reference to it.

    Receives the newly declared incident (its ``channel`` holds the suggested
    name ``#incident-YYYY-MM-DD-slug``). Returns the channel reference (a name,
    id or URL), which is recorded on the timeline. First non-None result wins.
    """


@hookspec
def incidentkit_authorize(actor: str, action: str, incident: Incident | None) -> str | None:
    """Veto a command: return a reason to refuse it, or ``None`` to allow.

    Receives the actor, the command name (``"declare"``, ``"resolve"``,
    ``"assign_role"`` …) and the incident (``None`` for ``declare`` and for
    commands of no incident, such as ``status_schedule_maintenance``). Runs after
    the built-in incident-commander rule. Any non-None result refuses the
    command with :class:`PermissionDenied` carrying that reason and the name
    of the plugin that gave it. A wrapper (``wrapper=True``) receives the
    list of reasons from the others and returns a list: add a reason to veto,
    return it unchanged to pass. The hook may be called more than once per
    command (a command retried after a version conflict, a veto traced to its
    plugin by asking each alone), so keep it free of side effects.
    """
