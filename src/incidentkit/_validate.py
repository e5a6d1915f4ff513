"""The checks every entry point applies to what a caller hands it, and the limits.

One place per kind of input: text (bounded length, encodable as UTF-8, no
NUL or control characters), booleans, whole numbers in a range, sequences of
names, JSON-ready values (mitigation parameters), durations in a range and
incident ids. Each check returns the cleaned value or raises
:class:`~incidentkit.errors.ValidationError` naming the field, so a refused
command stores nothing and every store sees the same, already-bounded input.

Datetimes are checked by :func:`incidentkit._time.ensure_aware` (aware,
converted to UTC, between :data:`EARLIEST` and :data:`LATEST`).

The limits are documented on the concepts page ("Errors"); a test keeps the
page and these numbers in step.
"""

from __future__ import annotations

import enum
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from incidentkit._time import EARLIEST, LATEST
from incidentkit.errors import PolicyError, ValidationError

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_DURATION",
    "MAX_INTERVAL",
    "MAX_ITEMS",
    "MAX_LIMIT",
    "MAX_NAME_LENGTH",
    "MAX_NESTING",
    "MAX_TEXT_LENGTH",
    "MAX_TITLE_LENGTH",
    "MIN_INTERVAL",
    "boolean",
    "duration_in",
    "incident_ref",
    "integer",
    "json_value",
    "name",
    "names",
    "nesting_too_deep",
    "one_or_many",
    "parse_toml",
    "shown",
    "text",
    "title",
]

MAX_NAME_LENGTH = 128
"""Names and ids: ``by``, people, roles, services, audiences, checklists, items, actions."""

MAX_TITLE_LENGTH = 200
"""An incident's title."""

MAX_TEXT_LENGTH = 20_000
"""Free text: notes, descriptions, summaries, reasons, messages, hypotheses, details."""

MAX_ITEMS = 100
"""Entries in a list argument (services of an incident, statuses of a query)."""

MAX_LIMIT = 1_000_000
"""The largest ``limit`` a listing or delivery pass accepts."""

MAX_NESTING = 32
"""How deep lists and tables may nest in mitigation parameters and policy files."""

MAX_DURATION = timedelta(days=36_600)
"""The longest duration a policy or option may give (100 years)."""

MIN_INTERVAL = timedelta(milliseconds=10)
"""The shortest pause ``run_forever`` / ``incidentkit run`` accept between passes."""

MAX_INTERVAL = timedelta(days=1)
"""The longest pause between passes of the timer loop."""

# C0 controls and DEL; free text may keep tab, newline and carriage return.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def shown(value: object, width: int = 60) -> str:
    """A bounded ``repr`` of ``value`` for error messages (never raises)."""
    if isinstance(value, str):
        body = repr(value[: width + 1])
    elif isinstance(value, int | float | bool | enum.Enum) or value is None:
        try:
            body = repr(value)
        except ValueError:  # an int too long to print
            body = f"<{type(value).__name__}>"
    else:
        body = f"<{type(value).__name__}>"
    return body if len(body) <= width else body[: width - 1] + "…"


def text(
    value: object,
    field: str,
    *,
    max_length: int = MAX_TEXT_LENGTH,
    allow_empty: bool = False,
    single_line: bool = False,
) -> str:
    """Return ``value`` stripped; refuse non-text, too long, unencodable or control characters.

    Free text may hold tabs and line breaks; ``single_line`` text (names,
    titles) holds no control character at all. A lone surrogate (which UTF-8
    cannot encode, so neither the hash chain nor any store could keep it) and
    NUL are refused everywhere.
    """
    if not isinstance(value, str):
        raise ValidationError(field, f"expected text, got {type(value).__name__}")
    stripped = value.strip()
    if len(stripped) > max_length:
        raise ValidationError(field, f"longer than {max_length} characters")
    try:
        stripped.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValidationError(
            field, f"not encodable as UTF-8 (a lone surrogate at position {err.start})"
        ) from None
    found = (_CONTROL if single_line else _CONTROL_IN_TEXT).search(stripped)
    if found:
        what = "a NUL character" if found.group() == "\x00" else "a control character"
        raise ValidationError(field, f"contains {what} at position {found.start()}")
    if not stripped and not allow_empty:
        raise ValidationError(field, "must not be empty")
    return stripped


_NAMES: dict[str, str] = {}
"""Names already accepted by :func:`name`, to what they were stripped (bounded)."""


def name(value: object, field: str, *, allow_empty: bool = False) -> str:
    """One-line text of at most :data:`MAX_NAME_LENGTH` characters (people, roles, services …)."""
    if type(value) is str:
        known = _NAMES.get(value)
        if known is not None:  # the same few actors and ids recur on every command
            return known
    checked = text(
        value, field, max_length=MAX_NAME_LENGTH, allow_empty=allow_empty, single_line=True
    )
    if checked and type(value) is str:
        if len(_NAMES) >= 4096:
            _NAMES.clear()
        _NAMES[value] = checked
    return checked


