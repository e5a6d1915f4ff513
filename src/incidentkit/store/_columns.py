"""The summary table, described once for every SQL store.

Each column names its :class:`IncidentSummary` field and its kind; a store
supplies a :class:`Codec` (how it writes a time and a list of services) and
gets its upsert statement, its select list and its row mapping from here.
Adding a summary column is one line here, one field on ``IncidentSummary``
and one migration step per store (``add_column_sql`` gives its DDL).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from incidentkit._time import EARLIEST, LATEST
from incidentkit.errors import StoreError
from incidentkit.lifecycle import Status
from incidentkit.severity import Severity
from incidentkit.store._base import IncidentSummary
from incidentkit.store._checks import check_aware

__all__ = [
    "SUMMARY_COLUMNS",
    "Codec",
    "ColumnKind",
    "add_column_sql",
    "select_list",
    "summary_from_row",
    "summary_values",
    "upsert_summary_sql",
]


class ColumnKind(enum.Enum):
    """How a summary field is kept in SQL."""

    TEXT = "text"
    INTEGER = "integer"
    STATUS = "status"
    SEVERITY = "severity"
    SERVICES = "services"
    TIME = "time"


SUMMARY_COLUMNS: tuple[tuple[str, ColumnKind], ...] = (
    ("incident_id", ColumnKind.TEXT),
    ("version", ColumnKind.INTEGER),
    ("title", ColumnKind.TEXT),
    ("status", ColumnKind.STATUS),
    ("severity", ColumnKind.SEVERITY),
    ("services", ColumnKind.SERVICES),
    ("started_at", ColumnKind.TIME),
    ("detected_at", ColumnKind.TIME),
    ("declared_at", ColumnKind.TIME),
    ("acknowledged_at", ColumnKind.TIME),
    ("mitigated_at", ColumnKind.TIME),
    ("resolved_at", ColumnKind.TIME),
    ("closed_at", ColumnKind.TIME),
    ("next_due_at", ColumnKind.TIME),
    ("head_hash", ColumnKind.TEXT),
)
"""Column name (the ``IncidentSummary`` field of the same name) and kind, in table order."""


@attrs.frozen
class Codec:
    """How one store writes and reads the kinds that differ between databases.

    ``types`` maps each kind to its SQL type (for ``add_column_sql``).
    """

    placeholder: str
    time_out: Callable[[datetime | None], Any]
    time_in: Callable[[Any], datetime | None]
    services_out: Callable[[tuple[str, ...]], Any]
    services_in: Callable[[Any], tuple[str, ...]]
    types: Mapping[ColumnKind, str]


def select_list() -> str:
    """``incident_id, version, …`` in table order."""
    return ", ".join(name for name, _ in SUMMARY_COLUMNS)


def upsert_summary_sql(table: str, codec: Codec) -> str:
    """Insert a summary row, or update every column of the incident's existing one."""
    marks = ", ".join(codec.placeholder for _ in SUMMARY_COLUMNS)
    updates = ", ".join(f"{name} = excluded.{name}" for name, _ in SUMMARY_COLUMNS[1:])
    return (
        f"INSERT INTO {table} ({select_list()}) VALUES ({marks}) "
        f"ON CONFLICT (incident_id) DO UPDATE SET {updates}"
    )


def add_column_sql(table: str, name: str, codec: Codec) -> str:
    """DDL adding the described column ``name`` to an existing summary table."""
    kinds = dict(SUMMARY_COLUMNS)
    return f"ALTER TABLE {table} ADD COLUMN {name} {codec.types[kinds[name]]}"


def _status_out(value: Any) -> str:
    return value.value if type(value) is Status else Status(value).value


def _severity_out(value: Any) -> str:
    return value.value if type(value) is Severity else Severity(value).value


def _compile(codec: Codec) -> Callable[[IncidentSummary], tuple[Any, ...]]:
    """One function writing a whole row for ``codec``: no call per column.

    Built once per codec from :data:`SUMMARY_COLUMNS`, so the description
    stays the one place a column is added; each time is checked aware under
    its field name, as a store must.
    """
    names: dict[str, Any] = {
        "aware": check_aware,
        "time_out": codec.time_out,
        "services_out": codec.services_out,
        "status_out": _status_out,
        "severity_out": _severity_out,
        "Status": Status,
        "Severity": Severity,
        "status_text": {member: member.value for member in Status},
        "severity_text": {member: member.value for member in Severity},
        "datetime": datetime,
        "UTC": UTC,
        "EARLIEST": EARLIEST,
        "LATEST": LATEST,
    }
    parts = []
    for index, (name, kind) in enumerate(SUMMARY_COLUMNS):
        if not name.isidentifier():  # pragma: no cover - the table above is fixed
            raise ValueError(f"summary column {name!r} is not an identifier")
        value = f"v{index}"
        match kind:
            case ColumnKind.STATUS:
                parts.append(
                    f"status_text[{value}] if type({value} := s.{name}) is Status "
                    f"else status_out({value})"
                )
            case ColumnKind.SEVERITY:
                parts.append(
                    f"severity_text[{value}] if type({value} := s.{name}) is Severity "
                    f"else severity_out({value})"
                )
            case ColumnKind.SERVICES:
                parts.append(f"services_out(tuple(s.{name}))")
            case ColumnKind.TIME:
                # An aware UTC time in range is what check_aware would return unchanged.
                parts.append(
                    f"None if ({value} := s.{name}) is None else time_out({value} "
                    f"if type({value}) is datetime and {value}.tzinfo is UTC "
                    f"and EARLIEST <= {value} < LATEST "
                    f"else aware({value}, 'summary.{name}'))"
                )
            case _:
                parts.append(f"s.{name}")
    source = (
        "def encode(s):\n    return (\n" + "".join(f"        {p},\n" for p in parts) + "    )\n"
    )
    exec(compile(source, f"<summary row encoder {codec.placeholder}>", "exec"), names)
    encode: Callable[[IncidentSummary], tuple[Any, ...]] = names["encode"]
    return encode


