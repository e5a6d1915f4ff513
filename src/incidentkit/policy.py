"""The policy bundle: every rule the kit applies, as data.

:meth:`Policy.default` reproduces the incident-response guide.
:func:`load_policy` reads a TOML file whose tables override the defaults
(a table overrides the same table of the default, key by key; a list
replaces the whole list, except ``[[severity.levels]]``, whose entries
override the default level of the same severity). A bad file is refused with
:class:`PolicyError` listing each key path and reason, before anything runs:

.. code-block:: toml

    [severity]
    default_severity = "SEV3"

    [[severity.rules]]
    severity = "SEV1"
    when = "error_rate > 0.5"
    reason = "half of all requests failing"

    [roles]
    custom = ["security-lead"]
    commander_only = true

    [phases]
    mitigate = "10m"

    [notifiers.team-slack]         # see incidentkit.integrations
    type = "slack"
    url_env = "SLACK_WEBHOOK_URL"

    [integrity]
    chain_key = "…at least 16 bytes of secret…"  # or $INCIDENTKIT_CHAIN_KEY
    require_key = false
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from incidentkit._validate import parse_toml
from incidentkit.business_days import BusinessDays
from incidentkit.checklists import DEFAULT_TEMPLATES, ChecklistTemplate
from incidentkit.errors import NotFound, PolicyError, ValidationError
from incidentkit.intake.config import AlertsConfig
from incidentkit.integrations import Integration, load_integrations
from incidentkit.lifecycle import Phase, PhaseTargets
from incidentkit.oncall.config import OnCallConfig, load_oncall
from incidentkit.people.config import PeopleConfig
from incidentkit.review.config import ReviewConfig
from incidentkit.roles import RolePolicy
from incidentkit.serialization import converter, structure_input
from incidentkit.severity import Severity, SeverityPolicy
from incidentkit.status.config import StatusConfig
from incidentkit.timeline import ChainKey

__all__ = ["IntegrityPolicy", "PhaseTargets", "Policy", "RunbookSettings", "load_policy"]


def _chain_key(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        ChainKey.from_text(value, attribute.name)


@attrs.frozen
class IntegrityPolicy:
    """How the timeline's hash chain is keyed (TOML table ``[integrity]``).

    ``chain_key`` (at least 16 bytes of UTF-8 text) makes every new row hash
    an HMAC-SHA256, so rows cannot be recomputed without it; the environment
    variable ``INCIDENTKIT_CHAIN_KEY`` is used when this is unset. The key is
    never shown in a ``repr``. ``require_key`` makes verification refuse rows
    hashed without a key (set it once no unkeyed timeline needs verifying).
    """

    chain_key: str | None = attrs.field(default=None, repr=False, validator=_chain_key)
    require_key: bool = False


@attrs.frozen
class RunbookSettings:
    """The ``[runbooks]`` table: ``directory`` of runbook files loaded when a kit starts.

    A relative directory in a policy file is relative to that file. ``None``
    (the default): no runbooks are loaded at start (``kit.runbooks.load``).
    ``auto_attach = true`` attaches the strongest matching runbooks when an
    incident is declared (``kit.declare``, alert intake).
    """

    directory: str | None = None
    auto_attach: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))


def _unique_checklists(
    _: object, __: attrs.Attribute[Any], value: tuple[ChecklistTemplate, ...]
) -> None:
    names = [t.name for t in value]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ValidationError(f"checklists[{index}].name", f"{name!r} is defined twice")


@attrs.frozen
class Policy:
    """Everything the kit needs to decide: severity, roles, checklists, targets.

    ``gating_checklist`` names the checklist whose required items must be
    closed before an incident resolves (``""`` disables the gate).
    ``zone`` is the time zone for channel names, human renderings and
    business days (``business_days`` is the holiday calendar, TOML table
    ``[business_days]``); stored times are always UTC. ``oncall`` holds the schedules and the
    escalation policies (TOML tables ``[oncall]`` and ``[escalation]``).
    ``integrity`` keys the hash chain (:class:`IntegrityPolicy`);
    ``runbooks`` the runbook directory loaded at start (``[runbooks]``);
    ``review`` says how post-incident reviews run (TOML table ``[review]``,
    :class:`~incidentkit.review.config.ReviewConfig`); ``status`` the status pages,
    components, audiences, templates, uptime and SLA rules (TOML table
    ``[status]``, :class:`~incidentkit.status.config.StatusConfig`).
    """

    severity: SeverityPolicy = attrs.field(factory=SeverityPolicy.default)
    roles: RolePolicy = attrs.field(factory=RolePolicy)
    checklists: tuple[ChecklistTemplate, ...] = attrs.field(
        default=DEFAULT_TEMPLATES, validator=_unique_checklists
    )
    phases: PhaseTargets = attrs.field(factory=PhaseTargets)
    """Phase targets of the severities whose level sets none (SEV1 and SEV2 by default)."""
    gating_checklist: str = "resolution"
    closing_checklist: str = "recovery"
    """Checklist whose required items must be closed before ``close`` (``""``: no gate;
    the default ``"recovery"`` gates only while the policy has such a checklist)."""
    channel_prefix: str = "#incident-"
    zone: ZoneInfo = attrs.field(default=ZoneInfo("UTC"))
    oncall: OnCallConfig = attrs.field(factory=OnCallConfig)
    business_days: BusinessDays = attrs.field(factory=BusinessDays)
    integrity: IntegrityPolicy = attrs.field(factory=IntegrityPolicy)
    runbooks: RunbookSettings = attrs.field(factory=RunbookSettings)
    review: ReviewConfig = attrs.field(factory=ReviewConfig)
    status: StatusConfig = attrs.field(factory=StatusConfig)
    people: PeopleConfig = attrs.field(factory=PeopleConfig)
    """The people directory and paging rules (TOML table ``[people]``)."""
    alerts: AlertsConfig = attrs.field(factory=AlertsConfig)
    """How alerts become incidents (``[alerts]``, :class:`~incidentkit.intake.AlertsConfig`)."""
    notifiers: tuple[Integration, ...] = ()
    """Notifiers configured by ``[notifiers.<name>]`` tables (:mod:`incidentkit.integrations`)."""
    actions: tuple[Integration, ...] = ()
    """Mitigation actions configured by ``[actions.<name>]`` tables."""

    def __attrs_post_init__(self) -> None:
        if self.gating_checklist and self.gating_checklist not in self.checklist_names:
            raise PolicyError(
                [("gating_checklist", f"no checklist named {self.gating_checklist!r}")]
            )
        _check_people(self)
        closing = self.closing_checklist
        # the default gate applies only when a policy keeps a "recovery" checklist
        if closing not in ("", "recovery") and closing not in self.checklist_names:
            raise PolicyError(
                [("closing_checklist", f"no checklist named {self.closing_checklist!r}")]
            )

    @classmethod
    def default(cls) -> Policy:
        """The guide's policy."""
        return cls()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str | None = None) -> Policy:
        """Build a policy from parsed TOML/JSON: tables override :meth:`default`."""
        if not isinstance(data, Mapping):
            raise PolicyError([("$", "expected a table")], source=source)
        _refuse_moved_keys(data, source)
        notifiers, actions = (
            load_integrations(data[section], section, source=source) if section in data else ()
            for section in ("notifiers", "actions")
        )
        rest = {
            k: v
            for k, v in data.items()
            if k not in ("oncall", "escalation", "notifiers", "actions")
        }
        base = converter().unstructure(cls.default())
        base.pop("oncall")
        base.pop("notifiers")
        base.pop("actions")
        merged = _merge(base, rest)
        severity = rest.get("severity")
        if isinstance(severity, Mapping) and isinstance(severity.get("levels"), list):
            merged["severity"]["levels"] = _merge_levels(
                base["severity"]["levels"], severity["levels"], merged.get("phases")
            )
        oncall = load_oncall(
            {k: data[k] for k in ("oncall", "escalation") if k in data}, source=source
        )
        people = structure_input(
            converter(), merged.pop("people", {}), PeopleConfig, source=source, root="$.people"
        )
        policy = structure_input(converter(), {**merged, "oncall": {}}, cls, source=source)
        try:
            return attrs.evolve(
                policy,
                oncall=oncall,
                people=people,
                runbooks=_runbooks_relative(policy, source),
                notifiers=notifiers,
                actions=actions,
            )
        except PolicyError as err:
            raise PolicyError(err.problems, source=source) from err

    @classmethod
    def from_toml(cls, text: str, *, source: str | None = None) -> Policy:
        """Parse TOML text; see the module docstring for the format."""
        return cls.from_mapping(parse_toml(text, source=source), source=source)

    def phase_targets(self, severity: Severity) -> dict[Phase, timedelta | None]:
        """Phase → target at ``severity``: the level's own ``phases``, else :attr:`phases`."""
        own = self.severity.level(severity).phases
        return (own if own is not None else self.phases).as_mapping()

    def response_deadline(self, severity: Severity, declared_at: datetime) -> datetime | None:
        """When acknowledgement is due at ``severity``, business days counted in :attr:`zone`."""
        level = self.severity.level(severity)
        return level.response_deadline(declared_at, self.zone, self.business_days)

    @property
    def checklist_names(self) -> tuple[str, ...]:
        """Names of the checklist templates, in order."""
        return tuple(t.name for t in self.checklists)

    def checklist(self, name: str) -> ChecklistTemplate:
        """The template called ``name``."""
        for template in self.checklists:
            if template.name == name:
                return template
        raise NotFound("checklist", name, self.checklist_names)