def title(value: object, field: str = "title") -> str:
    """One-line text of at most :data:`MAX_TITLE_LENGTH` characters."""
    return text(value, field, max_length=MAX_TITLE_LENGTH, single_line=True)


def incident_ref(value: object, field: str = "incident_id") -> str:
    """An incident id as given to a lookup or a command: a non-empty name, as is."""
    name(value, field)
    assert isinstance(value, str)
    return value


def boolean(value: object, field: str) -> bool:
    """``value`` when it is ``True`` or ``False``; anything else (``"no"``, ``0``) is refused."""
    if not isinstance(value, bool):
        raise ValidationError(field, f"expected True or False, got {type(value).__name__}")
    return value


def integer(value: object, field: str, low: int, high: int) -> int:
    """A whole number (not a boolean) from ``low`` to ``high`` inclusive."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"expected a whole number, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValidationError(field, f"must be from {low} to {high}")
    return value


def names(value: object, field: str, *, max_items: int = MAX_ITEMS) -> tuple[str, ...]:
    """A list (or tuple) of names, de-duplicated in order; one bare string is refused."""
    if isinstance(value, str) or not isinstance(value, Sequence | frozenset | set):
        got = "one string" if isinstance(value, str) else type(value).__name__
        raise ValidationError(field, f"expected a list of names, got {got}")
    if len(value) > max_items:
        raise ValidationError(field, f"more than {max_items} entries")
    return tuple(dict.fromkeys(name(item, field) for item in value))


def one_or_many(value: object, field: str, *, max_items: int = MAX_ITEMS) -> list[object]:
    """One value (text, a number or an enum member) or a list of them, as a list."""
    if isinstance(value, str | int | enum.Enum):
        return [value]
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise ValidationError(field, f"expected a value or a list, got {type(value).__name__}")
    items: list[object] = []
    for item in value:
        if len(items) == max_items:
            raise ValidationError(field, f"more than {max_items} entries")
        items.append(item)
    return items


def json_value(value: object, field: str, depth: int = 0) -> Any:
    """A JSON-ready copy of ``value``: text, numbers, booleans, ``None``, lists and tables.

    Strings are checked as free text; floats must be finite; nesting stops at
    :data:`MAX_NESTING`; table keys are names.
    """
    if depth > MAX_NESTING:
        raise ValidationError(field, f"nested deeper than {MAX_NESTING} levels")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(field, "must be a finite number")
        return value
    if isinstance(value, str):
        return text(value, field, allow_empty=True)
    if isinstance(value, Mapping):
        if len(value) > MAX_ITEMS:
            raise ValidationError(field, f"more than {MAX_ITEMS} entries")
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(field, f"keys must be strings, got {shown(key)}")
            clean = name(key, f"{field} key")
            result[clean] = json_value(item, f"{field}.{clean}", depth + 1)
        return result
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            raise ValidationError(field, f"more than {MAX_ITEMS} entries")
        return [json_value(item, f"{field}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise ValidationError(field, f"not a JSON value: {type(value).__name__}")


def nesting_too_deep(data: object, limit: int = MAX_NESTING) -> str | None:
    """The key path of the first value nested deeper than ``limit`` (``None``: within it).

    Iterative, so even data too deep for recursive code is measured safely.
    """
    stack: list[tuple[object, str, int]] = [(data, "$", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > limit:
            return path
        if isinstance(node, Mapping):
            stack.extend((v, f"{path}.{k}", depth + 1) for k, v in node.items())
        elif isinstance(node, list | tuple):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node))
    return None


def duration_in(value: object, field: str, low: timedelta, high: timedelta) -> timedelta:
    """A timedelta from ``low`` to ``high`` inclusive."""
    if not isinstance(value, timedelta):
        raise ValidationError(field, f"expected a timedelta, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValidationError(field, f"must be from {low} to {high}, got {value}")
    return value


def parse_toml(text: str, *, source: str | None = None) -> dict[str, Any]:
    """Parse a TOML document whose lists and tables nest at most :data:`MAX_NESTING` deep.

    :raises PolicyError: for text that is not TOML, or nests too deep (even
        deeper than the parser itself could follow), naming ``source``.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PolicyError([("$", f"not valid TOML: {err}")], source=source) from err
    except RecursionError:
        raise PolicyError(
            [("$", f"lists or tables nest deeper than {MAX_NESTING} levels")], source=source
        ) from None
    path = nesting_too_deep(data)
    if path is not None:
        raise PolicyError(
            [(path, f"lists or tables nest deeper than {MAX_NESTING} levels")], source=source
        )
    return data
