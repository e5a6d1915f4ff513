"""The one cattrs converter incidentkit uses for events, policies and outbox payloads.

:func:`make_converter` builds it; :func:`configure_converter` applies the same
choices to a converter you own. The choices:

* datetimes: ISO 8601 strings in UTC (``2024-11-20T22:30:00+00:00``); input must
  carry an offset, a naive value is refused;
* timedeltas: a number of seconds on output; on input a number of seconds, an
  ISO 8601 duration (``PT5M``) or a short form (``5m``, ``1h30m``, ``90s``, ``2d``);
* ``datetime.time``: ``"HH:MM"`` or ``"HH:MM:SS"``; ``datetime.date``: ``"YYYY-MM-DD"``
  (or a TOML date; a datetime is not a date);
* ``decimal.Decimal`` (money): a string, so no digit is lost; on input a string
  or an integer;
* ``bytes``: base64 text (RFC 4648, padded); on input only such text, checked
  strictly;
* ``zoneinfo.ZoneInfo``: its IANA key; any other ``tzinfo`` field takes an IANA
  key or a fixed offset (``"+05:30"``, what a ``datetime.timezone`` becomes);
* strings, booleans, integers and floats: taken as they are, never coerced
  (``"yes"`` is not a boolean; an integer is accepted where a float is wanted);
* enums: by value; tuples, frozensets and other collections: JSON arrays
  (frozensets sorted), structured back as tuples (collections) or frozensets;
  mappings with enum keys: objects keyed by the enum's value;
* timeline events: every registered event class (built in, or added with
  :func:`~incidentkit.events.register_event`) is written with its stable
  ``Event.tag`` under ``"type"`` and read back by it, whatever the declared
  type (``RecordedEvent.event`` is typed as the base class); an unknown tag or
  an unregistered event class is refused with :class:`ValidationError`;
* a record that holds a callable, a class or a value of any type
  (``MitigationAction``, ``NotifierSpec``, ``testing.RecordedCall``) cannot be
  serialized: (un)structuring one raises :class:`ValidationError` naming the field;
* capability modules add hooks for their own non-attrs values through
  :func:`register_hooks` (the metrics report's ``Breaches``, for example);
* unknown keys in structured input are refused (``forbid_extra_keys``).

Canonical JSON (:func:`dumps`: sorted keys, no spaces, UTF-8 kept) is what the
hash chain covers. :func:`event_to_json` and :func:`record_json` write it from
an encoder generated once per class: fields of plain types go straight into the
text, anything else through the converter, and the bytes are exactly those of
``dumps(converter().unstructure(x))`` (a property test holds every public record
class to it).

Errors from structuring user input go through :func:`structure_input`, which
turns cattrs' exception groups into a :class:`PolicyError` whose problems are
key paths such as ``$.severity.levels[2].response_target``.
"""

from __future__ import annotations

import base64
import binascii
import collections.abc
import enum
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import cattrs
import cattrs.gen
from cattrs.errors import ClassValidationError, IterableValidationError

from incidentkit._time import EARLIEST, LATEST, ensure_aware, parse_datetime
from incidentkit._validate import MAX_DURATION, shown
from incidentkit.checklists import ChecklistTemplate
from incidentkit.errors import PolicyError, ValidationError
from incidentkit.events import Declared, Event, event_types

__all__ = [
    "configure_converter",
    "converter",
    "dumps",
    "event_from_dict",
    "event_from_json",
    "event_to_dict",
    "event_to_json",
    "make_converter",
    "parse_duration",
    "record_json",
    "register_hooks",
    "structure_input",
]

T = TypeVar("T")

