"""Severity levels, their response rules, and classification from signals.

SEV1 is the most severe. Compare severities with :meth:`Severity.is_worse_than`
or by :attr:`Severity.rank` (1 = most severe); the enum does not define ``<``
so nobody has to remember which way it points.

:meth:`SeverityPolicy.default` reproduces the incident-response guide:

====== ================ ============== =============== =========================
level  response target  update cadence paging          examples
====== ================ ============== =============== =========================
SEV1   5 minutes        15 minutes     page now,       all requests failing,
                                       secondary       database unavailable
                                       after 5 min
SEV2   15 minutes       30 minutes     notify, page    latency > 5 s,
                                       after 15 min    error rate > 10 %
SEV3   1 hour           on progress    notify only     error rate 1–10 %
SEV4   next business    none           ticket only     cosmetic, < 1 % requests
       day
====== ================ ============== =============== =========================
"""

from __future__ import annotations

import enum
import functools
import operator
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from incidentkit._time import ensure_aware
from incidentkit._validate import shown
from incidentkit.business_days import BusinessDays, business_day_end
from incidentkit.errors import NotFound, PolicyError, ValidationError
from incidentkit.lifecycle import PhaseTargets

__all__ = [
    "Classification",
    "FeatureScope",
    "Paging",
    "Rule",
    "Severity",
    "SeverityLevel",
    "SeverityPolicy",
    "Signals",
]


class Severity(enum.StrEnum):
    """An incident's severity, ``SEV1`` (critical) to ``SEV4`` (low).

    >>> Severity.SEV1.is_worse_than(Severity.SEV2)
    True
    >>> Severity.parse("2")
    <Severity.SEV2: 'SEV2'>
    """

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    @property
    def rank(self) -> int:
        """1 for SEV1 (most severe) … 4 for SEV4."""
        return int(self.value[3:])

    def is_worse_than(self, other: Severity) -> bool:
        """True when ``self`` is more severe than ``other`` (SEV1 is worse than SEV2)."""
        return self.rank < other.rank

    def is_at_least(self, other: Severity) -> bool:
        """True when ``self`` is as severe as ``other`` or worse."""
        return self.rank <= other.rank

    @classmethod
    def worst(cls, severities: Sequence[Severity]) -> Severity:
        """The most severe of ``severities`` (which must not be empty)."""
        return min(severities, key=lambda s: s.rank)

    @classmethod
    def parse(cls, value: str | int | Severity, field: str = "severity") -> Severity:
        """Accept ``Severity.SEV1``, ``"SEV1"``, ``"sev1"``, ``"1"`` or ``1``."""
        if isinstance(value, Severity):
            return value
        text = value.strip().upper() if isinstance(value, str) else ""
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 9:
            text = str(value)
        if text.isdigit():
            text = f"SEV{text}"
        try:
            return cls(text)
        except ValueError:
            raise ValidationError(
                field, f"unknown severity {shown(value)} (known: SEV1, SEV2, SEV3, SEV4)"
            ) from None


_UTC_ZONE = ZoneInfo("UTC")


class Paging(enum.StrEnum):
    """How an escalation policy reaches responders (the guide's escalation column).

    Read from the policy (:attr:`incidentkit.oncall.EscalationPolicy.paging`);
    escalation is set in ``[[escalation.policies]]`` only, not on the level.
    """

    PAGE = "page"
    """Page the on-call primary at once."""
    NOTIFY_THEN_PAGE = "notify_then_page"
    """Notify the primary; page when there is no response in time."""
    NOTIFY = "notify"
    """Notify the primary; never page."""
    TICKET = "ticket"
    """Create a ticket; no immediate notification."""


class FeatureScope(enum.StrEnum):
    """How far a broken feature reaches (a classification signal)."""

    CRITICAL_ALL_USERS = "critical_all_users"
    SINGLE_FEATURE = "single_feature"
    NON_CRITICAL = "non_critical"
    COSMETIC = "cosmetic"


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, timedelta) and value < timedelta(0):
        raise ValidationError(attribute.name, "must not be negative")


