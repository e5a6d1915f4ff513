"""The values a metrics computation returns, and the targets it checks against."""

from __future__ import annotations

import enum
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, overload

import attrs
import cattrs

from incidentkit._validate import parse_toml
from incidentkit.errors import PolicyError, ValidationError
from incidentkit.serialization import make_converter, register_hooks, structure_input
from incidentkit.severity import Severity

if TYPE_CHECKING:
    from incidentkit.metrics.charts import ChartKind

__all__ = [
    "DIMENSIONS",
    "DRILL_PREFIX",
    "PERCENTILE_METHOD",
    "Basis",
    "Breach",
    "Breaches",
    "DataError",
    "Figure",
    "Group",
    "Metric",
    "MetricsReport",
    "Targets",
    "definition",
    "is_drill",
]

DRILL_PREFIX = "DRILL-"
"""The id prefix that marks a drill incident (``kit.people.drill(..., store=...)``).

Metrics leave drills out unless asked (``include_drills=True``).
"""


def is_drill(incident_id: str) -> bool:
    """Whether ``incident_id`` names a drill (starts with :data:`DRILL_PREFIX`)."""
    return incident_id.startswith(DRILL_PREFIX)


#: The breakdown keys :func:`~incidentkit.metrics.compute` accepts in ``by``.
DIMENSIONS: tuple[str, ...] = ("severity", "service", "month", "week", "day")

#: The calendar periods among :data:`DIMENSIONS` (a breakdown takes at most one).
PERIODS: tuple[str, ...] = ("month", "week", "day")

#: How p50 and p90 are computed (see :func:`definition`).
PERCENTILE_METHOD = "nearest-rank"


class Metric(enum.StrEnum):
    """The five figures incidentkit computes."""

    MTTD = "mttd"
    MTTA = "mtta"
    MTTM = "mttm"
    MTTR = "mttr"
    MTBF = "mtbf"

    @property
    def long_name(self) -> str:
        """A human name: ``"time to detect"`` …"""
        return _TITLES[self]


_TITLES = {
    Metric.MTTD: "time to detect",
    Metric.MTTA: "time to acknowledge",
    Metric.MTTM: "time to mitigate",
    Metric.MTTR: "time to resolve",
    Metric.MTBF: "time between failures",
}


class Basis(enum.StrEnum):
    """The timestamp MTTR counts from (``resolved_at − <basis>_at``)."""

    STARTED = "started"
    DETECTED = "detected"
    DECLARED = "declared"

    @classmethod
    def parse(cls, value: str | Basis, field: str = "basis") -> Basis:
        """Accept a :class:`Basis` or its value; refuse anything else naming ``field``."""
        if isinstance(value, Basis):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            known = ", ".join(b.value for b in cls)
            raise ValidationError(field, f"unknown basis {value!r} (known: {known})") from None


def definition(metric: Metric, basis: Basis = Basis.DETECTED) -> str:
    """The definition of ``metric`` as printed beside every figure.

    >>> definition(Metric.MTTR, Basis.STARTED)
    'resolved_at − started_at'
    >>> definition(Metric.MTBF)
    'next started_at − previous resolved_at, per service'
    """
    if metric is Metric.MTTR:
        return f"resolved_at − {basis.value}_at"
    return _DEFINITIONS[metric]


_DEFINITIONS = {
    Metric.MTTD: "detected_at − started_at",
    Metric.MTTA: "acknowledged_at − detected_at",
    Metric.MTTM: "mitigated_at − detected_at",
    Metric.MTBF: "next started_at − previous resolved_at, per service",
}


