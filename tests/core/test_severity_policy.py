"""Severity ordering, classification from signals, rules from TOML, response deadlines."""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidentkit.errors import PolicyError, ValidationError
from incidentkit.oncall import EscalationPolicies
from incidentkit.policy import Policy
from incidentkit.severity import (
    FeatureScope,
    Paging,
    Rule,
    Severity,
    SeverityPolicy,
    Signals,
)

from ._helpers import T0

SEV1, SEV2, SEV3, SEV4 = Severity.SEV1, Severity.SEV2, Severity.SEV3, Severity.SEV4


# --- ordering ---------------------------------------------------------------


def test_rank_and_ordering() -> None:
    assert [s.rank for s in Severity] == [1, 2, 3, 4]
    assert SEV1.is_worse_than(SEV2) and not SEV2.is_worse_than(SEV1)
    assert not SEV2.is_worse_than(SEV2)
    assert SEV2.is_at_least(SEV2) and SEV1.is_at_least(SEV3) and not SEV4.is_at_least(SEV3)
    assert Severity.worst([SEV3, SEV2, SEV4]) is SEV2
    assert Severity.worst([SEV4]) is SEV4


@pytest.mark.parametrize("text", [SEV2, "SEV2", "sev2", " Sev2 ", "2", 2])
def test_parse_accepts_the_usual_spellings(text: Any) -> None:
    assert Severity.parse(text) is SEV2


@pytest.mark.parametrize("text", ["SEV5", "high", "", "0", 7])
def test_parse_refuses_unknown_severities_naming_the_field(text: Any) -> None:
    with pytest.raises(ValidationError) as err:
        Severity.parse(text, field="--severity")
    assert err.value.field == "--severity"
    assert "SEV1, SEV2, SEV3, SEV4" in err.value.reason


@given(st.lists(st.sampled_from(list(Severity)), min_size=1))
def test_worst_is_the_minimum_rank(severities: list[Severity]) -> None:
    worst = Severity.worst(severities)
    assert worst in severities
    assert all(worst.is_at_least(s) for s in severities)


# --- the guide's examples -----------------------------------------------------

GUIDE = [
    (Signals(all_requests_failing=True), SEV1, ("all requests failing",)),
    (Signals(error_rate=1.0), SEV1, ("all requests failing",)),
    (Signals(database_unavailable=True), SEV1, ("database unavailable",)),
    (Signals(security_breach=True), SEV1, ("security breach",)),
    (Signals(payments_broken=True), SEV1, ("payment processing broken",)),
    (Signals(latency_seconds=5.5), SEV2, ("latency above 5 seconds",)),
    (Signals(error_rate=0.15), SEV2, ("error rate above 10%",)),
    (
        Signals(feature_scope=FeatureScope.CRITICAL_ALL_USERS),
        SEV2,
        ("critical feature broken for all users",),
    ),
    (Signals(replication_lag_seconds=6 * 60), SEV2, ("replication lag above 5 minutes",)),
    (Signals(error_rate=0.05), SEV3, ("error rate between 1% and 10%",)),
    (Signals(error_rate=0.10), SEV3, ("error rate between 1% and 10%",)),
    (Signals(error_rate=0.01), SEV3, ("error rate between 1% and 10%",)),
    (Signals(feature_scope=FeatureScope.SINGLE_FEATURE), SEV3, ("a single feature broken",)),
    (Signals(slow_endpoints=True), SEV3, ("slow performance for specific endpoints",)),
    (Signals(error_rate=0.005), SEV4, ("fewer than 1% of requests affected",)),
    (Signals(feature_scope=FeatureScope.COSMETIC), SEV4, ("cosmetic issue",)),
    (Signals(affected_share=0.002), SEV4, ("fewer than 1% of requests or users affected",)),
]


@pytest.mark.parametrize(("signals", "severity", "reasons"), GUIDE)
def test_classify_the_guide_examples(
    signals: Signals, severity: Severity, reasons: tuple[str, ...]
) -> None:
    result = SeverityPolicy.default().classify(signals)
    assert result.severity is severity
    assert result.reasons == reasons
    assert all(rule.severity is severity for rule in result.matched)


def test_classify_reports_every_reason_at_the_worst_level() -> None:
    result = SeverityPolicy.default().classify(
        Signals(error_rate=0.2, latency_seconds=8, slow_endpoints=True)
    )
    assert result.severity is SEV2
    assert result.reasons == ("latency above 5 seconds", "error rate above 10%")