def _optional_fraction(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(attribute.name, f"expected a number, got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValidationError(attribute.name, f"must be a fraction between 0 and 1, got {value}")


def _optional_non_negative_number(
    _: object, attribute: attrs.Attribute[Any], value: object
) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(attribute.name, f"expected a number, got {value!r}")
    if value < 0:
        raise ValidationError(attribute.name, f"must not be negative, got {value}")


@attrs.frozen
class SeverityLevel:
    """What a severity means and what it demands.

    ``response_target`` is the time allowed to acknowledge; when it is ``None``
    and ``next_business_day`` is set, the target is the end of the next
    business day, counted in the policy's zone with its holiday calendar
    (:func:`incidentkit.business_days.business_day_end`). ``update_cadence`` is how often a
    status update is due (``None``: no fixed cadence, ``cadence_note`` says
    what instead). ``phases`` are this severity's phase
    targets (``None``: the policy's ``[phases]``; the guide's SEV3 and SEV4
    have none).
    """

    severity: Severity
    name: str
    impact: str
    examples: tuple[str, ...] = ()
    response_target: timedelta | None = attrs.field(default=None, validator=_non_negative)
    next_business_day: bool = False
    update_cadence: timedelta | None = attrs.field(default=None, validator=_non_negative)
    cadence_note: str = ""
    phases: PhaseTargets | None = None

    def response_deadline(
        self,
        declared_at: datetime,
        zone: ZoneInfo = _UTC_ZONE,
        business_days: BusinessDays | None = None,
    ) -> datetime | None:
        """When acknowledgement is due for an incident declared at ``declared_at``.

        A ``next_business_day`` target is counted in ``zone`` with the
        ``business_days`` calendar (the policy passes its own: use
        :meth:`incidentkit.policy.Policy.response_deadline`).
        """
        declared = ensure_aware(declared_at, "declared_at")
        if self.response_target is not None:
            return declared + self.response_target
        if not self.next_business_day:
            return None
        return business_day_end(declared, zone, business_days)

    def describe_target(self) -> str:
        """Human text for the response target: ``5m``, ``1h``, ``next business day``."""
        if self.response_target is not None:
            minutes = int(self.response_target.total_seconds() // 60)
            return f"{minutes // 60}h" if minutes % 60 == 0 and minutes >= 60 else f"{minutes}m"
        return "next business day" if self.next_business_day else "none"


@attrs.frozen
class Signals:
    """What monitoring or a human observed; the input to classification.

    Rates and shares are fractions between 0 and 1 (``error_rate=0.15`` is
    15 %). Unknown values stay ``None`` and match no rule.
    """

    error_rate: float | None = attrs.field(default=None, validator=_optional_fraction)
    latency_seconds: float | None = attrs.field(
        default=None, validator=_optional_non_negative_number
    )
    affected_share: float | None = attrs.field(default=None, validator=_optional_fraction)
    replication_lag_seconds: float | None = attrs.field(
        default=None, validator=_optional_non_negative_number
    )
    all_requests_failing: bool = False
    database_unavailable: bool = False
    security_breach: bool = False
    payments_broken: bool = False
    slow_endpoints: bool = False
    feature_scope: FeatureScope | None = None


_SIGNAL_TYPES: dict[str, type] = {
    field.name: (
        FeatureScope
        if field.name == "feature_scope"
        else bool
        if field.type in ("bool", bool)
        else float
    )
    for field in attrs.fields(Signals)
}

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(?:(>=|<=|==|!=|>|<)\s*(\S+))?\s*$")


@functools.lru_cache(maxsize=1024)
def _parse_condition(text: str) -> tuple[str, str, object]:
    """Parse ``"error_rate > 0.10"`` or ``"security_breach"`` into (signal, op, value)."""
    match = _CONDITION.match(text)
    if not match:
        raise ValidationError("when", f"cannot parse condition {text!r} (use 'signal op value')")
    signal, op, raw = match.groups()
    kind = _SIGNAL_TYPES.get(signal)
    if kind is None:
        raise ValidationError(
            "when", f"unknown signal {signal!r} (known: {', '.join(_SIGNAL_TYPES)})"
        )
    if op is None:
        if kind is not bool:
            raise ValidationError("when", f"signal {signal!r} needs a comparison")
        return signal, "==", True
    value: object
    if kind is bool:
        if raw.lower() not in ("true", "false") or op not in ("==", "!="):
            raise ValidationError("when", f"{signal!r} compares with == or != to true/false")
        value = raw.lower() == "true"
    elif kind is FeatureScope:
        if op not in ("==", "!="):
            raise ValidationError("when", f"{signal!r} compares with == or !=")
        try:
            value = FeatureScope(raw)
        except ValueError:
            known = ", ".join(s.value for s in FeatureScope)
            raise ValidationError("when", f"unknown feature scope {raw!r} ({known})") from None
    else:
        try:
            value = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
        except ValueError:
            raise ValidationError("when", f"{raw!r} is not a number") from None
    return signal, op, value


def _check_condition(_: object, __: attrs.Attribute[Any], value: str) -> None:
    _parse_condition(value)


@attrs.frozen
class Rule:
    """A classification rule: when ``when`` holds, the incident is at least ``severity``.

    ``when`` reads ``"<signal> <op> <value>"`` (``"error_rate > 0.10"``,
    ``"latency_seconds > 5"``, ``"feature_scope == cosmetic"``) or names a
    boolean signal alone (``"security_breach"``). ``10%`` is accepted for 0.10.
    """

    severity: Severity
    when: str = attrs.field(validator=_check_condition)
    reason: str = ""

    def matches(self, signals: Signals) -> bool:
        """True when the condition holds for ``signals`` (an unknown value never matches)."""
        signal, op, value = _parse_condition(self.when)
        observed = getattr(signals, signal)
        if observed is None:
            return False
        return bool(_OPS[op](observed, value))

    @property
    def explanation(self) -> str:
        """The reason, or the condition when no reason was written."""
        return self.reason or self.when


@attrs.frozen
class Classification:
    """The outcome of :meth:`SeverityPolicy.classify`: a severity and why."""

    severity: Severity
    reasons: tuple[str, ...]
    matched: tuple[Rule, ...] = ()


def _unique_levels(_: object, __: attrs.Attribute[Any], levels: tuple[SeverityLevel, ...]) -> None:
    problems: list[tuple[str, str]] = []
    seen: set[Severity] = set()
    for index, level in enumerate(levels):
        if level.severity in seen:
            problems.append((f"levels[{index}].severity", f"{level.severity} is defined twice"))
        seen.add(level.severity)
    missing = [s.value for s in Severity if s not in seen]
    if missing:
        problems.append(("levels", f"missing levels: {', '.join(missing)}"))
    if problems:
        raise PolicyError(problems)


@attrs.frozen
class SeverityPolicy:
    """Severity levels plus the rules that classify signals into them."""

    levels: tuple[SeverityLevel, ...] = attrs.field(validator=_unique_levels)
    rules: tuple[Rule, ...] = ()
    default_severity: Severity = Severity.SEV4

    @classmethod
    def default(cls) -> SeverityPolicy:
        """The guide's four levels and its classification examples as rules."""
        return cls(levels=_DEFAULT_LEVELS, rules=_DEFAULT_RULES)

    def level(self, severity: Severity) -> SeverityLevel:
        """The level definition for ``severity``."""
        for level in self.levels:
            if level.severity == severity:
                return level
        raise NotFound("severity level", str(severity), [lvl.severity.value for lvl in self.levels])

    def classify(self, signals: Signals) -> Classification:
        """Return the worst severity whose rules match, with every matching rule's reason.

        >>> policy = SeverityPolicy.default()
        >>> result = policy.classify(Signals(error_rate=0.15))
        >>> result.severity, result.reasons
        (<Severity.SEV2: 'SEV2'>, ('error rate above 10%',))
        """
        if not isinstance(signals, Signals):
            raise ValidationError(
                "signals", f"expected incidentkit.Signals, got {type(signals).__name__}"
            )
        matched = tuple(rule for rule in self.rules if rule.matches(signals))
        if not matched:
            return Classification(self.default_severity, ("no rule matched",), ())
        worst = Severity.worst([rule.severity for rule in matched])
        chosen = tuple(rule for rule in matched if rule.severity == worst)
        return Classification(worst, tuple(rule.explanation for rule in chosen), chosen)


_DEFAULT_LEVELS = (
    SeverityLevel(
        severity=Severity.SEV1,
        name="Critical",
        impact="Service completely unavailable or major security breach",
        examples=(
            "All API requests failing",
            "Database unavailable",
            "Data breach or security compromise",
            "Payment processing completely broken",
        ),
        response_target=timedelta(minutes=5),
        update_cadence=timedelta(minutes=15),
        cadence_note="real-time updates every 15 minutes",
    ),
    SeverityLevel(
        severity=Severity.SEV2,
        name="High",
        impact="Significant degradation affecting multiple users",
        examples=(
            "API latency > 5 seconds",
            "Error rate > 10%",
            "Critical feature broken for all users",
            "Database replication lag > 5 minutes",
        ),
        response_target=timedelta(minutes=15),
        update_cadence=timedelta(minutes=30),
        cadence_note="updates every 30 minutes",
    ),
    SeverityLevel(
        severity=Severity.SEV3,
        name="Medium",
        impact="Partial degradation affecting some users",
        examples=(
            "Single feature broken",
            "Error rate 1-10%",
            "Slow performance for specific endpoints",
            "Non-critical service degraded",
        ),
        response_target=timedelta(hours=1),
        cadence_note="updates as major progress occurs",
        phases=PhaseTargets.none(),
    ),
    SeverityLevel(
        severity=Severity.SEV4,
        name="Low",
        impact="Minor issue with workaround available",
        examples=(
            "UI glitch",
            "Cosmetic bug",
            "Performance issue affecting < 1% of requests",
            "Non-critical feature degraded",
        ),
        next_business_day=True,
        cadence_note="included in regular updates",
        phases=PhaseTargets.none(),
    ),
)

_DEFAULT_RULES = (
    Rule(Severity.SEV1, "all_requests_failing", "all requests failing"),
    Rule(Severity.SEV1, "database_unavailable", "database unavailable"),
    Rule(Severity.SEV1, "security_breach", "security breach"),
    Rule(Severity.SEV1, "payments_broken", "payment processing broken"),
    Rule(Severity.SEV1, "error_rate >= 1.0", "all requests failing"),
    Rule(Severity.SEV2, "latency_seconds > 5", "latency above 5 seconds"),
    Rule(Severity.SEV2, "error_rate > 0.10", "error rate above 10%"),
    Rule(
        Severity.SEV2,
        "feature_scope == critical_all_users",
        "critical feature broken for all users",
    ),
    Rule(Severity.SEV2, "replication_lag_seconds > 300", "replication lag above 5 minutes"),
    Rule(Severity.SEV3, "error_rate >= 0.01", "error rate between 1% and 10%"),
    Rule(Severity.SEV3, "feature_scope == single_feature", "a single feature broken"),
    Rule(Severity.SEV3, "slow_endpoints", "slow performance for specific endpoints"),
    Rule(Severity.SEV4, "error_rate < 0.01", "fewer than 1% of requests affected"),
    Rule(Severity.SEV4, "affected_share < 0.01", "fewer than 1% of requests or users affected"),
    Rule(Severity.SEV4, "feature_scope == cosmetic", "cosmetic issue"),
    Rule(Severity.SEV4, "feature_scope == non_critical", "non-critical feature degraded"),
)