_SHORT = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*([dhms]|min|mins|minutes?|hours?|days?|sec|seconds?)\s*)+$"
)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms]|min|mins|minutes?|hours?|days?|sec|seconds?)")
_ISO = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: object, field: str = "duration") -> timedelta:
    """Parse seconds, ``PT5M`` or ``5m``/``1h30m`` into a timedelta.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration("PT15M")
    datetime.timedelta(seconds=900)
    >>> parse_duration(300)
    datetime.timedelta(seconds=300)
    """
    if isinstance(value, timedelta):
        return _bounded(value.total_seconds(), value, field)
    if isinstance(value, bool):
        raise ValidationError(field, "expected a duration, got a boolean")
    if isinstance(value, int | float):
        return _bounded(value, value, field)
    if isinstance(value, str) and len(value) <= 100:
        text = value.strip()
        iso = _ISO.match(text.upper())
        if iso and text.upper() != "P" and any(iso.groupdict().values()):
            parts = {k: float(v) for k, v in iso.groupdict().items() if v}
            seconds = sum(parts.get(unit, 0.0) * _UNIT_SECONDS[unit] for unit in "dhms")
            return _bounded(seconds, value, field)
        if _SHORT.match(text.lower()):
            total = sum(
                float(num) * _UNIT_SECONDS[unit[0]] for num, unit in _PART.findall(text.lower())
            )
            return _bounded(total, value, field)
    raise ValidationError(
        field, f"not a duration: {shown(value)} (use seconds, '5m', '1h30m' or 'PT5M')"
    )


def _bounded(seconds: float, value: object, field: str) -> timedelta:
    """``seconds`` as a timedelta when finite and within :data:`MAX_DURATION` either way."""
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise ValidationError(field, f"{shown(value)} is not a finite number of seconds")
    if abs(seconds) > MAX_DURATION.total_seconds():
        raise ValidationError(
            field, f"{shown(value)} is longer than the {MAX_DURATION.days} days allowed"
        )
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def _unstructure_timedelta(value: timedelta) -> int | float:
    seconds = value.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


def _unstructure_datetime(value: datetime) -> str:
    # UTC, as documented: the same instant always gives the same canonical JSON.
    return ensure_aware(value, "datetime").isoformat()


def _structure_datetime(value: object, _: type[Any]) -> datetime:
    try:
        if isinstance(value, datetime):
            return ensure_aware(value, "datetime")
        if isinstance(value, str):
            return parse_datetime(value, "datetime")
    except ValidationError as err:
        raise ValueError(err.reason) from None
    raise ValueError(f"expected an ISO 8601 datetime, got {type(value).__name__}")


def _structure_time(value: object, _: type[Any]) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"not a time of day: {value!r} (use 'HH:MM')")


def _structure_zone(value: object, _: type[Any]) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    if isinstance(value, str) and value:
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise ValueError(f"unknown IANA time zone: {value!r}")


_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})(?::(\d{2}))?$")


def _unstructure_tzinfo(value: tzinfo) -> str:
    if isinstance(value, ZoneInfo):
        return value.key
    if isinstance(value, timezone):
        offset = value.utcoffset(None)
        sign = "-" if offset < timedelta(0) else "+"
        seconds = int(abs(offset).total_seconds())
        text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
        return text + (f":{seconds % 60:02d}" if seconds % 60 else "")
    raise ValidationError(
        "zone", f"cannot serialize time zone {value!r} (use a zoneinfo.ZoneInfo or an offset)"
    )


def _structure_tzinfo(value: object, cls: type[Any]) -> tzinfo:
    if isinstance(value, tzinfo):
        return value
    if isinstance(value, str):
        offset = _OFFSET.match(value.strip())
        if offset:
            sign, hours, minutes, seconds = offset.groups()
            delta = timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
            if delta < timedelta(hours=24):
                return timezone(-delta if sign == "-" else delta)
        else:
            return _structure_zone(value, cls)
    raise ValueError(f"not a time zone: {value!r} (use an IANA key or '+HH:MM')")


def _structure_date(value: object, _: type[Any]) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        raise ValueError(f"expected a date, got a date and time ({value.isoformat()})")
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"not a date: {value!r} (use 'YYYY-MM-DD')")


def _unstructure_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _structure_bytes(value: object, _: type[Any]) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"expected base64 text, got {type(value).__name__}")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ValueError("not base64 text (RFC 4648, padded)") from None