def test_classify_with_nothing_known_uses_the_default_severity() -> None:
    result = SeverityPolicy.default().classify(Signals())
    assert (result.severity, result.reasons, result.matched) == (SEV4, ("no rule matched",), ())
    policy = Policy.from_toml('[severity]\ndefault_severity = "SEV3"\n')
    assert policy.severity.classify(Signals()).severity is SEV3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("error_rate", 1.5),
        ("error_rate", -0.1),
        ("affected_share", 2),
        ("latency_seconds", -1),
        ("replication_lag_seconds", "300"),
        ("error_rate", True),
    ],
)
def test_signals_refuse_out_of_range_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        Signals(**{field: value})  # type: ignore[arg-type]
    assert err.value.field == field


def test_the_default_levels_follow_the_guide() -> None:
    policy = SeverityPolicy.default()
    escalation = EscalationPolicies.default()
    assert [escalation.for_severity(s).paging for s in Severity] == [  # type: ignore[union-attr]
        Paging.PAGE,
        Paging.NOTIFY_THEN_PAGE,
        Paging.NOTIFY,
        Paging.TICKET,
    ]
    assert [policy.level(s).describe_target() for s in Severity] == [
        "5m",
        "15m",
        "1h",
        "next business day",
    ]
    assert policy.level(SEV1).update_cadence == timedelta(minutes=15)
    assert policy.level(SEV2).update_cadence == timedelta(minutes=30)


def test_a_policy_missing_a_level_is_refused() -> None:
    default = SeverityPolicy.default()
    with pytest.raises(PolicyError) as err:
        SeverityPolicy(levels=default.levels[:3])
    assert ("levels", "missing levels: SEV4") in err.value.problems


# --- rules from TOML ------------------------------------------------------------------


def test_rules_overridden_from_toml_replace_the_defaults() -> None:
    policy = Policy.from_toml(
        """
        [severity]
        default_severity = "SEV3"

        [[severity.rules]]
        severity = "SEV1"
        when = "error_rate > 50%"
        reason = "half of all requests failing"

        [[severity.rules]]
        severity = "SEV2"
        when = "security_breach"
        """
    )
    classify = policy.severity.classify
    assert classify(Signals(error_rate=0.6)).reasons == ("half of all requests failing",)
    assert classify(Signals(error_rate=0.6)).severity is SEV1
    assert classify(Signals(error_rate=0.2)).severity is SEV3  # the default SEV2 rule is gone
    breach = classify(Signals(security_breach=True))
    assert (breach.severity, breach.reasons) == (SEV2, ("security_breach",))
    # The levels were not touched.
    assert policy.severity.levels == SeverityPolicy.default().levels


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("bogus > 1", "unknown signal 'bogus'"),
        ("error_rate > lots", "'lots' is not a number"),
        ("error_rate", "needs a comparison"),
        ("security_breach > 1", "compares with == or != to true/false"),
        ("feature_scope == huge", "unknown feature scope 'huge'"),
        ("feature_scope > cosmetic", "compares with == or !="),
        ("error_rate >> 1", "cannot parse condition"),
    ],
)
def test_bad_rule_conditions_are_refused_with_the_key_path(when: str, message: str) -> None:
    toml = f'[[severity.rules]]\nseverity = "SEV1"\nwhen = "{when}"\n'
    with pytest.raises(PolicyError) as err:
        Policy.from_toml(toml, source="policy.toml")
    [(path, reason)] = err.value.problems
    assert path == "$.severity.rules[0].when"
    assert message in reason
    assert "policy.toml" in str(err.value)


# --- property: the worst matched severity with exactly its rules' reasons -------

SIGNAL_NUMBERS = {
    "error_rate": st.floats(0, 1),
    "affected_share": st.floats(0, 1),
    "latency_seconds": st.floats(0, 60),
    "replication_lag_seconds": st.floats(0, 3600),
}
SIGNAL_FLAGS = [
    "all_requests_failing",
    "database_unavailable",
    "security_breach",
    "payments_broken",
    "slow_endpoints",
]
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}

signals_strategy = st.builds(
    Signals,
    **{name: st.none() | strategy for name, strategy in SIGNAL_NUMBERS.items()},
    **{name: st.booleans() for name in SIGNAL_FLAGS},
    feature_scope=st.none() | st.sampled_from(list(FeatureScope)),
)