@attrs.frozen
class Figure:
    """One metric over one group of incidents. Every duration is in seconds.

    ``count`` is the number of samples: incidents for MTTD/MTTA/MTTM/MTTR, gaps
    between failure windows for MTBF. ``total`` is their sum, so
    ``mean == total / count``. ``excluded_missing`` counts incidents lacking a
    timestamp the metric needs; ``excluded_invalid`` counts incidents whose
    timestamps run backwards (each is listed in :attr:`MetricsReport.data_errors`).
    For MTBF the counts are per (incident, service) pair and ``overlapping``
    counts incidents that started before the previous failure window ended and
    were merged into it; an unresolved incident is in ``excluded_missing``, yet
    its start still ends the gap before it. ``mean``, ``p50``, ``p90`` and ``max`` are ``None``
    when there is no sample.
    """

    metric: Metric
    definition: str
    count: int
    total: float
    mean: float | None
    p50: float | None
    p90: float | None
    max: float | None
    excluded_missing: int = 0
    excluded_invalid: int = 0
    overlapping: int = 0

    @property
    def excluded(self) -> int:
        """Incidents left out for any reason."""
        return self.excluded_missing + self.excluded_invalid


@attrs.frozen
class Group:
    """The figures of one breakdown group (or of all incidents, when ``key`` is empty).

    ``key`` pairs each breakdown dimension with this group's value, e.g.
    ``(("severity", "SEV1"), ("service", "api"))``. An incident without a
    service or without ``declared_at`` (for ``month``) is grouped under ``""``.
    """

    key: tuple[tuple[str, str], ...]
    incidents: int
    figures: tuple[Figure, ...]

    def __getitem__(self, metric: Metric | str) -> Figure:
        """The figure for ``metric``."""
        wanted = Metric(metric)
        for figure in self.figures:
            if figure.metric is wanted:
                return figure
        raise KeyError(wanted)

    @property
    def label(self) -> str:
        """``"all"`` for the overall group, else ``"severity=SEV1, service=api"``."""
        return ", ".join(f"{k}={v or '(none)'}" for k, v in self.key) or "all"


@attrs.frozen
class DataError:
    """An incident whose timestamps run backwards for ``metric``; it was excluded from it."""

    incident_id: str
    metric: Metric
    start_field: str
    end_field: str
    start: datetime
    end: datetime

    def __str__(self) -> str:
        return (
            f"{self.incident_id}: {self.end_field} {self.end.isoformat()} is before "
            f"{self.start_field} {self.start.isoformat()} ({self.metric.value} excluded)"
        )


@attrs.frozen
class Breach:
    """An incident that missed a target: ``actual`` exceeded ``limit`` by ``over`` seconds."""

    incident_id: str
    severity: Severity
    target: Metric
    actual: float
    limit: float

    @property
    def over(self) -> float:
        """Seconds beyond the target."""
        return self.actual - self.limit


class Breaches(Sequence[Breach]):
    """The breaches of a report: an immutable sequence of :class:`Breach`, stored by column.

    A million incidents can breach a million times; keeping plain columns and
    building each :class:`Breach` when it is read keeps :func:`compute` fast and
    small. It compares equal to any sequence holding the same breaches.
    """

    __slots__ = ("_actual", "_ids", "_limits", "_severities", "_targets")

    def __init__(
        self,
        incident_ids: Sequence[str] = (),
        severities: Sequence[Severity] = (),
        targets: Sequence[Metric] = (),
        actual: Sequence[float] = (),
        limits: Sequence[float] = (),
    ) -> None:
        columns = (incident_ids, severities, targets, actual, limits)
        if len({len(c) for c in columns}) > 1:
            raise ValidationError("breaches", "columns of different lengths")
        self._ids = tuple(incident_ids)
        self._severities = tuple(severities)
        self._targets = tuple(targets)
        # float columns may be an array("d"); nothing outside this class holds them
        self._actual = actual if isinstance(actual, array) else tuple(actual)
        self._limits = limits if isinstance(limits, array) else tuple(limits)

    @classmethod
    def of(cls, breaches: Iterable[Breach]) -> Breaches:
        """Build from :class:`Breach` values."""
        items = list(breaches)
        return cls(
            [b.incident_id for b in items],
            [b.severity for b in items],
            [b.target for b in items],
            [b.actual for b in items],
            [b.limit for b in items],
        )

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> Breach: ...

    @overload
    def __getitem__(self, index: slice) -> Breaches: ...

    def __getitem__(self, index: int | slice) -> Breach | Breaches:
        if isinstance(index, slice):
            return Breaches(
                self._ids[index],
                self._severities[index],
                self._targets[index],
                self._actual[index],
                self._limits[index],
            )
        return Breach(
            self._ids[index],
            self._severities[index],
            self._targets[index],
            self._actual[index],
            self._limits[index],
        )

    def __iter__(self) -> Iterator[Breach]:
        for row in zip(
            self._ids, self._severities, self._targets, self._actual, self._limits, strict=True
        ):
            yield Breach(*row)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Breaches):
            return (
                self._ids == other._ids
                and self._severities == other._severities
                and self._targets == other._targets
                and list(self._actual) == list(other._actual)
                and list(self._limits) == list(other._limits)
            )
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._ids, self._targets))

    def __repr__(self) -> str:
        shown = ", ".join(repr(b) for b in self[:3])
        more = f", … {len(self) - 3} more" if len(self) > 3 else ""
        return f"Breaches([{shown}{more}])"