def _structure_decimal(value: object, _: type[Any]) -> Decimal:
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str | int) and not isinstance(value, bool):
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
    else:
        raise ValueError(f"expected a decimal number as text, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _is_event_class(cls: object) -> bool:
    return isinstance(cls, type) and issubclass(cls, Event)


def _unstructure_event(converter: cattrs.Converter) -> Callable[[Event], dict[str, Any]]:
    """Events unstructure to their fields plus the ``"type"`` tag, whatever the declared type."""
    plain: dict[type, Callable[[Any], Any]] = {}

    def hook(event: Event) -> dict[str, Any]:
        cls = type(event)
        if event_types().get(cls.tag) is not cls:
            raise ValidationError(
                "type", f"{cls.__name__} is not a registered event class (see register_event)"
            )
        if cls not in plain:
            plain[cls] = cattrs.gen.make_dict_unstructure_fn(cls, converter)
        data: dict[str, Any] = plain[cls](event)
        data["type"] = cls.tag
        return data

    hook.incidentkit_events = True  # type: ignore[attr-defined]  # event_to_json looks for it
    return hook


def _structure_event(converter: cattrs.Converter) -> Callable[[Any, type], Event]:
    """Structure any registered event from its ``"type"`` tag (open to capabilities)."""
    plain: dict[type, Callable[[Any, type], Any]] = {}

    def hook(value: Any, _: type) -> Event:
        if not isinstance(value, Mapping):
            raise ValidationError("event", f"expected an event object, got {type(value).__name__}")
        tag = value.get("type")
        cls = event_types().get(tag) if isinstance(tag, str) else None
        if cls is None:
            raise ValidationError("type", f"unknown event type {tag!r}")
        if cls not in plain:
            plain[cls] = cattrs.gen.make_dict_structure_fn(
                cls, converter, _cattrs_forbid_extra_keys=True
            )
        fields = {k: v for k, v in value.items() if k != "type"}
        event: Event = plain[cls](fields, cls)
        return event

    return hook


def _structure_timedelta(value: object, _: type[Any]) -> timedelta:
    try:
        return parse_duration(value)
    except ValidationError as err:
        raise ValueError(err.reason) from None


def _structure_optional_timedelta(value: object, cls: type[Any]) -> timedelta | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "off")):
        return None
    return _structure_timedelta(value, cls)


_KIND_NAMES = {str: "text", bool: "true or false", int: "an integer", float: "a number"}


def _strict(kind: type[Any], *accept: type[Any]) -> Any:
    """A structure hook that refuses values of the wrong JSON/TOML type (no coercion)."""
    allowed = accept or (kind,)
    wanted = _KIND_NAMES.get(kind, kind.__name__)

    def hook(value: object, cls: type[Any]) -> Any:
        if cls is not kind:  # a subclass such as a StrEnum: construct it by value
            return cls(value)
        if isinstance(value, bool) and kind is not bool:
            raise ValueError(f"expected {wanted}, got a boolean")
        if not isinstance(value, allowed):
            raise ValueError(f"expected {wanted}, got {type(value).__name__} {value!r}")
        return kind(value)

    return hook


_CODE_TEXT = re.compile(r"\bCallable\b|\btype\[")


def _unserializable_field(cls: Any) -> str | None:
    """The first field of an attrs class that holds a callable, a class or ``Any``, if any."""
    if not (isinstance(cls, type) and attrs.has(cls)):
        return None
    try:
        hints = get_type_hints(cls)
    except (NameError, TypeError):
        # an annotation names something imported only for type checking: read its text
        for field in attrs.fields(cls):
            text = field.type if isinstance(field.type, str) else ""
            if _CODE_TEXT.search(text) or text == "Any":
                return str(field.name)
        return None
    for field in attrs.fields(cls):
        name: str = field.name
        kind = hints.get(name, field.type)
        if kind is Any:  # structured back as plain data, never as what it held
            return name
        for part in (kind, *get_args(kind)):
            origin = get_origin(part)
            if origin is type or origin is collections.abc.Callable or part is type:
                return name
    return None


def _holds_code(cls: Any) -> bool:
    return _unserializable_field(cls) is not None


def _refuse(cls: type[Any]) -> Callable[..., Any]:
    field = _unserializable_field(cls)

    def hook(*_: object) -> Any:
        raise ValidationError(
            f"{cls.__name__}.{field}",
            "holds a callable, a class or a value of any type, so it cannot be "
            "serialized; build it in code",
        )

    return hook


def _is_collection(kind: Any) -> bool:
    return get_origin(kind) in (collections.abc.Collection, collections.abc.Iterable)


def _collection_hook(converter: cattrs.Converter, kind: Any) -> Callable[[object, Any], Any]:
    """Structure an abstract ``Collection[X]`` from a JSON array, as a tuple."""
    (item,) = get_args(kind) or (Any,)
    as_tuple = tuple[item, ...]  # type: ignore[valid-type]
    structure = converter.get_structure_hook(as_tuple)

    def hook(value: object, _: Any) -> Any:
        if isinstance(value, str | bytes | Mapping):
            raise ValueError(f"expected a list, got {type(value).__name__}")
        return structure(value, as_tuple)

    return hook


