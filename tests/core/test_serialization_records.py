"""Every public record survives the one converter, or is refused by it.

The classes are found, not listed: every attrs class named in the ``__all__``
of ``incidentkit`` and of its public modules, and every attrs class reachable
from those through field annotations (and subclasses, for the event base). A
generated instance of each must come back equal from ``structure(unstructure(x))``
and from the canonical JSON text. A class that cannot be round-tripped by
design is listed in :data:`NOT_SERIALIZABLE` with the reason, and the converter
must refuse it with a typed error instead of returning a wrong object.
"""

from __future__ import annotations

import collections.abc
import copy
import enum
import importlib
import json
import pkgutil
import types
import typing
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import incidentkit
from incidentkit.business_days import BusinessDays
from incidentkit.engine.capability import Capability, EventHooks, RecordRule, TimerSource
from incidentkit.errors import IncidentKitError, ValidationError
from incidentkit.events import EVENT_TYPES, Event, NoteAdded, RecordedEvent, event_types
from incidentkit.intake import AdapterSpec
from incidentkit.lifecycle import PhaseTargets
from incidentkit.metrics import Breach, Breaches
from incidentkit.mitigation import MitigationAction
from incidentkit.notify import NotifierSpec
from incidentkit.oncall import OnCallConfig, Rotation
from incidentkit.policy import Policy
from incidentkit.roles import RolePolicy
from incidentkit.serialization import (
    converter,
    dumps,
    event_to_dict,
    event_to_json,
    record_json,
)
from incidentkit.severity import Severity, SeverityLevel
from incidentkit.status import Component, ComponentStatus, StatusPage
from incidentkit.testing import RecordedCall
from incidentkit.timeline import ChainKey

# --- discovery ---------------------------------------------------------------


def _public_modules() -> list[types.ModuleType]:
    found = [incidentkit]
    for info in pkgutil.walk_packages(incidentkit.__path__, "incidentkit."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            found.append(importlib.import_module(info.name))
    return found


def _types_in(kind: Any) -> typing.Iterator[type]:
    for arg in get_args(kind):
        yield from _types_in(arg)
    origin = get_origin(kind)
    if isinstance(origin, type):
        yield origin
    elif isinstance(kind, type):
        yield kind


#: Every public name, to resolve annotations imported only under TYPE_CHECKING.
NAMESPACE: dict[str, Any] = {}


def hints_of(cls: type) -> dict[str, Any]:
    return get_type_hints(cls, localns=NAMESPACE)


def discover() -> dict[type, str]:
    """Every attrs class reachable from a public ``__all__`` → how it was reached."""
    found: dict[type, str] = {}
    pending: list[tuple[object, str]] = []
    walked: set[str] = set()
    for module in _public_modules():
        modules = [module]
        while modules:
            mod = modules.pop()
            if mod.__name__ in walked:
                continue
            walked.add(mod.__name__)
            for name in getattr(mod, "__all__", ()):
                obj = getattr(mod, name)
                if isinstance(obj, types.ModuleType):
                    modules.append(obj)
                else:
                    NAMESPACE.setdefault(name, obj)
                    pending.append((obj, f"{mod.__name__}.{name}"))
    while pending:
        obj, via = pending.pop()
        if not (isinstance(obj, type) and attrs.has(obj)) or obj in found:
            continue
        found[obj] = via
        hints = hints_of(obj)
        for field in attrs.fields(obj):
            for kind in _types_in(hints.get(field.name, field.type)):
                pending.append((kind, f"{obj.__qualname__}.{field.name}"))
        pending.extend((sub, f"subclass of {obj.__qualname__}") for sub in obj.__subclasses__())
    return found


CLASSES = discover()

#: Classes that cannot be round-tripped by design, with the reason.
NOT_SERIALIZABLE: dict[type, str] = {
    MitigationAction: "holds the execute/verify callables and the params class",
    NotifierSpec: "holds the deliver callable",
    AdapterSpec: "holds the parse/detect callables",
    RecordedCall: "a test double holding the action's params object of any type",
    Capability: "holds event classes, fold, route and planner callables",
    RecordRule: "holds the command's decide callable",
    EventHooks: "holds route and planner callables",
    TimerSource: "holds the due/next_due callables",
    ChainKey: "holds the chain key's secret, which never reaches JSON",
}

#: How the converter refuses each of them (default: it holds a callable).
REFUSALS: dict[type, str] = {ChainKey: r"ChainKey\.secret: a chain key is never serialized"}

ROUND_TRIPPED = sorted(
    (cls for cls in CLASSES if cls not in NOT_SERIALIZABLE),
    key=lambda c: f"{c.__module__}.{c.__qualname__}",
)

# --- strategies --------------------------------------------------------------

TEXT = st.text(max_size=12)
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
# Fixed offsets (never an ambiguous wall time, which compares unequal across zones).
AWARE = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=OFFSETS
)
ZONES = st.sampled_from(
    [ZoneInfo(k) for k in ("UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata")]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)