@st.composite
def conditions(draw: st.DrawFn) -> tuple[str, Any]:
    """A rule condition and an independent evaluator for it."""
    kind = draw(st.sampled_from(["number", "flag", "scope"]))
    if kind == "number":
        name = draw(st.sampled_from(sorted(SIGNAL_NUMBERS)))
        op = draw(st.sampled_from(sorted(OPS)))
        value = draw(st.integers(0, 100)) / 100
        return (
            f"{name} {op} {value}",
            lambda s: getattr(s, name) is not None and OPS[op](getattr(s, name), value),
        )
    if kind == "flag":
        name = draw(st.sampled_from(SIGNAL_FLAGS))
        return name, lambda s: getattr(s, name) is True
    scope = draw(st.sampled_from(list(FeatureScope)))
    return f"feature_scope == {scope.value}", lambda s: s.feature_scope is scope


@st.composite
def rule_sets(draw: st.DrawFn) -> list[tuple[Rule, Any]]:
    found = []
    for index in range(draw(st.integers(0, 8))):
        when, holds = draw(conditions())
        reason = draw(st.sampled_from(["", f"reason {index}"]))
        found.append((Rule(draw(st.sampled_from(list(Severity))), when, reason), holds))
    return found


@settings(max_examples=200, deadline=None)
@given(rule_sets(), signals_strategy, st.sampled_from(list(Severity)))
def test_classification_is_the_worst_match_with_exactly_its_reasons(
    rules: list[tuple[Rule, Any]], signals: Signals, default: Severity
) -> None:
    policy = SeverityPolicy(
        levels=SeverityPolicy.default().levels,
        rules=tuple(rule for rule, _ in rules),
        default_severity=default,
    )
    result = policy.classify(signals)
    matched = [rule for rule, holds in rules if holds(signals)]
    if not matched:
        assert (result.severity, result.reasons, result.matched) == (
            default,
            ("no rule matched",),
            (),
        )
        return
    worst = min(rule.severity.rank for rule in matched)
    chosen = tuple(rule for rule in matched if rule.severity.rank == worst)
    assert result.severity.rank == worst
    assert result.matched == chosen
    assert result.reasons == tuple(rule.reason or rule.when for rule in chosen)


@settings(max_examples=200, deadline=None)
@given(signals_strategy)
def test_default_classification_is_the_worst_default_match(signals: Signals) -> None:
    policy = SeverityPolicy.default()
    result = policy.classify(signals)
    matched = [r for r in policy.rules if r.matches(signals)]
    if matched:
        assert result.severity is Severity.worst([r.severity for r in matched])
        assert set(result.matched) == {r for r in matched if r.severity is result.severity}
    else:
        assert result.severity is policy.default_severity


# --- response deadlines -----------------------------------------------------------


def test_response_deadline_adds_the_target() -> None:
    policy = SeverityPolicy.default()
    assert policy.level(SEV1).response_deadline(T0) == T0 + timedelta(minutes=5)
    assert policy.level(SEV2).response_deadline(T0) == T0 + timedelta(minutes=15)
    assert policy.level(SEV3).response_deadline(T0) == T0 + timedelta(hours=1)


LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("declared", "zone", "due"),
    [
        # Wednesday → Thursday 17:00 (the end of a business day)
        (datetime(2024, 11, 20, 22, 30, tzinfo=UTC), UTC, datetime(2024, 11, 21, 17, tzinfo=UTC)),
        # Friday → Monday
        (datetime(2024, 11, 22, 9, 0, tzinfo=UTC), UTC, datetime(2024, 11, 25, 17, tzinfo=UTC)),
        # Saturday → Monday
        (datetime(2024, 11, 23, 12, 0, tzinfo=UTC), UTC, datetime(2024, 11, 25, 17, tzinfo=UTC)),
        # Sunday late → Monday
        (datetime(2024, 11, 24, 23, 59, tzinfo=UTC), UTC, datetime(2024, 11, 25, 17, tzinfo=UTC)),
        # Friday evening in Los Angeles, counted in Los Angeles → Monday 17:00 there
        (datetime(2024, 11, 22, 20, 0, tzinfo=LA), LA, datetime(2024, 11, 25, 17, tzinfo=LA)),
        # ... counted in UTC it is already Saturday → Monday 17:00 UTC
        (datetime(2024, 11, 22, 20, 0, tzinfo=LA), UTC, datetime(2024, 11, 25, 17, tzinfo=UTC)),
    ],
)
def test_sev4_is_due_by_the_end_of_the_next_business_day(
    declared: datetime, zone: ZoneInfo, due: datetime
) -> None:
    level = SeverityPolicy.default().level(SEV4)
    assert level.response_deadline(declared, ZoneInfo(str(zone))) == due


def test_response_deadline_refuses_naive_datetimes() -> None:
    with pytest.raises(ValidationError) as err:
        SeverityPolicy.default().level(SEV1).response_deadline(datetime(2024, 11, 20, 14, 30))
    assert err.value.field == "declared_at"