def _positive(_: object, attribute: attrs.Attribute[Any], value: timedelta | None) -> None:
    if value is not None and value <= timedelta(0):
        raise ValidationError(attribute.name, f"must be a positive duration, got {value}")


def _freeze_ack(value: Mapping[Severity, timedelta]) -> Mapping[Severity, timedelta]:
    return MappingProxyType({Severity.parse(k): v for k, v in value.items()})


def _check_ack(
    _: object, attribute: attrs.Attribute[Any], value: Mapping[Severity, timedelta]
) -> None:
    for severity, limit in value.items():
        if not isinstance(limit, timedelta) or limit <= timedelta(0):
            raise ValidationError(
                f"acknowledge.{severity.value}", f"must be a positive duration, got {limit!r}"
            )


def _default_ack() -> Mapping[Severity, timedelta]:
    return {
        Severity.SEV1: timedelta(minutes=5),
        Severity.SEV2: timedelta(minutes=15),
        Severity.SEV3: timedelta(hours=1),
    }


def _freeze_severities(value: object) -> frozenset[Severity]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError("next_business_day", f"expected a list of severities, got {value!r}")
    return frozenset(Severity.parse(v) for v in value)


@attrs.frozen
class Targets:
    """Per-incident targets; an incident whose duration exceeds one is a :class:`Breach`.

    The defaults come from the guide: MTTD under 5 minutes, MTTR under 30
    minutes (measured from the report's basis), and time to acknowledge by
    severity: SEV1 5 min, SEV2 15 min, SEV3 1 h, and for the severities in
    ``next_business_day`` (SEV4) the end of the next business day after the
    declaration, counted as the severity policy counts it
    (:func:`incidentkit.business_days.business_day_end`, in the report's zone
    with the policy's holiday calendar): a SEV4 declared on Friday evening
    and acknowledged on Monday morning meets it. A duration equal to its
    target meets it. ``None`` (or a severity left out of both) sets no target;
    a duration in ``acknowledge`` wins over ``next_business_day``.

    >>> Targets.from_mapping({"mttr": "1h", "acknowledge": {"SEV1": "2m"}}).mttr
    datetime.timedelta(seconds=3600)
    """

    mttd: timedelta | None = attrs.field(default=timedelta(minutes=5), validator=_positive)
    mttr: timedelta | None = attrs.field(default=timedelta(minutes=30), validator=_positive)
    acknowledge: Mapping[Severity, timedelta] = attrs.field(
        factory=_default_ack, converter=_freeze_ack, validator=_check_ack, hash=False
    )
    next_business_day: frozenset[Severity] = attrs.field(
        default=frozenset({Severity.SEV4}), converter=_freeze_severities
    )

    @classmethod
    def default(cls) -> Targets:
        """The guide's targets."""
        return cls()

    @classmethod
    def none(cls) -> Targets:
        """No targets at all: the report lists no breaches."""
        return cls(mttd=None, mttr=None, acknowledge={}, next_business_day=frozenset())

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str | None = None) -> Targets:
        """Structure targets from parsed TOML/JSON through the incidentkit converter.

        Keys left out keep their defaults (``acknowledge`` is replaced as a whole).

        :raises PolicyError: with the key path of each bad value.
        """
        return structure_input(_CONVERTER, dict(data), cls, source=source)

    @classmethod
    def load(cls, path: str | Path) -> Targets:
        """Read targets from a TOML file (top-level keys ``mttd``, ``mttr``, ``[acknowledge]``)."""
        file = Path(path)
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError as err:
            raise PolicyError([("$", f"not UTF-8: {err.reason}")], source=str(file)) from err
        return cls.from_mapping(parse_toml(text, source=str(file)), source=str(file))

    def to_mapping(self) -> dict[str, Any]:
        """Unstructure through the converter (durations in seconds, severities by value)."""
        data: dict[str, Any] = _CONVERTER.unstructure(self, Targets)
        data["acknowledge"] = {str(k): v for k, v in sorted(data["acknowledge"].items())}
        return data