BASE: dict[Any, st.SearchStrategy[Any]] = {
    str: TEXT,
    bool: st.booleans(),
    bytes: st.binary(max_size=12),
    int: st.integers(min_value=0, max_value=10**6),
    float: st.floats(allow_nan=False, allow_infinity=False, width=64),
    datetime: AWARE,
    date: st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 1, 1)),
    time: st.times(),
    timedelta: st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(days=3650)),
    Decimal: st.decimals(min_value=0, max_value=10**9, places=4),
    ZoneInfo: ZONES,
    tzinfo: ZONES | OFFSETS,
    Any: JSON_VALUES,
    type(None): st.none(),
}


def strategy_for(kind: Any, where: str) -> st.SearchStrategy[Any]:
    """A strategy for a field annotation, built from its parts."""
    if kind in BASE:
        return BASE[kind]
    if kind is Event:
        return st.one_of([strategy_for(cls, where) for cls in EVENT_TYPES.values()])
    if kind is Breaches:
        return st.lists(strategy_for(Breach, where), max_size=3).map(Breaches.of)
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, types.UnionType):
        return st.one_of([strategy_for(arg, where) for arg in args])
    if origin is Literal:
        return st.sampled_from(args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy_for(args[0], where), max_size=3).map(tuple)
        return st.tuples(*(strategy_for(arg, where) for arg in args))
    if origin is frozenset:
        return st.frozensets(strategy_for(args[0], where), max_size=3)
    if origin in (collections.abc.Mapping, dict):
        return st.dictionaries(
            strategy_for(args[0], where), strategy_for(args[1], where), max_size=3
        )
    if origin is collections.abc.Collection:
        return st.lists(strategy_for(args[0], where), max_size=3).map(tuple)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return st.sampled_from(list(kind))
    if isinstance(kind, type) and attrs.has(kind):
        return records(kind)
    raise AssertionError(f"{where}: no strategy for {kind!r}")


_RECORDS: dict[type, st.SearchStrategy[Any]] = {}


def records(cls: type) -> st.SearchStrategy[Any]:
    """Instances of an attrs class; draws its validators refuse are rejected."""
    if cls not in _RECORDS:
        _RECORDS[cls] = st.deferred(lambda: _build(cls))
    return _RECORDS[cls]


def _build(cls: type) -> st.SearchStrategy[Any]:
    if cls is Event:  # the abstract base: a record holds one of the tagged classes
        return strategy_for(Event, "Event")
    if cls in SPECIAL:
        return SPECIAL[cls]
    hints = hints_of(cls)
    overrides = FIELDS.get(cls.__qualname__, {})
    fields = {
        field.alias: overrides[field.name]
        if field.name in overrides
        else strategy_for(hints[field.name], f"{cls.__qualname__}.{field.name}")
        for field in attrs.fields(cls)
        if field.init
    }

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        values = {name: draw(strategy) for name, strategy in fields.items()}
        try:
            return cls(**values)
        except (IncidentKitError, ValueError, TypeError):
            reject()

    return build()