_EXTRA_HOOKS: list[Callable[[cattrs.Converter], None]] = []


def register_hooks(configure: Callable[[cattrs.Converter], None]) -> None:
    """Have every incidentkit converter apply ``configure`` (hooks for a module's own types).

    A capability module calls this once at import, for values that are not
    attrs classes; converters built later get the hooks from
    :func:`configure_converter`, and so does the shared one if it exists already.
    """
    _EXTRA_HOOKS.append(configure)
    if _CONVERTER is not None:
        configure(_CONVERTER)


def configure_converter(converter: cattrs.Converter) -> None:
    """Apply incidentkit's choices (see the module docstring) to ``converter``."""
    converter.register_structure_hook(str, _strict(str))
    converter.register_structure_hook(bool, _strict(bool))
    converter.register_structure_hook(int, _strict(int))
    converter.register_structure_hook(float, _strict(float, int, float))
    converter.register_unstructure_hook(datetime, _unstructure_datetime)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(timedelta, _unstructure_timedelta)
    converter.register_structure_hook(timedelta, _structure_timedelta)
    converter.register_structure_hook(timedelta | None, _structure_optional_timedelta)
    converter.register_unstructure_hook(
        time,
        lambda v: (
            v.isoformat(timespec="minutes")
            if v.second == 0 and v.microsecond == 0
            else v.isoformat()
        ),
    )
    converter.register_structure_hook(time, _structure_time)
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_structure_hook(date, _structure_date)
    converter.register_unstructure_hook(bytes, _unstructure_bytes)
    converter.register_structure_hook(bytes, _structure_bytes)

    def structure_dates(value: object, _: type[Any]) -> frozenset[date]:
        if not isinstance(value, list | tuple | set | frozenset):
            raise ValueError(f"expected a list of dates, got {value!r}")
        return frozenset(converter.structure(list(value), tuple[date, ...]))

    converter.register_structure_hook_func(lambda t: t == frozenset[date], structure_dates)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, _structure_decimal)
    converter.register_unstructure_hook(ZoneInfo, lambda v: v.key)
    converter.register_structure_hook(ZoneInfo, _structure_zone)
    converter.register_unstructure_hook(tzinfo, _unstructure_tzinfo)
    converter.register_structure_hook_func(lambda t: t is tzinfo, _structure_tzinfo)
    converter.register_unstructure_hook_func(
        lambda t: getattr(t, "__origin__", None) is frozenset,
        lambda v: sorted(converter.unstructure(x) for x in v),
    )
    converter.register_unstructure_hook_func(
        _is_collection, lambda v: [converter.unstructure(x) for x in v]
    )
    converter.register_structure_hook_factory(
        _is_collection, lambda t: _collection_hook(converter, t)
    )
    converter.register_unstructure_hook_func(_is_event_class, _unstructure_event(converter))
    converter.register_structure_hook(Event, _structure_event(converter))
    converter.register_structure_hook_factory(_holds_code, _refuse)
    converter.register_unstructure_hook_factory(_holds_code, _refuse)
    for configure in _EXTRA_HOOKS:
        configure(converter)


def make_converter() -> cattrs.Converter:
    """Return a new converter configured for incidentkit."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    configure_converter(converter)
    return converter


_CONVERTER: cattrs.Converter | None = None


def converter() -> cattrs.Converter:
    """The shared converter incidentkit itself uses (built once, on first use)."""
    global _CONVERTER
    if _CONVERTER is None:
        _CONVERTER = make_converter()
    return _CONVERTER


def event_to_dict(event: Event) -> dict[str, Any]:
    """Unstructure an event into a JSON-ready dict with its ``"type"`` tag."""
    data: dict[str, Any] = converter().unstructure(event, type(event))
    return data


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Structure a dict with a ``"type"`` tag back into its event class.

    :raises ValidationError: naming the field when the tag or a value is wrong.
    """
    tag = data.get("type")
    if not isinstance(tag, str) or tag not in event_types():
        raise ValidationError("type", f"unknown event type {tag!r}")
    try:
        event: Event = converter().structure(dict(data), Event)
    except (ClassValidationError, ValidationError, KeyError, TypeError, ValueError) as err:
        problems = _problems(err, "$")
        path, reason = problems[0] if problems else ("$", str(err))
        raise ValidationError(path, reason) from err
    return event


