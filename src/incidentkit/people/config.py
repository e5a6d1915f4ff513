"""The people directory and the ``[people]`` policy section.

A :class:`Person` has an id, a name, a time zone, contact methods (each an
address for a notifier plugin), notification rules per urgency, quiet hours
for low urgency, and the teams and directory roles (``team_lead``,
``database_admin``) that escalation steps can name::

    [people]
    fallback = ["mgr"]                 # paged when nobody is on call
    commander = "acknowledger"         # or "first_page", or "none"
    num_loops = 2                      # run the whole escalation policy twice
    final_fallback = true              # then page the fallback once more

    [[people.persons]]
    id = "ana"
    name = "Ana Lima"
    zone = "Europe/Lisbon"
    teams = ["platform"]
    roles = ["database_admin"]
    contacts = [
      { kind = "push", address = "device-1" },
      { kind = "sms", address = "+351900000001" },
      { kind = "phone", address = "+351900000001" },
      { kind = "email", address = "ana@example.com", notifier = "email" },
    ]
    quiet_hours = { start = "22:00", end = "07:00" }

A person without ``rules`` gets the guide's: high urgency push at 0, SMS at
2 minutes, phone call at 5 minutes; low urgency e-mail (each kept only when
the person has that contact method; a person with none of them is reached
through every notifier at once, as is anyone the directory does not list).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs

from incidentkit.errors import NotFound, PolicyError
from incidentkit.notify import Urgency
from incidentkit.severity import Severity

__all__ = [
    "CommanderRule",
    "ContactKind",
    "ContactMethod",
    "HourBands",
    "NotificationRule",
    "PeopleConfig",
    "Person",
    "QuietHours",
    "default_rules",
]


def _refuse(field: str, reason: str) -> PolicyError:
    return PolicyError([(f"$.{field}", reason)])


class ContactKind(enum.StrEnum):
    """How a person is reached."""

    PUSH = "push"
    SMS = "sms"
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"


class CommanderRule(enum.StrEnum):
    """Who becomes incident commander by policy when nobody holds the role."""

    NONE = "none"
    ACKNOWLEDGER = "acknowledger"
    FIRST_PAGE = "first_page"


@attrs.frozen
class ContactMethod:
    """One way to reach a person: ``kind`` at ``address``, through ``notifier`` (``None``: all)."""

    kind: ContactKind = attrs.field(converter=ContactKind)
    address: str
    notifier: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.address, str) or not self.address.strip():
            raise _refuse("address", "a contact method needs a non-empty address")


@attrs.frozen
class NotificationRule:
    """Contact the person by ``contact`` ``delay`` after a page of ``urgency`` reaches them."""

    urgency: Urgency = attrs.field(converter=Urgency)
    contact: ContactKind = attrs.field(converter=ContactKind)
    delay: timedelta = timedelta(0)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.delay, timedelta) or self.delay < timedelta(0):
            raise _refuse("delay", "must be a duration >= 0")


def default_rules() -> tuple[NotificationRule, ...]:
    """The guide's rules: high push 0, SMS 2 min, phone 5 min; low e-mail."""
    return (
        NotificationRule(Urgency.HIGH, ContactKind.PUSH, timedelta(0)),
        NotificationRule(Urgency.HIGH, ContactKind.SMS, timedelta(minutes=2)),
        NotificationRule(Urgency.HIGH, ContactKind.PHONE, timedelta(minutes=5)),
        NotificationRule(Urgency.LOW, ContactKind.EMAIL, timedelta(0)),
    )


@attrs.frozen
class QuietHours:
    """Local hours (in the person's zone) in which low-urgency contacts wait for ``end``."""

    start: time
    end: time

    def __attrs_post_init__(self) -> None:
        if self.start == self.end:
            raise _refuse("end", "quiet hours must not start and end at the same time")

    def contains(self, local: time) -> bool:
        """Whether the local wall-clock time ``local`` is quiet."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def _contacts(value: Iterable[ContactMethod]) -> tuple[ContactMethod, ...]:
    return tuple(value)


def _rules(value: Iterable[NotificationRule] | None) -> tuple[NotificationRule, ...] | None:
    return None if value is None else tuple(value)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Person:
    """Someone who can be paged (see the module docstring)."""

    id: str
    name: str = ""
    zone: ZoneInfo = attrs.field(default=ZoneInfo("UTC"))
    contacts: tuple[ContactMethod, ...] = attrs.field(default=(), converter=_contacts)
    rules: tuple[NotificationRule, ...] | None = attrs.field(default=None, converter=_rules)
    quiet_hours: QuietHours | None = None
    teams: tuple[str, ...] = attrs.field(default=(), converter=_names)
    roles: tuple[str, ...] = attrs.field(default=(), converter=_names)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise _refuse("id", "a person needs a non-empty id")
        kinds = [c.kind for c in self.contacts]
        for i, rule in enumerate(self.rules or ()):
            if rule.contact not in kinds:
                raise _refuse(
                    f"rules[{i}].contact",
                    f"{self.id} has no {rule.contact.value} contact method",
                )

    @property
    def display(self) -> str:
        """The name, else the id."""
        return self.name or self.id

    def contact(self, kind: ContactKind) -> ContactMethod:
        """The first contact method of ``kind``."""
        for method in self.contacts:
            if method.kind is kind:
                return method
        raise NotFound("contact method", kind.value, [c.kind.value for c in self.contacts])

    def effective_rules(
        self, urgency: Urgency
    ) -> tuple[tuple[NotificationRule, ContactMethod], ...]:
        """The person's rules for ``urgency`` with the method each uses, by delay."""
        kinds = {c.kind for c in self.contacts}
        rules = self.rules if self.rules is not None else default_rules()
        found = [
            (rule, self.contact(rule.contact))
            for rule in rules
            if rule.urgency is urgency and rule.contact in kinds
        ]
        found.sort(key=lambda pair: pair[0].delay)
        return tuple(found)

    def quiet_until(self, at: datetime) -> datetime:
        """``at``, or the end of the quiet hours it falls in (aware UTC in, aware UTC out)."""
        if self.quiet_hours is None:
            return at
        local = at.astimezone(self.zone)
        if not self.quiet_hours.contains(local.time()):
            return at
        end = datetime.combine(local.date(), self.quiet_hours.end, tzinfo=self.zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.quiet_hours.end)
            end = end.replace(tzinfo=self.zone)
        return end.astimezone(at.tzinfo)