def _configure_converter(converter: cattrs.Converter) -> None:
    """Breaches are a JSON array of :class:`Breach` objects."""

    def unstructure_breaches(value: Breaches) -> list[Any]:
        return [converter.unstructure(breach, Breach) for breach in value]

    def structure_breaches(value: object, _: type[Any]) -> Breaches:
        if isinstance(value, str | bytes | Mapping):
            raise ValueError(f"expected a list of breaches, got {type(value).__name__}")
        return Breaches.of(converter.structure(value, tuple[Breach, ...]))

    converter.register_unstructure_hook(Breaches, unstructure_breaches)
    converter.register_structure_hook(Breaches, structure_breaches)


register_hooks(_configure_converter)
_CONVERTER = make_converter()


@attrs.frozen
class MetricsReport:
    """What :func:`~incidentkit.metrics.compute` returns.

    ``overall`` covers every incident considered; ``groups`` holds one
    :class:`Group` per breakdown key found (sorted), empty without ``by``.
    Durations are seconds; MTTR counts from ``basis``; percentiles use the
    nearest-rank method (:data:`PERCENTILE_METHOD`).
    """

    basis: Basis
    zone: tzinfo
    since: datetime | None
    until: datetime | None
    by: tuple[str, ...]
    overall: Group
    groups: tuple[Group, ...]
    data_errors: tuple[DataError, ...]
    breaches: Breaches
    targets: Targets
    percentile_method: str = PERCENTILE_METHOD

    @property
    def incidents(self) -> int:
        """How many incidents the report covers."""
        return self.overall.incidents

    def group(self, **key: str) -> Group:
        """The group with exactly this key, e.g. ``report.group(severity="SEV1")``.

        :raises KeyError: when no incident fell into that group.
        """
        wanted = tuple((dim, str(key[dim])) for dim in self.by if dim in key)
        if len(wanted) != len(key):
            raise KeyError(f"report is broken down by {self.by}, not {tuple(key)}")
        for group in self.groups:
            if group.key == wanted:
                return group
        raise KeyError(wanted)

    def definition(self, metric: Metric) -> str:
        """The definition of ``metric`` under this report's basis."""
        return definition(metric, self.basis)

    def to_json(self, *, indent: int | None = 2) -> str:
        """See :func:`incidentkit.metrics.export.to_json`."""
        from incidentkit.metrics.export import to_json

        return to_json(self, indent=indent)

    def to_csv(self) -> str:
        """See :func:`incidentkit.metrics.export.to_csv`."""
        from incidentkit.metrics.export import to_csv

        return to_csv(self)

    def to_markdown(self) -> str:
        """See :func:`incidentkit.metrics.export.to_markdown`."""
        from incidentkit.metrics.export import to_markdown

        return to_markdown(self)

    def to_prometheus(self) -> str:
        """See :func:`incidentkit.metrics.export.to_prometheus`."""
        from incidentkit.metrics.export import to_prometheus

        return to_prometheus(self)

    def to_table(self) -> str:
        """See :func:`incidentkit.metrics.export.to_table`."""
        from incidentkit.metrics.export import to_table

        return to_table(self)

    def chart(self, out: str | Path, *, kind: ChartKind | str = "mttr") -> Path:
        """See :func:`incidentkit.metrics.charts.render_chart`."""
        from incidentkit.metrics.charts import render_chart

        return render_chart(self, out, kind=kind)