def event_to_json(event: Event) -> str:
    """Canonical JSON of an event (sorted keys; what the hash chain covers)."""
    if type(event) is Declared and event.checklists:
        return _declared_json(event)
    cls = type(event)
    shared = converter()
    if shared is not _encoders_of[0]:  # a new shared converter: its hooks may differ
        _encoders.clear()
        _encoders_of[0] = shared
    encode = _encoders.get(cls)
    if encode is None:
        encode = _event_encoder(cls, shared)
    return encode(event)


def _slow_json(event: Event) -> str:
    return dumps(event_to_dict(event))


_encoders: dict[type, Callable[[Any], str]] = {}
"""Each event class's generated canonical-JSON encoder (made on first use)."""
_encoders_of: list[cattrs.Converter | None] = [None]


def _field_json(hint: object, index: int) -> tuple[str, str, type[enum.Enum] | None] | None:
    """``(test, expression, enum class)`` writing field value ``v<index>`` as JSON, or ``None``.

    ``None``: the type is not one of the plain ones; the converter encodes it.
    """
    value = f"v{index}"
    if hint is str:
        return f"type({value}) is str", f"esc({value})", None
    if hint is bool:
        return f"{value} is True or {value} is False", f"('true' if {value} else 'false')", None
    if hint is int:
        return f"type({value}) is int", f"int_repr({value})", None
    if hint is datetime:
        test = (
            f"type({value}) is datetime and {value}.tzinfo is UTC and EARLIEST <= {value} < LATEST"
        )
        return test, f"'\"' + {value}.isoformat() + '\"'", None
    if isinstance(hint, type) and issubclass(hint, enum.Enum) and issubclass(hint, str):
        # A str enum member's text is its value, which is what the converter writes.
        if any(str.__str__(member) != member.value for member in hint):
            return None
        return f"type({value}) is {_enum_name(hint)}", f"esc({value})", hint
    if get_origin(hint) is tuple and get_args(hint) == (str, ...):
        test = f"type({value}) is tuple and all(type(x) is str for x in {value})"
        return test, f"'[' + ','.join(map(esc, {value})) + ']'", None
    return None


def _nested_slow(kind: type) -> Callable[[Any], str]:
    """The plain encoding of a nested record, as its parent's converter would write it."""

    def slow(value: object) -> str:
        return dumps(converter().unstructure(value, kind))

    return slow


def _enum_name(kind: type) -> str:
    return f"enum_{kind.__module__.replace('.', '_')}_{kind.__qualname__.replace('.', '_')}"


def _event_encoder(cls: type[Event], shared: cattrs.Converter) -> Callable[[Any], str]:
    """Generate ``cls``'s canonical-JSON encoder: byte-identical to ``dumps(event_to_dict(e))``.

    Fields of plain types (text, whole numbers, flags, instants, str enums,
    tuples of text, and any of those or ``None``) are written straight into
    the JSON text in sorted-key order; a value of another type, or one whose
    type is not exactly the declared one, goes through the converter and
    :func:`dumps` as before. A class that is not registered, or whose
    unstructure hook is not incidentkit's event hook, keeps the plain path
    (and its errors).
    """
    hook = shared.get_unstructure_hook(cls)
    if event_types().get(getattr(cls, "tag", "")) is not cls or not getattr(
        hook, "incidentkit_events", False
    ):
        return _slow_json  # not kept: registering the class later changes the answer
    try:
        encode = _generate(cls, shared, cls.tag, _slow_json)
    except Exception:  # a type the generator cannot read: the plain path
        encode = _slow_json
    _encoders[cls] = encode
    return encode


def record_json(value: object) -> str:
    """``dumps(converter().unstructure(value))`` for an attrs record, generated per class.

    Used for the outbox payload of every notification. A class whose
    unstructure hook is cattrs' generated one (no custom hook registered)
    gets an encoder like an event's (:func:`event_to_json`); any other value
    takes the plain path.
    """
    cls = type(value)
    shared = converter()
    if shared is not _encoders_of[0]:
        _encoders.clear()
        _encoders_of[0] = shared
    encode = _encoders.get(cls)
    if encode is None:
        encode = _record_encoder(cls, shared)
    return encode(value)