@attrs.frozen
class HourBands:
    """What counts as business hours and sleep hours in a person's own zone.

    Business hours are ``business_start``–``business_end`` on Monday to
    Friday; sleep hours ``sleep_start``–``sleep_end`` every day (they may
    wrap midnight); every other minute is off hours. Sleep wins over business.
    """

    business_start: time = time(9)
    business_end: time = time(17)
    sleep_start: time = time(22)
    sleep_end: time = time(7)

    def band(self, local: datetime) -> str:
        """``"sleep"``, ``"business"`` or ``"off"`` for a local (zone-aware) wall-clock time."""
        t = local.time().replace(tzinfo=None)
        if self.sleep_start < self.sleep_end:
            asleep = self.sleep_start <= t < self.sleep_end
        else:
            asleep = t >= self.sleep_start or t < self.sleep_end
        if asleep:
            return "sleep"
        if local.weekday() < 5 and self.business_start <= t < self.business_end:
            return "business"
        return "off"


def _timeouts(value: Mapping[Severity | str, timedelta]) -> Mapping[Severity, timedelta]:
    return {Severity.parse(key): timeout for key, timeout in value.items()}


def _persons(value: Iterable[Person]) -> tuple[Person, ...]:
    return tuple(value)


@attrs.frozen
class PeopleConfig:
    """The ``[people]`` section: the directory and the paging rules that use it.

    :param persons: the directory (ids unique).
    :param fallback: person ids paged when a step reaches nobody (a schedule
        gap, a vacant role); a "nobody on call" event is recorded either way.
    :param commander: who becomes incident commander by policy.
    :param commander_layer: with ``commander = "acknowledger"``, only an
        acknowledger holding this schedule layer (``""``: anyone) is made commander.
    :param num_loops: how many times the whole escalation policy runs.
    :param loop_after: the pause after a loop's last firing before the next loop.
    :param final_fallback: page the fallback once more after the last loop.
    :param ack_timeout: per severity, how long an acknowledgement holds; when it
        expires on an unresolved incident, the (first) acknowledger is notified
        again through their high-urgency rules and the escalation resumes where
        it stopped (its remaining pages move on by the time it was held); a new
        acknowledgement stops it again.
    :param service_schedules: service name → the schedule whose layers its
        incidents' escalation targets name.
    :param hours: business and sleep hours for on-call health.
    """

    persons: tuple[Person, ...] = attrs.field(default=(), converter=_persons)
    fallback: tuple[str, ...] = attrs.field(default=(), converter=_names)
    commander: CommanderRule = attrs.field(default=CommanderRule.NONE, converter=CommanderRule)
    commander_layer: str = "primary"
    num_loops: int = 1
    loop_after: timedelta = timedelta(minutes=5)
    final_fallback: bool = False
    ack_timeout: Mapping[Severity, timedelta] = attrs.field(factory=dict, converter=_timeouts)
    service_schedules: Mapping[str, str] = attrs.field(factory=dict)
    hours: HourBands = attrs.field(factory=HourBands)

    def __attrs_post_init__(self) -> None:
        seen: dict[str, int] = {}
        for i, person in enumerate(self.persons):
            if person.id in seen:
                raise _refuse(f"persons[{i}].id", f"duplicate person id {person.id!r}")
            seen[person.id] = i
        if isinstance(self.num_loops, bool) or not isinstance(self.num_loops, int):
            raise _refuse("num_loops", "must be a whole number >= 1")
        if self.num_loops < 1:
            raise _refuse("num_loops", f"must be >= 1, got {self.num_loops}")
        if self.loop_after < timedelta(0):
            raise _refuse("loop_after", "must not be negative")
        for severity, timeout in self.ack_timeout.items():
            if timeout <= timedelta(0):
                raise _refuse(f"ack_timeout.{severity}", "must be a positive duration")

    @property
    def enabled(self) -> bool:
        """Whether pages go to people (a directory or a fallback is configured)."""
        return bool(self.persons or self.fallback)

    @property
    def ids(self) -> tuple[str, ...]:
        """The directory's person ids in order."""
        return tuple(p.id for p in self.persons)

    def find(self, person_id: str) -> Person | None:
        """The person ``person_id``, or ``None`` when the directory does not list them."""
        for person in self.persons:
            if person.id == person_id:
                return person
        return None

    def person(self, person_id: str) -> Person:
        """The person ``person_id``.

        :raises NotFound: when the directory does not list them.
        """
        found = self.find(person_id)
        if found is None:
            raise NotFound("person", person_id, self.ids)
        return found

    def with_role(self, role: str) -> tuple[str, ...]:
        """The ids of the people holding directory role ``role``."""
        return tuple(p.id for p in self.persons if role in p.roles)

    def team(self, team: str) -> tuple[str, ...]:
        """The ids of the members of ``team``."""
        return tuple(p.id for p in self.persons if team in p.teams)

    def zone_of(self, person_id: str) -> ZoneInfo:
        """The person's zone (UTC for anyone the directory does not list)."""
        found = self.find(person_id)
        return ZoneInfo("UTC") if found is None else found.zone