def _check_people(policy: Policy) -> None:
    """Fallback ids in the directory (when it lists anyone), service schedules that exist."""
    people = policy.people
    problems: list[tuple[str, str]] = []
    if people.persons:
        for i, person in enumerate(people.fallback):
            if people.find(person) is None:
                problems.append((f"$.people.fallback[{i}]", f"no person {person!r} in [people]"))
    names = policy.oncall.schedule_names
    for service, schedule in people.service_schedules.items():
        if schedule not in names:
            problems.append(
                (f"$.people.service_schedules.{service}", f"unknown schedule {schedule!r}")
            )
    if problems:
        raise PolicyError(problems)


def _runbooks_relative(policy: Policy, source: str | None) -> RunbookSettings:
    """``[runbooks] directory`` resolved against the policy file's folder when relative."""
    directory = policy.runbooks.directory
    if directory is None or source is None or Path(directory).is_absolute():
        return policy.runbooks
    return attrs.evolve(policy.runbooks, directory=str(Path(source).parent / directory))


_MOVED = ("paging", "escalate_after")


def _refuse_moved_keys(data: Mapping[str, Any], source: str | None) -> None:
    """``paging``/``escalate_after`` on a level were ignored; escalation has one home now."""
    severity = data.get("severity")
    levels = severity.get("levels") if isinstance(severity, Mapping) else None
    if not isinstance(levels, list):
        return
    problems = [
        (
            f"$.severity.levels[{index}].{key}",
            "no longer a severity key: who is paged or notified, and after how long, is "
            "set by the severity's [[escalation.policies]] entry (see the escalation guide)",
        )
        for index, level in enumerate(levels)
        if isinstance(level, Mapping)
        for key in _MOVED
        if key in level
    ]
    if problems:
        raise PolicyError(problems, source=source)


