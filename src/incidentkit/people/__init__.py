"""People: a directory with contact methods and notification rules, and paging through it.

``kit.people`` (:class:`incidentkit.people.capability.People`) answers who
would be paged, lists gaps in the schedules, runs drills and reports on-call
health. The directory and its policy section (:mod:`incidentkit.people.config`),
the paging calculator (:mod:`incidentkit.people.paging`) and the health report
(:mod:`incidentkit.people.health`) are importable on their own.
"""

from incidentkit.people.config import (
    CommanderRule,
    ContactKind,
    ContactMethod,
    HourBands,
    NotificationRule,
    PeopleConfig,
    Person,
    QuietHours,
    default_rules,
)

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
