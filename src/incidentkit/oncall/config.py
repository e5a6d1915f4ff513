"""Loading on-call schedules and escalation policies from TOML-shaped data.

:func:`load_oncall` takes the mapping a TOML file yields for the on-call
part of a policy and returns an :class:`OnCallConfig`::

    [[oncall.schedules]]
    name = "platform"

    [[oncall.schedules.layers]]
    name = "primary"

    [[oncall.schedules.layers.rotations]]
    participants = ["ana", "bo", "cy"]
    start = 2025-01-06T09:00:00+00:00
    zone = "Europe/London"
    handoff_weekday = "monday"
    handoff_time = "09:00"

    [[escalation.policies]]
    name = "sev1"
    severities = ["SEV1"]
    steps = [
      { targets = ["layer:primary"], delay = "0m", action = "page" },
      { targets = ["layer:secondary"], delay = "5m", action = "page" },
    ]

A file without an ``[escalation]`` table gets the guide's default policies.
Errors name the key path (``$.oncall.schedules[0].layers[0].rotations[0].zone:
unknown IANA time zone``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import cattrs

from incidentkit.errors import NotFound, PolicyError
from incidentkit.oncall.escalation import EscalationPolicies, EscalationPolicy, Target
from incidentkit.oncall.schedule import Schedule
from incidentkit.serialization import make_converter, structure_input

__all__ = ["OnCallConfig", "configure_oncall_converter", "load_oncall"]


def _schedules(value: Iterable[Schedule]) -> tuple[Schedule, ...]:
    return tuple(value)


@attrs.frozen
class OnCallConfig:
    """Schedules plus escalation policies.

    :param schedules: the schedules, names unique; the first is the default
        one for policies that name none.
    :param escalation: the escalation policies (the guide's by default).
    """

    schedules: tuple[Schedule, ...] = attrs.field(default=(), converter=_schedules)
    escalation: EscalationPolicies = attrs.field(factory=EscalationPolicies.default)

    def __attrs_post_init__(self) -> None:
        seen: dict[str, int] = {}
        for i, schedule in enumerate(self.schedules):
            if schedule.name in seen:
                raise PolicyError(
                    [(f"$.schedules[{i}].name", f"duplicate schedule name {schedule.name!r}")]
                )
            seen[schedule.name] = i
        for i, policy in enumerate(self.escalation.policies):
            if policy.schedule is not None and policy.schedule not in seen:
                raise PolicyError(
                    [
                        (
                            f"$.escalation.policies[{i}].schedule",
                            f"unknown schedule {policy.schedule!r}",
                        )
                    ]
                )

    @property
    def schedule_names(self) -> tuple[str, ...]:
        """The schedules' names in order."""
        return tuple(s.name for s in self.schedules)

    def schedule(self, name: str | None = None) -> Schedule:
        """The schedule called ``name`` (``None``: the first one).

        :raises NotFound: when there is no such schedule (or none at all).
        """
        for schedule in self.schedules:
            if name is None or schedule.name == name:
                return schedule
        raise NotFound("schedule", name or "(default)", self.schedule_names)

    def schedule_for(self, policy: EscalationPolicy) -> Schedule | None:
        """The schedule whose layers ``policy``'s targets name (``None`` when there is none)."""
        if policy.schedule is None and not self.schedules:
            return None
        return self.schedule(policy.schedule)


def _structure_target(value: object, _: type[Any]) -> Target:
    if isinstance(value, Target):
        return value
    if isinstance(value, str):
        return Target.parse(value)
    if isinstance(value, Mapping):
        extra = set(value) - {"kind", "name"}
        if extra:
            raise PolicyError([(f"$.{key}", "unknown key") for key in sorted(extra)])
        missing = [key for key in ("kind", "name") if key not in value]
        if missing:
            raise PolicyError([(f"$.{key}", "required key is missing") for key in missing])
        kind = value["kind"]
        if not isinstance(kind, str):
            raise PolicyError([("$.kind", "must be layer, person or role")])
        try:
            return Target(kind.strip().lower(), value["name"])
        except ValueError as err:
            if isinstance(err, PolicyError):
                raise
            raise PolicyError([("$.kind", "must be layer, person or role")]) from err
    raise PolicyError([("$", f"not a target: {value!r} (use 'layer:primary')")])


def configure_oncall_converter(converter: cattrs.Converter) -> None:
    """Add the on-call hooks to a converter from :func:`incidentkit.serialization.make_converter`.

    Targets structure from ``"kind:name"`` strings or ``{kind, name}`` tables
    and unstructure to the string form.
    """
    converter.register_structure_hook(Target, _structure_target)
    converter.register_unstructure_hook(Target, str)


def load_oncall(data: Mapping[str, Any], source: str | None = None) -> OnCallConfig:
    """Build the on-call configuration from ``{"oncall": {...}, "escalation": {...}}``.

    Either key may be missing: no schedules, or the guide's default policies.
    Key paths in errors start at the root of ``data`` (``$.oncall.schedules[0]…``).

    :raises PolicyError: naming each bad key path and the reason.
    """
    if not isinstance(data, Mapping):
        raise PolicyError([("$", "expected a table")], source=source)
    unknown = sorted(set(data) - {"oncall", "escalation"})
    if unknown:
        raise PolicyError([(f"$.{key}", "unknown key") for key in unknown], source=source)
    converter = make_converter()
    configure_oncall_converter(converter)
    oncall = data.get("oncall", {})
    if not isinstance(oncall, Mapping):
        raise PolicyError([("$.oncall", "expected a table")], source=source)
    unknown = sorted(set(oncall) - {"schedules"})
    if unknown:
        raise PolicyError([(f"$.oncall.{key}", "unknown key") for key in unknown], source=source)
    schedules = structure_input(
        converter,
        oncall.get("schedules", []),
        tuple[Schedule, ...],
        source=source,
        root="$.oncall.schedules",
    )
    escalation = (
        structure_input(
            converter,
            data["escalation"],
            EscalationPolicies,
            source=source,
            root="$.escalation",
        )
        if "escalation" in data
        else EscalationPolicies.default()
    )
    try:
        return OnCallConfig(schedules, escalation)
    except PolicyError as err:
        problems = [
            (path.replace("$.schedules", "$.oncall.schedules", 1), reason)
            for path, reason in err.problems
        ]
        raise PolicyError(problems, source=source) from err