def _plain_record_json(value: object) -> str:
    return dumps(converter().unstructure(value))


def _generated_hook(cls: type, shared: cattrs.Converter) -> bool:
    """Whether ``cls`` is unstructured by cattrs' own generated function (all fields, by name)."""
    hook = shared.get_unstructure_hook(cls)
    code = getattr(hook, "__code__", None)
    return (
        attrs.has(cls)
        and not shared.omit_if_default
        and code is not None
        and code.co_filename.startswith("<cattrs generated unstructure ")
    )


def _record_encoder(cls: type, shared: cattrs.Converter) -> Callable[[Any], str]:
    encode: Callable[[Any], str] = _plain_record_json
    if _generated_hook(cls, shared):
        try:
            encode = _generate(cls, shared, None, _plain_record_json)
        except Exception:  # a type the generator cannot read: the plain path
            encode = _plain_record_json
    _encoders[cls] = encode
    return encode


def _generate(
    cls: type, shared: cattrs.Converter, tag: str | None, slow: Callable[[Any], str]
) -> Callable[[Any], str]:
    """The encoder of ``cls``'s fields (and a ``"type": tag`` entry unless ``tag`` is None)."""
    hints = get_type_hints(cls)
    # cattrs leaves out init=False fields (derived caches), and so does this.
    fields = {a.name: hints.get(a.name, a.type) for a in attrs.fields(cls) if a.init}
    if tag is not None and "type" in fields:
        return slow
    scope: dict[str, Any] = {
        "esc": json.encoder.encode_basestring,
        "int_repr": int.__repr__,
        "datetime": datetime,
        "UTC": UTC,
        "EARLIEST": EARLIEST,
        "LATEST": LATEST,
        "slow": slow,
        "dumps": dumps,
        "unstructure": shared.unstructure,
    }
    lines = ["def encode(e):"]
    pieces: list[str] = []  # alternating literal JSON text and j<index> names
    literal = "{"
    names = sorted([*fields, "type"] if tag is not None else fields)
    for index, name in enumerate(names):
        literal += ("" if index == 0 else ",") + json.encoder.encode_basestring(name) + ":"
        if name == "type" and tag is not None:
            literal += json.encoder.encode_basestring(tag)
            continue
        pieces.extend((repr(literal), f"j{index}"))
        literal = ""
        hint = fields[name]
        lines.append(f"    v{index} = e.{name}")
        optional = False
        args = get_args(hint)
        if len(args) == 2 and type(None) in args:
            optional = True
            hint = next(arg for arg in args if arg is not type(None))
        plain = _field_json(hint, index)
        if plain is None and isinstance(hint, type) and _generated_hook(hint, shared):
            # A nested record (an incident reference): its own encoder, by its exact type.
            scope[f"nested{index}"] = _generate(hint, shared, None, _nested_slow(hint))
            scope[f"kind{index}"] = hint
            plain = (f"type(v{index}) is kind{index}", f"nested{index}(v{index})", None)
        if plain is None:
            scope[f"hint{index}"] = fields[name]
            lines.append(f"    j{index} = dumps(unstructure(v{index}, hint{index}))")
            continue
        test, expression, kind = plain
        if kind is not None:
            scope[_enum_name(kind)] = kind
        branch = "if"
        if optional:
            lines.append(f"    if v{index} is None:\n        j{index} = 'null'")
            branch = "elif"
        lines.append(f"    {branch} {test}:\n        j{index} = {expression}")
        lines.append("    else:\n        return slow(e)")
    pieces.append(repr(literal + "}"))
    lines.append(f"    return ''.join(({', '.join(pieces)},))")
    exec(compile("\n".join(lines), f"<json {cls.__qualname__}>", "exec"), scope)
    encode: Callable[[Any], str] = scope["encode"]
    return encode


_TEMPLATES_KEY = "checklists"
_declared_templates: tuple[tuple[ChecklistTemplate, ...], str] | None = None
"""The templates of the last declaration and their canonical JSON (most of its bytes)."""
_declared_rest: Callable[[Declared], dict[str, Any]] | None = None