_ENCODERS: dict[int, tuple[Codec, Callable[[IncidentSummary], tuple[Any, ...]]]] = {}
"""Per codec (by identity, the codec kept alive with it): its row encoder."""


def _encoder_for(codec: Codec) -> Callable[[IncidentSummary], tuple[Any, ...]]:
    found = _ENCODERS.get(id(codec))
    if found is None or found[0] is not codec:
        found = (codec, _compile(codec))
        _ENCODERS[id(codec)] = found
    return found[1]


def summary_values(summary: IncidentSummary, codec: Codec) -> tuple[Any, ...]:
    """The row to write for ``summary``, in table order; times are checked aware."""
    return _encoder_for(codec)(summary)


def _services_reader(codec: Codec) -> Callable[[Any], tuple[str, ...]]:
    """``codec.services_in``, remembering the tuple of each stored text (few recur)."""
    parse = codec.services_in
    seen: dict[str, tuple[str, ...]] = {}

    def read(value: Any) -> tuple[str, ...]:
        if type(value) is not str:
            return parse(value)
        found = seen.get(value)
        if found is None:
            found = parse(value)
            if len(seen) >= 1024:
                seen.clear()
            seen[value] = found
        return found

    return read


def _compile_reader(codec: Codec) -> Callable[[Sequence[Any]], IncidentSummary]:
    """One function reading a whole row for ``codec``: no dict, no per-column dispatch.

    Built from :data:`SUMMARY_COLUMNS` like the writer. Anything unexpected
    (a wrong length, an unknown status) raises; :func:`summary_from_row`
    then reads the row the slow way, which names the problem.
    """
    names: dict[str, Any] = {
        "IncidentSummary": IncidentSummary,
        "time_in": codec.time_in,
        "services_in": _services_reader(codec),
        "status_of": {member.value: member for member in Status},
        "severity_of": {member.value: member for member in Severity},
        "width": len(SUMMARY_COLUMNS),
    }
    args = []
    for index, (name, kind) in enumerate(SUMMARY_COLUMNS):
        if not name.isidentifier():  # pragma: no cover - the table above is fixed
            raise ValueError(f"summary column {name!r} is not an identifier")
        value = f"row[{index}]"
        match kind:
            case ColumnKind.STATUS:
                args.append(f"{name}=status_of[{value}]")
            case ColumnKind.SEVERITY:
                args.append(f"{name}=severity_of[{value}]")
            case ColumnKind.SERVICES:
                args.append(f"{name}=services_in({value})")
            case ColumnKind.TIME:
                args.append(f"{name}=None if (v{index} := {value}) is None else time_in(v{index})")
            case _:
                args.append(f"{name}={value}")
    source = (
        "def read(row):\n"
        "    if len(row) != width:\n"
        "        raise ValueError('row width')\n"
        "    return IncidentSummary(\n" + "".join(f"        {a},\n" for a in args) + "    )\n"
    )
    exec(compile(source, f"<summary row reader {codec.placeholder}>", "exec"), names)
    read: Callable[[Sequence[Any]], IncidentSummary] = names["read"]
    return read


_READERS: dict[int, tuple[Codec, Callable[[Sequence[Any]], IncidentSummary]]] = {}
"""Per codec (by identity, the codec kept alive with it): its row reader."""


def summary_from_row(row: Sequence[Any], codec: Codec, url: str) -> IncidentSummary:
    """An ``IncidentSummary`` from a row selected with :func:`select_list`.

    :raises StoreError: a value the summary cannot hold, naming the row's incident.
    """
    found = _READERS.get(id(codec))
    if found is None or found[0] is not codec:
        found = (codec, _compile_reader(codec))
        _READERS[id(codec)] = found
    try:
        return found[1](row)
    except Exception:  # the slow path below names what is wrong
        return summary_from_row_slow(row, codec, url)


def summary_from_row_slow(row: Sequence[Any], codec: Codec, url: str) -> IncidentSummary:
    """:func:`summary_from_row` column by column (the reference the fast reader equals)."""
    fields: dict[str, Any] = {}
    try:
        for (name, kind), value in zip(SUMMARY_COLUMNS, row, strict=True):
            match kind:
                case ColumnKind.STATUS:
                    fields[name] = Status(value)
                case ColumnKind.SEVERITY:
                    fields[name] = Severity(value)
                case ColumnKind.SERVICES:
                    fields[name] = codec.services_in(value)
                case ColumnKind.TIME:
                    fields[name] = codec.time_in(value)
                case _:
                    fields[name] = value
        return IncidentSummary(**fields)
    except (ValueError, TypeError) as err:
        raise StoreError(f"{url}: unreadable summary row for {row[0]!r}: {err}") from err
