"""Every event class survives the JSON round trip; tags are unique; every event folds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, get_args, get_type_hints

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidentkit.checklists import DEFAULT_TEMPLATES, ChecklistItem, ChecklistTemplate, ItemState
from incidentkit.errors import ValidationError
from incidentkit.events import (
    EVENT_TYPES,
    AnyEvent,
    Conclusion,
    Declared,
    Event,
    PublicStatus,
    RecordedEvent,
    Source,
)
from incidentkit.incident import apply, apply_with_changes
from incidentkit.lifecycle import Phase, Status
from incidentkit.serialization import event_from_json, event_to_json
from incidentkit.severity import Severity

from ._helpers import T0

TEXT = st.text(max_size=20)
NAMES = st.text(min_size=1, max_size=12)
AWARE = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 1, 1),
    timezones=st.timezones(),
)
KEYS = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True)


@st.composite
def templates(draw: st.DrawFn) -> ChecklistTemplate:
    keys = draw(st.lists(KEYS, min_size=1, max_size=4, unique=True))
    items = tuple(ChecklistItem(k, draw(TEXT), draw(st.booleans())) for k in keys)
    return ChecklistTemplate(draw(KEYS), draw(TEXT), items)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)

# Strategies by field type (resolved annotations; compared with ==, so X | None matches).
FIELD_STRATEGIES: list[tuple[Any, st.SearchStrategy[Any]]] = [
    (str, TEXT),
    (bool, st.booleans()),
    (int, st.integers(min_value=0, max_value=10**6)),
    (datetime, AWARE),
    (datetime | None, st.none() | AWARE),
    (Severity, st.sampled_from(list(Severity))),
    (Source, st.sampled_from(list(Source))),
    (Status, st.sampled_from(list(Status))),
    (Phase, st.sampled_from(list(Phase))),
    (Phase | None, st.none() | st.sampled_from(list(Phase))),
    (Conclusion, st.sampled_from(list(Conclusion))),
    (PublicStatus, st.sampled_from(list(PublicStatus))),
    (ItemState, st.sampled_from(list(ItemState))),
    (tuple[str, ...], st.lists(TEXT, max_size=3).map(tuple)),
    (tuple[ChecklistTemplate, ...], st.lists(templates(), max_size=2).map(tuple)),
    (Mapping[str, Any], st.dictionaries(TEXT, JSON_VALUES, max_size=3)),
]


def strategy_for(cls: type[Event], name: str, kind: Any) -> st.SearchStrategy[Any]:
    for known, strategy in FIELD_STRATEGIES:
        if kind == known:
            return strategy
    raise AssertionError(f"{cls.__name__}.{name}: no strategy for {kind!r}")


def event_strategy(cls: type[Event]) -> st.SearchStrategy[Event]:
    hints = get_type_hints(cls)
    fields = {f.name: strategy_for(cls, f.name, hints[f.name]) for f in attrs.fields(cls)}
    return st.builds(cls, **fields)


ALL_EVENTS = st.one_of([event_strategy(cls) for cls in EVENT_TYPES.values()])


def in_utc(event: Event) -> Event:
    """The event with every datetime moved to UTC (what a round trip yields)."""
    changes = {
        f.name: getattr(event, f.name).astimezone(UTC)
        for f in attrs.fields(type(event))
        if isinstance(getattr(event, f.name), datetime)
    }
    return attrs.evolve(event, **changes)


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
def test_every_event_class_has_a_strategy(cls: type[Event]) -> None:
    event_strategy(cls)  # raises when a field type has no strategy


@settings(max_examples=300, deadline=None)
@given(ALL_EVENTS)
def test_every_event_survives_the_json_round_trip(event: Event) -> None:
    payload = event_to_json(event)
    back = event_from_json(payload)
    assert type(back) is type(event)
    assert back == in_utc(event)
    # Canonical: a loaded event serializes to exactly the stored payload.
    assert event_to_json(back) == payload
    assert json.loads(payload)["type"] == event.tag


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(list(EVENT_TYPES.values())).flatmap(event_strategy))
def test_round_trip_covers_each_class(event: Event) -> None:
    assert event_from_json(event_to_json(event)) == in_utc(event)


def test_the_same_instant_in_two_zones_gives_the_same_payload() -> None:
    from zoneinfo import ZoneInfo

    paris = T0.astimezone(ZoneInfo("Europe/Paris"))
    a = Declared(by="a", title="t", severity=Severity.SEV1, declared_at=T0)
    b = Declared(by="a", title="t", severity=Severity.SEV1, declared_at=paris)
    assert event_to_json(a) == event_to_json(b)
    assert '"declared_at":"2024-11-20T22:30:00+00:00"' in event_to_json(b)


def test_tags_are_unique_non_empty_and_stable() -> None:
    classes = get_args(AnyEvent)
    tags = [cls.tag for cls in classes]
    assert all(tags), "every event class needs a tag"
    assert len(set(tags)) == len(tags) == len(EVENT_TYPES)
    assert set(EVENT_TYPES.values()) == set(classes)
    assert all(EVENT_TYPES[cls.tag] is cls for cls in classes)
    # Every concrete event class defined in the module is part of the union.
    import incidentkit.events as events_module

    defined = {
        obj
        for obj in vars(events_module).values()
        if isinstance(obj, type) and issubclass(obj, Event) and obj is not Event
    }
    assert defined == set(classes)


def _declared() -> RecordedEvent:
    event = Declared(
        by="alice", title="t", severity=Severity.SEV2, declared_at=T0, checklists=DEFAULT_TEMPLATES
    )
    return RecordedEvent("INC-1", 1, T0, event)


@settings(max_examples=200, deadline=None)
@given(ALL_EVENTS.filter(lambda e: not isinstance(e, Declared)))
def test_every_event_has_a_fold_rule(event: Event) -> None:
    state = apply(None, _declared())
    after = apply(state, RecordedEvent("INC-1", 2, T0, event))
    assert after.version == 2
    assert after.updated_at == T0


@settings(max_examples=300, deadline=None)
@given(st.lists(ALL_EVENTS.filter(lambda e: not isinstance(e, Declared)), min_size=1, max_size=6))
def test_the_fold_names_every_field_it_changes(events: list[Event]) -> None:
    """apply_with_changes: a field it does not name is the very object it was (the
    engine keeps timer answers by those names)."""
    state = apply(None, _declared())
    for version, event in enumerate(events, start=2):
        after, names = apply_with_changes(state, RecordedEvent("INC-1", version, T0, event))
        assert after == apply(state, RecordedEvent("INC-1", version, T0, event))
        assert names is not None  # every core event has a built-in rule
        for field in attrs.fields(type(state)):
            if field.name in {"version", "updated_at", *names}:
                continue
            assert getattr(after, field.name) is getattr(state, field.name), field.name
        state = after


@pytest.mark.parametrize("cls", [c for c in EVENT_TYPES.values() if c is not Declared])
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_no_event_class_lacks_a_fold_rule(cls: type[Event], data: st.DataObject) -> None:
    event = data.draw(event_strategy(cls))
    state = apply(None, _declared())
    apply(state, RecordedEvent("INC-1", 2, T0, event))


def test_a_timeline_must_start_with_declared() -> None:
    from incidentkit.events import NoteAdded

    with pytest.raises(ValueError, match="must start with 'declared'"):
        apply(None, RecordedEvent("INC-1", 1, T0, NoteAdded(by="a", text="x")))
    state = apply(None, _declared())
    with pytest.raises(ValueError, match="only be the first"):
        apply(state, _declared())


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[]",
        '{"type": "no_such_event", "by": "a"}',
        '{"type": ["declared"], "by": "a"}',
        '{"type": {"x": 1}, "by": "a"}',
        '{"type": "note_added"}',
        '{"type": "note_added", "by": "a", "text": 5}',
        '{"type": "note_added", "by": "a", "text": "x", "extra": 1}',
        '{"type": "escalation_fired", "by": "a", "key": "k", "action": "page",'
        ' "due_at": "2024-11-20T22:30:00"}',
    ],
)
def test_unreadable_payloads_raise_validation_error(payload: str) -> None:
    with pytest.raises(ValidationError):
        event_from_json(payload)


@pytest.mark.parametrize(
    "build",
    [
        lambda naive: Declared(by="a", title="t", severity=Severity.SEV1, declared_at=naive),
        lambda naive: Declared(
            by="a", title="t", severity=Severity.SEV1, declared_at=T0, started_at=naive
        ),
        lambda naive: Declared(
            by="a", title="t", severity=Severity.SEV1, declared_at=T0, detected_at=naive
        ),
        lambda naive: EVENT_TYPES["escalation_fired"](by="a", key="k", action="p", due_at=naive),
        lambda naive: EVENT_TYPES["reminder_fired"](by="a", key="k", reminder="r", due_at=naive),
        lambda naive: EVENT_TYPES["target_missed"](by="a", key="k", target="t", due_at=naive),
    ],
)
def test_events_refuse_naive_datetimes(build: Any) -> None:
    with pytest.raises(ValidationError, match="naive"):
        build(datetime(2024, 11, 20, 14, 30))