def _declared_json(event: Declared) -> str:
    """:func:`event_to_json` of a declaration, its templates encoded once per policy.

    Every declaration under one policy holds the same templates object, about
    three quarters of its JSON; it is encoded once and spliced in at its sorted
    place. Byte-identical to ``dumps(event_to_dict(event))``.
    """
    global _declared_templates, _declared_rest
    templates = event.checklists
    cached = _declared_templates
    if cached is None or cached[0] is not templates:
        encoded = dumps(converter().unstructure(templates, tuple[ChecklistTemplate, ...]))
        cached = _declared_templates = (templates, encoded)
    if _declared_rest is None:
        _declared_rest = cattrs.gen.make_dict_unstructure_fn(
            Declared, converter(), checklists=cattrs.gen.override(omit=True)
        )
    rest = _declared_rest(event)
    rest["type"] = Declared.tag
    head = dumps({k: v for k, v in rest.items() if k < _TEMPLATES_KEY})[1:-1]
    tail = dumps({k: v for k, v in rest.items() if k > _TEMPLATES_KEY})[1:-1]
    middle = f'"{_TEMPLATES_KEY}":{cached[1]}'
    return "{" + ",".join(part for part in (head, middle, tail) if part) + "}"


def event_from_json(text: str) -> Event:
    """Parse :func:`event_to_json` output back into the event."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValidationError("payload", f"not JSON: {err.msg} at char {err.pos}") from err
    if not isinstance(data, dict):
        raise ValidationError("payload", "expected a JSON object")
    return event_from_dict(data)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""The encoder ``json.dumps`` would build per call for these options, built once."""

_C_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)
# CPython's C encoder for exactly these options, made once: ``JSONEncoder.encode``
# builds a new one on every call, which costs more than encoding a small event.
# No circular-reference markers: what is encoded here is trees of plain values.
_C_ENCODE: Callable[[object, int], Any] | None = (
    None
    if _C_MAKE_ENCODER is None
    else _C_MAKE_ENCODER(
        None,  # markers
        _CANONICAL.default,
        json.encoder.encode_basestring,
        None,  # indent
        ":",
        ",",
        True,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
)


def dumps(data: object) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept (what the hash chain covers)."""
    if _C_ENCODE is None:
        return _CANONICAL.encode(data)
    return "".join(_C_ENCODE(data, 0))


def _problems(err: BaseException, path: str) -> list[tuple[str, str]]:
    """Flatten cattrs exception groups into ``(key path, reason)`` pairs."""
    if isinstance(err, ClassValidationError):
        noted, others = err.group_exceptions()
        found: list[tuple[str, str]] = []
        for sub, attr_note in noted:
            found.extend(_problems(sub, f"{path}.{attr_note.name}"))
        for sub in others:
            found.extend(_problems(sub, path))
        return found
    if isinstance(err, IterableValidationError):
        inoted, iothers = err.group_exceptions()
        found = []
        for sub, index_note in inoted:
            found.extend(_problems(sub, f"{path}[{index_note.index!r}]"))
        for sub in iothers:
            found.extend(_problems(sub, path))
        return found
    if isinstance(err, ValidationError):
        # Raised by an attrs validator: its field is relative to the class at ``path``.
        field = err.field if err.field.startswith(("[", "$")) else f".{err.field}"
        return [(path + field.removeprefix("$"), err.reason)]
    if isinstance(err, PolicyError):
        return [(f"{path}{p[1:] if p.startswith('$') else '.' + p}", r) for p, r in err.problems]
    if isinstance(err, KeyError):
        return [(path, "required key is missing")]
    if isinstance(err, cattrs.ForbiddenExtraKeysError):
        return [(f"{path}.{key}", "unknown key") for key in sorted(err.extra_fields)]
    if isinstance(err, TypeError | ValueError):
        return [(path, str(err))]
    return [(path, f"{type(err).__name__}: {err}")]


def structure_input(
    converter: cattrs.Converter,
    data: Mapping[str, Any] | Any,
    cls: type[T],
    *,
    source: str | None = None,
    root: str = "$",
) -> T:
    """Structure user input into ``cls``; raise :class:`PolicyError` naming each bad key path."""
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, ValidationError, PolicyError) as err:
        raise PolicyError(_problems(err, root), source=source) from err
    except (KeyError, TypeError, ValueError, cattrs.ForbiddenExtraKeysError) as err:
        raise PolicyError(_problems(err, root), source=source) from err
