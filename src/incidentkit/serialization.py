"""The one cattrs converter incidentkit uses for events, policies and outbox payloads.

:func:`make_converter` builds it; :func:`configure_converter` applies the same
choices to a converter you own. The choices:

* datetimes: ISO 8601 strings in UTC (``2024-11-20T22:30:00+00:00``); input must
  carry an offset, a naive value is refused;
* timedeltas: a number of seconds on output; on input a number of seconds, an
  ISO 8601 duration (``PT5M``) or a short form (``5m``, ``1h30m``, ``90s``, ``2d``);
* ``datetime.time``: ``"HH:MM"`` or ``"HH:MM:SS"``;
* ``zoneinfo.ZoneInfo``: its IANA key;
* strings, booleans, integers and floats: taken as they are, never coerced
  (``"yes"`` is not a boolean; an integer is accepted where a float is wanted);
* enums: by value; tuples and frozensets: JSON arrays (frozensets sorted);
* timeline events: a tagged union, the stable ``Event.tag`` under ``"type"``;
* unknown keys in structured input are refused (``forbid_extra_keys``).

Errors from structuring user input go through :func:`structure_input`, which
turns cattrs' exception groups into a :class:`PolicyError` whose problems are
key paths such as ``$.severity.levels[2].response_target``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.strategies import configure_tagged_union

from incidentkit._time import ensure_aware, parse_datetime
from incidentkit._validate import MAX_DURATION, shown
from incidentkit.errors import PolicyError, ValidationError
from incidentkit.events import EVENT_TYPES, AnyEvent, Event

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


def _event_tag(cls: type) -> str:
    return cast(type[Event], cls).tag


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
    converter.register_unstructure_hook(ZoneInfo, lambda v: v.key)
    converter.register_structure_hook(ZoneInfo, _structure_zone)
    converter.register_unstructure_hook_func(
        lambda t: getattr(t, "__origin__", None) is frozenset,
        lambda v: sorted(converter.unstructure(x) for x in v),
    )
    configure_tagged_union(AnyEvent, converter, tag_generator=_event_tag, tag_name="type")


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
    data: dict[str, Any] = converter().unstructure(event, AnyEvent)
    return data


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Structure a dict with a ``"type"`` tag back into its event class.

    :raises ValidationError: naming the field when the tag or a value is wrong.
    """
    tag = data.get("type")
    if not isinstance(tag, str) or tag not in EVENT_TYPES:
        raise ValidationError("type", f"unknown event type {tag!r}")
    try:
        event: Event = converter().structure(dict(data), cast(Any, AnyEvent))
    except (ClassValidationError, ValidationError, KeyError, TypeError, ValueError) as err:
        problems = _problems(err, "$")
        path, reason = problems[0] if problems else ("$", str(err))
        raise ValidationError(path, reason) from err
    return event


def event_to_json(event: Event) -> str:
    """Canonical JSON of an event (sorted keys; what the hash chain covers)."""
    return dumps(event_to_dict(event))


def event_from_json(text: str) -> Event:
    """Parse :func:`event_to_json` output back into the event."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValidationError("payload", f"not JSON: {err.msg} at char {err.pos}") from err
    if not isinstance(data, dict):
        raise ValidationError("payload", "expected a JSON object")
    return event_from_dict(data)


def dumps(data: object) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept (what the hash chain covers)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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