def _merge(base: Any, override: Any) -> Any:
    """Tables merge key by key; anything else (lists, scalars) replaces."""
    if isinstance(base, dict) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


def _merge_levels(base: list[Any], override: list[Any], phases: Any) -> list[Any]:
    """``[[severity.levels]]`` entries override the default level with the same severity.

    A level a file does not mention keeps the guide's definition; an entry
    with an unknown or missing ``severity`` is kept as written so structuring
    reports it with its index. A level's ``phases`` table overrides, key by
    key, the targets that severity had (its own, or the policy's ``[phases]``).
    """
    by_severity = {level["severity"]: dict(level) for level in base}
    merged: list[Any] = []
    for entry in override:
        key = entry.get("severity") if isinstance(entry, Mapping) else None
        if isinstance(key, str) and key.upper() in by_severity:
            default = by_severity.pop(key.upper())
            level = {**default, **entry, "severity": key.upper()}
            own = entry.get("phases")
            if isinstance(own, Mapping) and isinstance(phases, Mapping):
                before = default.get("phases")
                level["phases"] = _merge(dict(before if before is not None else phases), own)
            merged.append(level)
        else:
            merged.append(entry)
    return merged + list(by_severity.values())


def load_policy(path: str | Path) -> Policy:
    """Read a TOML policy file.

    :raises PolicyError: naming the file, each bad key path and the reason.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise PolicyError([("$", f"cannot read: {err.strerror}")], source=str(file)) from err
    except UnicodeDecodeError as err:
        raise PolicyError([("$", f"not UTF-8: {err.reason}")], source=str(file)) from err
    return Policy.from_toml(text, source=str(file))
