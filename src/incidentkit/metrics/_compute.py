"""One pass over incident summaries: durations, exclusions, breakdowns, MTBF, breaches."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from itertools import islice
from operator import le
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from incidentkit._time import to_utc
from incidentkit.business_days import BusinessDays, business_day_end
from incidentkit.errors import ValidationError
from incidentkit.metrics._model import (
    DIMENSIONS,
    DRILL_PREFIX,
    PERIODS,
    Basis,
    Breaches,
    DataError,
    Figure,
    Group,
    Metric,
    MetricsReport,
    Targets,
    definition,
)
from incidentkit.severity import Severity
from incidentkit.store import IncidentSummary, Store, SummaryQuery

__all__ = ["compute"]

_DURATIONS = (Metric.MTTD, Metric.MTTA, Metric.MTTM, Metric.MTTR)
_FIELDS = ("started_at", "detected_at", "declared_at", "acknowledged_at", "mitigated_at")
_DRILL_END = DRILL_PREFIX[:-1] + chr(ord(DRILL_PREFIX[-1]) + 1)
"""The first string past every id that starts with :data:`DRILL_PREFIX`."""
# (start, open, resolved, incident_id): one failure window of one incident on one
# service. An unresolved incident is ``(start, True, start, id)``: it ends the gap
# before it and starts none. ``open`` sorts a resolved window before an unresolved
# one that starts at the same instant.
_Window: TypeAlias = tuple[datetime, bool, datetime, str]


class _Acc:
    """Running state of one group; plain lists, no per-incident objects."""

    __slots__ = ("incidents", "invalid", "missing", "streams", "values")

    def __init__(self) -> None:
        self.incidents = 0
        self.values: tuple[array[float], ...] = (
            array("d"),
            array("d"),
            array("d"),
            array("d"),
        )
        self.missing = [0, 0, 0, 0, 0]
        self.invalid = [0, 0, 0, 0, 0]
        self.streams: dict[str, list[_Window]] = {}

    def add(
        self,
        d0: float | None,
        d1: float | None,
        d2: float | None,
        d3: float | None,
        window: _Window | None,
        bad_window: bool,
        services: Iterable[str],
    ) -> None:
        # None: a timestamp is missing; negative: timestamps run backwards.
        self.incidents += 1
        values = self.values
        if d0 is None:
            self.missing[0] += 1
        elif d0 < 0:
            self.invalid[0] += 1
        else:
            values[0].append(d0)
        if d1 is None:
            self.missing[1] += 1
        elif d1 < 0:
            self.invalid[1] += 1
        else:
            values[1].append(d1)
        if d2 is None:
            self.missing[2] += 1
        elif d2 < 0:
            self.invalid[2] += 1
        else:
            values[2].append(d2)
        if d3 is None:
            self.missing[3] += 1
        elif d3 < 0:
            self.invalid[3] += 1
        else:
            values[3].append(d3)
        if window is not None:
            streams = self.streams
            for service in services:
                stream = streams.get(service)
                if stream is None:
                    streams[service] = [window]
                else:
                    stream.append(window)
            if window[1]:  # unresolved: it ends a gap but has no resolution
                for _ in services:
                    self.missing[4] += 1
        elif bad_window:
            for _ in services:
                self.invalid[4] += 1
        else:
            for _ in services:
                self.missing[4] += 1


def _stats(
    metric: Metric,
    text: str,
    durations: Iterable[float],
    missing: int,
    invalid: int,
    overlapping: int = 0,
) -> Figure:
    """Nearest-rank percentiles: the p-th percentile of n sorted values is x[ceil(p·n/100) − 1]."""
    values = sorted(durations)
    n = len(values)
    if not n:
        return Figure(metric, text, 0, 0.0, None, None, None, None, missing, invalid, overlapping)
    total = math.fsum(values)
    return Figure(
        metric,
        text,
        n,
        total,
        total / n,
        values[math.ceil(0.5 * n) - 1],
        values[math.ceil(0.9 * n) - 1],
        values[-1],
        missing,
        invalid,
        overlapping,
    )


def _gaps(streams: dict[str, list[_Window]]) -> tuple[list[float], int]:
    """MTBF gaps per service; overlapping windows merge into one failure window.

    A gap runs from one incident's resolution to the next incident's start.
    Windows are ordered by (start, open, resolved, incident id). A resolved
    window that starts before the current failure window ends (``start < end``)
    overlaps: it yields no gap, extends the failure window to the later
    resolution, and is counted. A window starting exactly at the previous
    resolution yields a gap of 0. An unresolved incident that starts at or after
    the end yields the gap up to its start and starts none: the next window
    opens a new failure window without a gap. One that starts inside a failure
    window changes nothing (it is counted as excluded, not as overlapping).
    """
    gaps: list[float] = []
    overlapping = 0
    for windows in streams.values():
        windows.sort()
        end: datetime | None = None
        for start, is_open, resolved, _ in windows:
            if end is None:
                end = None if is_open else resolved
            elif start < end:
                if is_open:
                    continue
                overlapping += 1
                if resolved > end:
                    end = resolved
            else:
                gaps.append((start - end).total_seconds())
                end = None if is_open else resolved
    return gaps, overlapping


def _finish(key: tuple[tuple[str, str], ...], acc: _Acc, basis: Basis) -> Group:
    figures = [
        _stats(metric, definition(metric, basis), acc.values[i], acc.missing[i], acc.invalid[i])
        for i, metric in enumerate(_DURATIONS)
    ]
    gaps, overlapping = _gaps(acc.streams)
    figures.append(
        _stats(
            Metric.MTBF,
            definition(Metric.MTBF, basis),
            gaps,
            acc.missing[4],
            acc.invalid[4],
            overlapping,
        )
    )
    return Group(key, acc.incidents, tuple(figures))


def _parse_by(by: Iterable[str] | str) -> tuple[str, ...]:
    items = by.split(",") if isinstance(by, str) else list(by)
    dims: list[str] = []
    for item in items:
        name = str(item).strip().lower()
        if not name:
            continue
        if name not in DIMENSIONS:
            raise ValidationError(
                "by", f"unknown breakdown {item!r} (known: {', '.join(DIMENSIONS)})"
            )
        if name not in dims:
            dims.append(name)
    periods = [d for d in dims if d in PERIODS]
    if len(periods) > 1:
        raise ValidationError("by", f"give one period, not {' and '.join(periods)}")
    return tuple(dims)


def _parse_zone(zone: tzinfo | str) -> tzinfo:
    if isinstance(zone, tzinfo):
        return zone
    if isinstance(zone, str) and zone:
        try:
            return ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise ValidationError("zone", f"unknown IANA time zone: {zone!r}")


def _naive(summary: IncidentSummary) -> None:
    for name in (*_FIELDS, "resolved_at"):
        value = getattr(summary, name)
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValidationError(
                f"{summary.incident_id}.{name}", "naive datetime; pass a timezone-aware value"
            )


def _select(
    source: Store | Iterable[IncidentSummary],
    since: datetime | None,
    until: datetime | None,
) -> Iterable[IncidentSummary]:
    if isinstance(source, Store):
        return source.summaries(SummaryQuery(since=since, until=until))
    if since is None and until is None:
        return source
    return (
        s
        for s in source
        if s.declared_at is not None
        and (since is None or s.declared_at >= since)
        and (until is None or s.declared_at < until)
    )


def compute(
    source: Store | Iterable[IncidentSummary],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Iterable[str] | str = (),
    basis: Basis | str = Basis.DETECTED,
    targets: Targets | None = None,
    zone: tzinfo | str = UTC,
    mtbf: str = "service",
    business_days: BusinessDays | None = None,
    include_drills: bool = False,
) -> MetricsReport:
    """Compute MTTD, MTTA, MTTM, MTTR and MTBF over incident summaries in one pass.

    :param source: summaries, or a :class:`~incidentkit.store.Store` (then
        ``store.summaries(SummaryQuery(since=since, until=until))`` is read).
    :param since: keep incidents declared at or after this instant (aware).
    :param until: keep incidents declared before this instant (aware).
    :param by: breakdown dimensions, any of ``"severity"``, ``"service"``,
        ``"month"`` (a list or a comma-separated string); the overall figures
        are always computed.
    :param basis: what MTTR counts from: ``started``, ``detected`` (default) or ``declared``.
    :param targets: per-incident targets (default :meth:`Targets.default`);
        :meth:`Targets.none` lists no breaches.
    :param zone: the time zone whose calendar ``"month"``, ``"week"`` (ISO
        week, ``2024-W47``) and ``"day"`` use (a ``tzinfo`` or an IANA name).
        Only one of the three periods can be in ``by``.
    :param mtbf: ``"service"`` (default): gaps between failures of the same
        service; ``"all"``: gaps between failures of any service, the
        incidents' windows merged across services.
    :param business_days: the holiday calendar of the ``next_business_day``
        acknowledgement targets (default: weekdays are business days).
    :param include_drills: count drill incidents (ids starting ``DRILL-``)
        too; by default they are left out of every figure.
    :raises ValidationError: naming ``since``/``until`` (naive, or since after
        until), ``by``, ``basis``, ``zone``, or ``<incident id>.<field>`` for a
        naive timestamp in a summary.
    """
    since_utc = to_utc(since, "since")
    until_utc = to_utc(until, "until")
    if since_utc is not None and until_utc is not None and since_utc > until_utc:
        raise ValidationError("since", f"{since_utc.isoformat()} is after until")
    dims = _parse_by(by)
    basis = Basis.parse(basis)
    tz = _parse_zone(zone)
    if targets is None:
        targets = Targets.default()
    elif not isinstance(targets, Targets):
        raise ValidationError("targets", f"expected Targets, got {type(targets).__name__}")

    by_severity = "severity" in dims
    by_service = "service" in dims
    period = next((d for d in dims if d in PERIODS), None)
    if mtbf not in ("service", "all"):
        raise ValidationError("mtbf", f"expected 'service' or 'all', got {mtbf!r}")
    mtbf_all = mtbf == "all"
    everything = ("*",)
    grouped = bool(dims)
    mttd_limit = None if targets.mttd is None else targets.mttd.total_seconds()
    mttr_limit = None if targets.mttr is None else targets.mttr.total_seconds()
    # keyed by id(): enum members are singletons, and Enum.__hash__ runs in Python
    ack_limits = {id(sev): limit.total_seconds() for sev, limit in targets.acknowledge.items()}
    next_day = {id(sev) for sev in targets.next_business_day if sev not in targets.acknowledge}
    calendar = business_days if business_days is not None else BusinessDays()
    basis_index = {Basis.STARTED: 0, Basis.DETECTED: 1, Basis.DECLARED: 2}[basis]
    basis_field = _FIELDS[basis_index]
    no_service = ("",)

    # The overall group is accumulated inline (no call per incident); its
    # exclusions are derived at the end: missing = incidents − included − invalid.
    # durations unboxed (8 bytes each), boxed again only while sorting one metric
    v0: array[float] = array("d")
    v1: array[float] = array("d")
    v2: array[float] = array("d")
    v3: array[float] = array("d")
    streams: dict[str, list[_Window]] = {}
    mtbf_missing = mtbf_invalid = incidents = 0
    groups: dict[tuple[str, str, str], _Acc] = {}
    # (incident id, metric order, start field, end field, start, end)
    errors: list[tuple[str, int, str, str, datetime, datetime]] = []
    # breaches by column (no object per breach): id, severity, metric, actual, limit
    b_ids: list[str] = []
    b_sev: list[Severity] = []
    b_met: list[Metric] = []
    b_act: array[float] = array("d")
    b_lim: array[float] = array("d")
    m_mttd, m_mtta, m_mttr = Metric.MTTD, Metric.MTTA, Metric.MTTR
    mttd_o, mtta_o, mttm_o, mttr_o, mtbf_o = range(5)

    if not isinstance(include_drills, bool):
        raise ValidationError("include_drills", f"expected a bool, got {include_drills!r}")
    skip_drills = not include_drills
    # next-business-day deadlines by the local date they count from: the rule
    # reads only that date (business_day_end), and incidents share few dates
    deadlines: dict[int, datetime] = {}
    utc_calendar = tz is UTC
    for s in _select(source, since_utc, until_utc):
        # ``startswith(DRILL_PREFIX)`` as two string comparisons (no method call):
        # an id starts with the prefix iff it sorts in [prefix, _DRILL_END).
        if skip_drills and _DRILL_END > s.incident_id >= DRILL_PREFIX:
            continue
        st = s.started_at
        de = s.detected_at
        ac = s.acknowledged_at
        mi = s.mitigated_at
        re = s.resolved_at
        dc = s.declared_at
        if (
            (st is not None and st.tzinfo is None)
            or (de is not None and de.tzinfo is None)
            or (ac is not None and ac.tzinfo is None)
            or (mi is not None and mi.tzinfo is None)
            or (re is not None and re.tzinfo is None)
            or (dc is not None and dc.tzinfo is None)
        ):
            _naive(s)
        incidents += 1

        d0 = d1 = d2 = d3 = None
        if de is not None:
            if st is not None:
                d0 = (de - st).total_seconds()
                if d0 < 0:
                    errors.append((s.incident_id, mttd_o, "started_at", "detected_at", st, de))
                else:
                    v0.append(d0)
                    if mttd_limit is not None and d0 > mttd_limit:
                        b_ids.append(s.incident_id)
                        b_sev.append(s.severity)
                        b_met.append(m_mttd)
                        b_act.append(d0)
                        b_lim.append(mttd_limit)
            if ac is not None:
                d1 = (ac - de).total_seconds()
                if d1 < 0:
                    errors.append((s.incident_id, mtta_o, "detected_at", "acknowledged_at", de, ac))
                else:
                    v1.append(d1)
                    ack_limit = ack_limits.get(id(s.severity))
                    if ack_limit is not None:
                        if d1 > ack_limit:
                            b_ids.append(s.incident_id)
                            b_sev.append(s.severity)
                            b_met.append(m_mtta)
                            b_act.append(d1)
                            b_lim.append(ack_limit)
                    elif id(s.severity) in next_day:
                        counted_from = dc or de
                        local_day = (
                            counted_from.toordinal()
                            if utc_calendar and counted_from.tzinfo is UTC
                            else counted_from.astimezone(tz).toordinal()
                        )
                        due = deadlines.get(local_day)
                        if due is None:
                            due = business_day_end(counted_from, tz, calendar)
                            deadlines[local_day] = due
                        if ac > due:  # d1 > (due - de), without the subtraction
                            b_ids.append(s.incident_id)
                            b_sev.append(s.severity)
                            b_met.append(m_mtta)
                            b_act.append(d1)
                            b_lim.append((due - de).total_seconds())
            if mi is not None:
                d2 = (mi - de).total_seconds()
                if d2 < 0:
                    errors.append((s.incident_id, mttm_o, "detected_at", "mitigated_at", de, mi))
                else:
                    v2.append(d2)
        services = s.services or no_service
        failing = everything if mtbf_all else services
        window: _Window | None = None
        bad_window = False
        if re is not None:
            origin = de if basis_index == 1 else st if basis_index == 0 else dc
            if origin is not None:
                d3 = (re - origin).total_seconds()
                if d3 < 0:
                    errors.append((s.incident_id, mttr_o, basis_field, "resolved_at", origin, re))
                else:
                    v3.append(d3)
                    if mttr_limit is not None and d3 > mttr_limit:
                        b_ids.append(s.incident_id)
                        b_sev.append(s.severity)
                        b_met.append(m_mttr)
                        b_act.append(d3)
                        b_lim.append(mttr_limit)
            if st is not None:
                if re < st:
                    bad_window = True
                    mtbf_invalid += len(failing)
                    errors.append((s.incident_id, mtbf_o, "started_at", "resolved_at", st, re))
                else:
                    window = (st, False, re, s.incident_id)
            else:
                mtbf_missing += len(failing)
        else:
            # still open: excluded (no resolution starts a gap), yet its start ends one
            mtbf_missing += len(failing)
            if st is not None:
                window = (st, True, st, s.incident_id)
        if window is not None:
            for service in failing:
                stream = streams.get(service)
                if stream is None:
                    streams[service] = [window]
                else:
                    stream.append(window)
        if not grouped:
            continue

        severity = s.severity.value if by_severity else ""
        month = ""
        if period is not None and dc is not None:
            local = dc.astimezone(tz)
            if period == "month":
                month = f"{local.year:04d}-{local.month:02d}"
            elif period == "day":
                month = f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
            else:
                iso = local.isocalendar()
                month = f"{iso.year:04d}-W{iso.week:02d}"
        if by_service:
            for service in services:
                key = (severity, service, month)
                acc = groups.get(key)
                if acc is None:
                    acc = groups[key] = _Acc()
                acc.add(d0, d1, d2, d3, window, bad_window, everything if mtbf_all else (service,))
        else:
            key = (severity, "", month)
            acc = groups.get(key)
            if acc is None:
                acc = groups[key] = _Acc()
            acc.add(d0, d1, d2, d3, window, bad_window, failing)

    positions = [min(DIMENSIONS.index(d), 2) for d in dims]  # a period is the third part
    finished = sorted(
        (
            _finish(tuple((d, key[i]) for d, i in zip(dims, positions, strict=True)), acc, basis)
            for key, acc in groups.items()
        ),
        key=lambda g: tuple(v for _, v in g.key),
    )
    overall = _Acc()
    overall.incidents = incidents
    overall.values = (v0, v1, v2, v3)
    overall.streams = streams
    invalid = [0, 0, 0, 0, mtbf_invalid]
    for error in errors:
        if error[1] != mtbf_o:
            invalid[error[1]] += 1
    overall.invalid = invalid
    overall.missing = [
        *(incidents - len(v) - invalid[i] for i, v in enumerate(overall.values)),
        mtbf_missing,
    ]
    errors.sort()
    # breaches were appended in metric order per incident; a stable sort by id keeps it
    # (already in id order when the source is, e.g. a store listing by declaration)
    if all(map(le, b_ids, islice(b_ids, 1, None))):
        breaches = Breaches(b_ids, b_sev, b_met, b_act, b_lim)
    else:
        rank = sorted(range(len(b_ids)), key=b_ids.__getitem__)
        breaches = Breaches(
            tuple(map(b_ids.__getitem__, rank)),
            tuple(map(b_sev.__getitem__, rank)),
            tuple(map(b_met.__getitem__, rank)),
            array("d", map(b_act.__getitem__, rank)),
            array("d", map(b_lim.__getitem__, rank)),
        )
    metric_of = tuple(Metric)
    return MetricsReport(
        basis=basis,
        zone=tz,
        since=since_utc,
        until=until_utc,
        by=dims,
        overall=_finish((), overall, basis),
        groups=tuple(finished),
        data_errors=tuple(
            DataError(iid, metric_of[o], start_field, end_field, start, end)
            for iid, o, start_field, end_field, start, end in errors
        ),
        breaches=breaches,
        targets=targets,
    )