def _policies() -> st.SearchStrategy[Any]:
    """Policies: the default with generated roles, phases, zone, calendar and on-call parts."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        policy = Policy.default()
        try:
            return attrs.evolve(
                policy,
                roles=draw(records(RolePolicy)),
                phases=draw(records(PhaseTargets)),
                business_days=draw(records(BusinessDays)),
                channel_prefix=draw(TEXT),
                zone=draw(ZONES),
                oncall=draw(records(OnCallConfig)),
            )
        except (IncidentKitError, ValueError):
            reject()

    return build()


def _rotations() -> st.SearchStrategy[Any]:
    @st.composite
    def build(draw: st.DrawFn) -> Any:
        try:
            return Rotation(
                participants=draw(st.lists(st.sampled_from("abcde"), min_size=1, max_size=3)),
                start=draw(AWARE),
                zone=draw(ZONES),
                interval=draw(st.integers(min_value=1, max_value=3)),
                handoff_time=draw(st.times()),
                name=draw(st.sampled_from(["", "day", "night"])),
            )
        except (IncidentKitError, ValueError):
            reject()

    return build()


#: Classes whose cross-field rules a field-by-field draw would almost never satisfy.
SPECIAL: dict[type, st.SearchStrategy[Any]] = {Policy: _policies(), Rotation: _rotations()}


def _levels() -> st.SearchStrategy[Any]:
    one_each = st.tuples(
        *(
            records(SeverityLevel).map(lambda lv, s=s: attrs.evolve(lv, severity=s))
            for s in Severity
        )
    )
    return one_each.flatmap(lambda levels: st.permutations(levels)).map(tuple)


KEYS = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True)
ROLE_NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)

#: Fields whose validators a generic draw would almost never satisfy.
FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "BusinessDays": {
        # a country would need the optional holidays package (and a subdivision, a country)
        "country": st.none(),
        "subdivision": st.none(),
    },
    "ChecklistItem": {"key": KEYS},
    "ChecklistTemplate": {"name": KEYS},
    "RolePolicy": {"custom": st.lists(ROLE_NAMES, max_size=3, unique=True).map(tuple)},
    "FeatureFlagParams": {
        "flag": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,10}", fullmatch=True)
    },
    "RateCard": {
        "day_multipliers": st.tuples(*[BASE[Decimal]] * 7),
        "holiday_country": st.none(),  # would need the optional holidays package
        "minor_units": st.integers(min_value=0, max_value=6),
    },
    "Rule": {
        "when": st.sampled_from(
            [
                "error_rate > 0.10",
                "latency_seconds >= 5",
                "affected_share > 50%",
                "security_breach",
                "feature_scope == cosmetic",
            ]
        )
    },
    "SeverityPolicy": {"levels": st.deferred(_levels)},
    # the status capability: ids without spaces, references that exist
    "Component": {"id": KEYS, "group": st.none(), "page": st.just("main")},
    "ComponentGroup": {"id": KEYS},
    "StatusPage": {"id": KEYS, "audience": st.just("public")},
    "SlaTarget": {
        "target": st.floats(min_value=0.01, max_value=100),
        "component": st.none(),
        "group": st.none(),
        "period": st.sampled_from(["month", "90d", "24h"]),
    },
    "Subscriber": {
        "id": KEYS,
        "address": KEYS,
        "channel": st.sampled_from(["email", "webhook"]),
        "page": st.just("main"),
        "components": st.just(frozenset()),
    },
    "UptimeConfig": {
        "weights": st.dictionaries(
            st.sampled_from(list(ComponentStatus)), st.floats(min_value=0, max_value=1), max_size=3
        ),
        "maintenance": st.sampled_from(["excluded", "up"]),
    },
    "Templates": {
        "status_update": st.sampled_from([None, "${emoji} ${status}: ${headline}"]),
        "internal_line": st.sampled_from([None, "[${time}] ${by}: ${text}"]),
        "customer_report": st.sampled_from([None, "Dear customer, ${summary}"]),
        "customer_subject": st.sampled_from([None, "About ${title}"]),
    },
    "StatusConfig": {
        "pages": st.just((StatusPage("main", "Status"),)),
        "groups": st.just(()),
        "components": st.lists(
            st.builds(Component, id=KEYS, name=TEXT), max_size=3, unique_by=lambda c: c.id
        ).map(tuple),
        "audiences": st.just(("public", "support")),
        "cadence_audiences": st.sampled_from([None, ("public",), ("public", "support")]),
        "sla": st.just(()),
        "subscribers": st.just(()),
    },
    "Person": {"id": KEYS, "rules": st.none()},
    "PeopleConfig": {
        "persons": st.just(()),
        "num_loops": st.integers(min_value=1, max_value=5),
        "loop_after": st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=1)),
        "ack_timeout": st.dictionaries(
            st.sampled_from(list(Severity)),
            st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=4)),
            max_size=2,
        ),
    },
    "NotificationRule": {
        "delay": st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=1))
    },
    "ContactMethod": {"address": KEYS},
    # alert intake: heartbeat monitors and silences
    "HeartbeatMonitor": {
        "name": KEYS,
        "timeout": st.integers(min_value=5, max_value=9000 * 60).map(
            lambda m: timedelta(minutes=m)
        ),
    },
    "Silence": {
        "name": KEYS,
        "starts_at": st.just(datetime(2024, 11, 21, 2, tzinfo=UTC)),
        "ends_at": st.just(datetime(2024, 11, 21, 4, tzinfo=UTC)),
        "services": st.lists(KEYS, min_size=1, max_size=3).map(tuple),
    },
    "DrillScript": {
        "title": KEYS,
        "actions": st.just(()),
        "step": st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=1)),
        "duration": st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=7)),
    },
}

# --- the round trip ------------------------------------------------------------


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@pytest.mark.parametrize("cls", ROUND_TRIPPED, ids=_name)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_every_public_record_round_trips(cls: type, data: st.DataObject) -> None:
    value = data.draw(records(cls), label=cls.__qualname__)
    conv = converter()
    plain = conv.unstructure(value, cls)
    back = conv.structure(plain, cls)
    assert type(back) is type(value)
    assert back == value
    text = dumps(plain)
    from_text = conv.structure(json.loads(text), cls)
    assert from_text == value
    # canonical: the structured copy writes exactly the same JSON
    assert dumps(conv.unstructure(from_text, cls)) == text


def test_the_discovery_finds_the_records_it_must() -> None:
    from incidentkit.kit import TickReport
    from incidentkit.metrics import MetricsReport, Targets

    records_of_a_policy = (Policy, BusinessDays, PhaseTargets, SeverityLevel)
    for cls in (
        RecordedEvent,
        TickReport,
        MetricsReport,
        Targets,
        *records_of_a_policy,
        *EVENT_TYPES.values(),
    ):
        assert cls in CLASSES, cls
    assert set(NOT_SERIALIZABLE) <= set(CLASSES), "a stale entry in NOT_SERIALIZABLE"


@pytest.mark.parametrize("cls", list(NOT_SERIALIZABLE), ids=_name)
def test_a_record_that_cannot_round_trip_is_refused(cls: type) -> None:
    conv = converter()
    refusal = REFUSALS.get(cls, rf"{cls.__name__}\.\w+: holds a callable")
    with pytest.raises(ValidationError, match=refusal):
        conv.structure({}, cls)
    with pytest.raises(ValidationError, match=refusal):
        conv.structure({f.name: None for f in attrs.fields(cls)}, cls)


def test_a_record_that_cannot_round_trip_is_not_written_either() -> None:
    from incidentkit.mitigation import MitigationResult

    action = MitigationAction(
        name="noop", params_type=dict, execute=lambda ctx, params: MitigationResult.applied()
    )
    spec = NotifierSpec(name="n", deliver=lambda notification: None)
    for value in (action, spec):
        with pytest.raises(ValidationError, match="holds a callable"):
            converter().unstructure(value)
    with pytest.raises(ValidationError, match="never serialized"):
        converter().unstructure(ChainKey.from_text("a secret of sixteen bytes", "k"))


def test_a_recorded_event_keeps_its_event_class() -> None:
    record = RecordedEvent(
        "INC-1", 2, datetime(2024, 1, 1, tzinfo=UTC), NoteAdded(by="a", text="x")
    )
    plain = converter().unstructure(record)
    assert plain["event"] == {"type": "note_added", "by": "a", "text": "x"}
    assert converter().structure(plain, RecordedEvent) == record


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"by": "a"}, "unknown event type"),
        ({"type": "no_such_event", "by": "a"}, "unknown event type"),
        ({"type": ["note_added"], "by": "a"}, "unknown event type"),
        ("x", "expected an event object"),
    ],
)
def test_an_event_without_a_known_tag_is_refused(event: object, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        converter().structure(event, Event)


def test_an_event_class_outside_the_union_is_not_written() -> None:
    @attrs.frozen(kw_only=True)
    class Stray(Event):
        tag: typing.ClassVar[str] = "stray"

    record = RecordedEvent("INC-1", 1, datetime(2024, 1, 1, tzinfo=UTC), Stray(by="a"))
    with pytest.raises(ValidationError, match="Stray is not a registered event class"):
        converter().unstructure(record)


def test_a_policy_with_a_calendar_and_level_phases_round_trips() -> None:
    policy = Policy.from_toml(
        """
        zone = "Europe/Berlin"
        [business_days]
        holidays = [2025-01-06, "2025-04-18"]
        day_ends = "18:30"
        [[severity.levels]]
        severity = "SEV3"
        phases = { assess = "10m" }
        """
    )
    plain = converter().unstructure(policy)
    assert plain["business_days"]["holidays"] == ["2025-01-06", "2025-04-18"]
    levels = {level["severity"]: level for level in plain["severity"]["levels"]}
    assert "paging" not in levels["SEV1"] and "escalate_after" not in levels["SEV1"]
    assert levels["SEV3"]["phases"]["assess"] == 600
    assert converter().structure(json.loads(dumps(plain)), Policy) == policy


# --- the generated event encoders ----------------------------------------------

#: Every registered event class among the records (the capabilities' ones too).
EVENT_CLASSES = [
    cls
    for cls in ROUND_TRIPPED
    if issubclass(cls, Event) and cls is not Event and event_types().get(cls.tag) is cls
]


def _in_utc(event: Any) -> Any:
    """``event`` with every aware datetime field moved to UTC (as the engine records them)."""
    moved = copy.copy(event)
    for field in attrs.fields(type(event)):
        value = getattr(event, field.name)
        if type(value) is datetime and value.tzinfo is not None:
            object.__setattr__(moved, field.name, value.astimezone(UTC))
    return moved


def _outcome(encode: Any, event: Any) -> tuple[str, str]:
    try:
        return "ok", encode(event)
    except Exception as err:  # the two paths must fail alike
        return "raised", type(err).__name__


def _plain_json(event: Any) -> str:
    return dumps(event_to_dict(event))


class _Text(str):
    """A str subclass: not exactly ``str``, so the generated encoder must not trust it."""


ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    TEXT,
    TEXT.map(_Text),
    st.lists(TEXT, max_size=2).map(tuple),
    st.lists(st.integers(), max_size=2).map(tuple),
    st.lists(TEXT, max_size=2),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),  # naive
    AWARE,
    AWARE.map(lambda at: at.astimezone(UTC)),
    st.just(datetime(1899, 12, 31, tzinfo=UTC)),  # before EARLIEST
    st.sampled_from([*Severity, *ComponentStatus]),
)


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=_name)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_the_generated_event_encoder_writes_the_plain_bytes(cls: type, data: st.DataObject) -> None:
    """``event_to_json`` (generated per class) == ``dumps(event_to_dict(e))``, byte for byte."""
    event = data.draw(records(cls), label=cls.__qualname__)
    for value in (event, _in_utc(event)):
        assert event_to_json(value) == _plain_json(value)


@pytest.mark.parametrize("cls", [c for c in EVENT_CLASSES if attrs.fields(c)], ids=_name)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_an_odd_field_value_takes_the_plain_path(cls: type, data: st.DataObject) -> None:
    """A value of another type than declared is written (or refused) exactly as before."""
    event = _in_utc(data.draw(records(cls), label=cls.__qualname__))
    field = data.draw(st.sampled_from(attrs.fields(cls)), label="field")
    odd = copy.copy(event)
    object.__setattr__(odd, field.name, data.draw(ODD_VALUES, label="value"))
    assert _outcome(event_to_json, odd) == _outcome(_plain_json, odd)


def test_every_builtin_event_class_gets_a_generated_encoder() -> None:
    """The plain types cover the built-in events: none is left on the slow path."""
    from incidentkit import serialization

    for cls in EVENT_TYPES.values():
        encode = serialization._event_encoder(cls, converter())
        assert encode is not serialization._slow_json, cls


@pytest.mark.parametrize("cls", ROUND_TRIPPED, ids=_name)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_record_json_writes_the_plain_bytes(cls: type, data: st.DataObject) -> None:
    """``record_json`` (generated per class) == ``dumps(converter().unstructure(x))``."""
    value = data.draw(records(cls), label=cls.__qualname__)
    for one in (value, _in_utc(value)):
        assert record_json(one) == dumps(converter().unstructure(one))


@pytest.mark.parametrize("cls", [c for c in ROUND_TRIPPED if attrs.fields(c)], ids=_name)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_record_json_of_an_odd_field_value_is_the_plain_one(cls: type, data: st.DataObject) -> None:
    value = _in_utc(data.draw(records(cls), label=cls.__qualname__))
    field = data.draw(st.sampled_from(attrs.fields(cls)), label="field")
    odd = copy.copy(value)
    object.__setattr__(odd, field.name, data.draw(ODD_VALUES, label="value"))
    assert _outcome(record_json, odd) == _outcome(lambda v: dumps(converter().unstructure(v)), odd)


def test_a_notification_and_its_incident_get_generated_encoders() -> None:
    from incidentkit import serialization
    from incidentkit.lifecycle import Status
    from incidentkit.notify import IncidentRef, Notification, NotificationKind

    incident = IncidentRef(
        "INC-1", "Login API returning 500 errors", Severity.SEV1, Status.DECLARED
    )
    value = Notification(
        key="INC-1:2:page",
        kind=NotificationKind.PAGE,
        incident=incident,
        text="[SEV1] INC-1: Login API returning 500 errors",
        created_at=datetime(2024, 11, 20, 14, 30, tzinfo=UTC),
        targets=("alice",),
    )
    assert record_json(value) == dumps(converter().unstructure(value))
    assert serialization._encoders[Notification] is not serialization._plain_record_json
