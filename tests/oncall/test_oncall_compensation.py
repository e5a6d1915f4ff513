"""Compensation: hand-computed fixtures, including a holiday and DST days."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from incidentkit.errors import ValidationError
from incidentkit.oncall import (
    MissingExtra,
    PayKind,
    RateCard,
    ResponseInterval,
    Shift,
    compute_pay,
)

LONDON = ZoneInfo("Europe/London")


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def shift(person: str, start: datetime, end: datetime, layer: str = "primary") -> Shift:
    return Shift("platform", layer, person, start, end)


# 840 a week is 5.00 an hour; weekends 1.5x; Christmas Day 2x.
CARD = RateCard(
    currency="GBP",
    base_per_week=Decimal("840"),
    per_incident_hour=Decimal("50"),
    zone=LONDON,
    day_multipliers={"saturday": "1.5", "sunday": "1.5"},
    holidays=frozenset({date(2025, 12, 25)}),
)


def lines(statement: object) -> list[tuple[str, str, str, str, str]]:
    return [
        (ln.kind.value, ln.day.isoformat(), str(ln.hours), str(ln.multiplier), str(ln.amount))
        for ln in statement.lines  # type: ignore[attr-defined]
    ]


def test_spring_forward_day_has_23_hours() -> None:
    # Saturday 29 March 00:00 GMT to Monday 31 March 00:00 BST.
    (pay,) = compute_pay(
        [shift("ana", utc(2025, 3, 29), utc(2025, 3, 30, 23))],
        [],
        CARD,
        utc(2025, 3, 1),
        utc(2025, 4, 1),
    )
    assert lines(pay) == [
        ("on_call", "2025-03-29", "24", "1.5", "180.00"),  # 24 h x 5.00 x 1.5
        ("on_call", "2025-03-30", "23", "1.5", "172.50"),  # 23 h x 5.00 x 1.5
    ]
    assert pay.total == Decimal("352.50")
    assert pay.hours(PayKind.ON_CALL) == Decimal(47)


def test_fall_back_day_has_25_hours() -> None:
    (pay,) = compute_pay(
        [shift("ana", utc(2025, 10, 25, 23), utc(2025, 10, 27))],
        [],
        CARD,
        utc(2025, 10, 1),
        utc(2025, 11, 1),
    )
    assert lines(pay) == [("on_call", "2025-10-26", "25", "1.5", "187.50")]


def test_holiday_replaces_the_weekday_multiplier_and_responses_are_merged() -> None:
    shifts = [
        shift("ana", utc(2025, 12, 25), utc(2025, 12, 26)),
        # Same person on the secondary layer at the same time: paid once.
        shift("ana", utc(2025, 12, 25, 12), utc(2025, 12, 25, 18), layer="secondary"),
    ]
    responses = [
        ResponseInterval("ana", utc(2025, 12, 25, 10), utc(2025, 12, 25, 11, 30), "INC-1"),
        ResponseInterval("ana", utc(2025, 12, 25, 11), utc(2025, 12, 25, 12), "INC-2"),
    ]
    (pay,) = compute_pay(shifts, responses, CARD, utc(2025, 12, 1), utc(2026, 1, 1))
    assert lines(pay) == [
        ("incident", "2025-12-25", "2", "2.0", "200.00"),  # 10:00-12:00 x 50 x 2
        ("on_call", "2025-12-25", "24", "2.0", "240.00"),  # 24 h x 5.00 x 2
    ]
    assert all(ln.holiday == "holiday" for ln in pay.lines)
    assert pay.total == Decimal("440.00")


def test_response_across_local_midnight_is_split() -> None:
    responses = [ResponseInterval("bo", utc(2025, 3, 28, 23, 30), utc(2025, 3, 29, 0, 45))]
    (pay,) = compute_pay([], responses, CARD, utc(2025, 3, 1), utc(2025, 4, 1))
    assert lines(pay) == [
        ("incident", "2025-03-28", "0.5", "1", "25.00"),  # Friday
        ("incident", "2025-03-29", "0.75", "1.5", "56.25"),  # Saturday
    ]


def test_clipped_to_the_period_and_rounded_half_up() -> None:
    card = RateCard(currency="USD", base_per_week=Decimal("100"), per_incident_hour=Decimal("0"))
    (pay,) = compute_pay(
        [shift("cy", utc(2025, 1, 31, 23), utc(2025, 2, 1, 2))],
        [],
        card,
        utc(2025, 1, 1),
        utc(2025, 2, 1),
    )
    # 1 h x 100/168 = 0.5952... -> 0.60
    assert lines(pay)[0][4] == "0.60"
    assert pay.period_end == utc(2025, 2, 1)


def test_statements_per_person_sorted() -> None:
    pays = compute_pay(
        [
            shift("zed", utc(2025, 1, 6), utc(2025, 1, 7)),
            shift("ana", utc(2025, 1, 6), utc(2025, 1, 7)),
        ],
        [],
        CARD,
        utc(2025, 1, 1),
        utc(2025, 2, 1),
    )
    assert [p.person for p in pays] == ["ana", "zed"]
    assert [p.total for p in pays] == [Decimal("120.00"), Decimal("120.00")]


def test_country_holidays_from_the_holidays_package() -> None:
    card = RateCard(
        currency="GBP",
        base_per_week=Decimal("840"),
        per_incident_hour=Decimal("50"),
        zone=LONDON,
        holiday_country="GB",
        holiday_subdivision="ENG",
    )
    # Monday 25 August 2025 is the Summer Bank Holiday in England (BST: 23:00Z the day before).
    (pay,) = compute_pay(
        [shift("ana", utc(2025, 8, 24, 23), utc(2025, 8, 25, 23))],
        [],
        card,
        utc(2025, 8, 1),
        utc(2025, 9, 1),
    )
    (line,) = pay.lines
    assert (line.day, line.multiplier, line.amount) == (
        date(2025, 8, 25),
        Decimal("2.0"),
        Decimal("240.00"),
    )
    assert line.holiday is not None and "Bank Holiday" in line.holiday


def test_missing_holidays_package_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "holidays", None)
    card = RateCard(currency="GBP", base_per_week=1, per_incident_hour=1, holiday_country="GB")
    with pytest.raises(MissingExtra, match=r"incidentkit\[holidays\]"):
        compute_pay([], [], card, utc(2025, 1, 1), utc(2025, 2, 1))


def test_unknown_country_is_a_validation_error() -> None:
    card = RateCard(currency="GBP", base_per_week=1, per_incident_hour=1, holiday_country="XX")
    with pytest.raises(ValidationError) as info:
        compute_pay([], [], card, utc(2025, 1, 1), utc(2025, 2, 1))
    assert info.value.field == "holiday_country"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_per_week": -1}, "base_per_week"),
        ({"per_incident_hour": "lots"}, "per_incident_hour"),
        ({"day_multipliers": {"caturday": 2}}, "day_multipliers"),
        ({"holiday_multiplier": float("nan")}, "holiday_multiplier"),
        ({"minor_units": 9}, "minor_units"),
    ],
)
def test_bad_rate_card(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {"currency": "GBP", "base_per_week": 1, "per_incident_hour": 1}
    with pytest.raises(ValidationError) as info:
        RateCard(**(base | kwargs))  # type: ignore[arg-type]
    assert info.value.field == field


def test_bad_pay_input() -> None:
    with pytest.raises(ValidationError) as info:
        compute_pay([], [], CARD, utc(2025, 2, 1), utc(2025, 1, 1))
    assert info.value.field == "period_end"
    with pytest.raises(ValidationError) as info:
        compute_pay(
            [],
            [ResponseInterval("a", datetime(2025, 1, 1), utc(2025, 1, 2))],
            CARD,
            utc(2025, 1, 1),
            utc(2025, 2, 1),
        )
    assert info.value.field == "responses[0].start"
    with pytest.raises(ValidationError) as info:
        compute_pay(
            [shift("a", utc(2025, 1, 2), utc(2025, 1, 1))],
            [],
            CARD,
            utc(2025, 1, 1),
            utc(2025, 2, 1),
        )
    assert info.value.field == "shifts[0].end"
