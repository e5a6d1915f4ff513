"""Schedules: layers of rotations with overrides, and who is on call when.

A :class:`Schedule` stacks :class:`Layer` objects (``primary``, ``secondary``
…). Each layer holds one or more rotations; where two rotations of a layer
are both in effect, the one listed **later** wins (list a new rotation after
the old one to change a layer from a future date). On top of the rotations
sit :class:`Override` objects: person P covers layer L from t1 to t2.

Overrides on the same layer must not overlap unless the schedule sets
``allow_overlapping_overrides``; then the override created later (later in
:attr:`Schedule.overrides`, the order :meth:`Schedule.add_override` appends
in) wins where they overlap. Refusing is the default because two people
covering the same hours is usually a mistake.

Precedence at an instant, highest first: overrides (latest created first),
then rotations (last listed first). The person on call is the highest item
that covers the instant; a layer with no item covering it has nobody.

A shift as :meth:`Schedule.shifts` and :meth:`Schedule.on_call` report it is
a maximal interval held by one item (one override, or one rotation shift),
cut where a higher-precedence item starts or ends. Both methods compute it
the same way, so ``on_call(at)`` always names a shift that ``shifts()`` lists.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import attrs

from incidentkit._time import ensure_aware
from incidentkit.errors import NotFound, PolicyError, ValidationError
from incidentkit.oncall.rotation import Rotation, _aware, _refuse, _to_utc, _to_utc_opt

__all__ = ["Layer", "LayerHolder", "OnCall", "Override", "Schedule", "Shift"]


def _rotations(value: Iterable[Rotation]) -> tuple[Rotation, ...]:
    return tuple(value)


@attrs.frozen
class Layer:
    """One concurrent on-call line (``primary``, ``secondary`` …).

    :param name: the layer's name, unique in its schedule.
    :param rotations: one or more rotations; later ones win where they overlap.
    """

    name: str = attrs.field()
    rotations: tuple[Rotation, ...] = attrs.field(converter=_rotations)

    @name.validator
    def _check_name(self, _: attrs.Attribute[Any], value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise _refuse("name", "a layer needs a non-empty name")

    @rotations.validator
    def _check_rotations(self, _: attrs.Attribute[Any], value: tuple[Rotation, ...]) -> None:
        if not value:
            raise _refuse("rotations", f"layer {self.name!r} has no rotation")


@attrs.frozen
class Override:
    """Person ``person`` covers layer ``layer`` from ``start`` to ``end`` (exclusive).

    ``created_at`` and ``reason`` are informational; precedence between
    overlapping overrides is their order in :attr:`Schedule.overrides`.
    """

    layer: str
    person: str
    start: datetime = attrs.field(converter=_to_utc, validator=_aware("start"))
    end: datetime = attrs.field(converter=_to_utc, validator=_aware("end"))
    created_at: datetime | None = attrs.field(
        default=None, converter=_to_utc_opt, validator=_aware("created_at")
    )
    reason: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.person.strip():
            raise _refuse("person", "an override needs the covering person's name")
        if self.end <= self.start:
            raise _refuse("end", "must be after start")


@attrs.frozen
class Shift:
    """A person holding a layer of a schedule from ``start`` to ``end`` (UTC, end exclusive)."""

    schedule: str
    layer: str
    person: str
    start: datetime
    end: datetime
    via_override: bool = False

    @property
    def duration(self) -> timedelta:
        """Elapsed length of the shift."""
        return self.end - self.start


@attrs.frozen
class LayerHolder:
    """Who holds ``layer`` at an instant, and the bounds of that shift."""

    layer: str
    person: str
    shift_start: datetime
    shift_end: datetime
    via_override: bool = False


@attrs.frozen
class OnCall:
    """The answer of :meth:`Schedule.on_call`: one holder per layer that has somebody."""

    schedule: str
    at: datetime
    holders: tuple[LayerHolder, ...]

    def holder(self, layer: str) -> LayerHolder | None:
        """The holder of ``layer``, or ``None`` when nobody holds it."""
        for holder in self.holders:
            if holder.layer == layer:
                return holder
        return None

    def person(self, layer: str) -> str | None:
        """The person holding ``layer``, or ``None``."""
        holder = self.holder(layer)
        return None if holder is None else holder.person


class _LayerIndex:
    """Overrides of one layer sorted by start, with the longest duration, for bisecting."""

    __slots__ = ("layer", "max_len", "overrides", "starts")

    def __init__(self, layer: Layer, overrides: Iterable[tuple[int, Override]]) -> None:
        self.layer = layer
        self.overrides = sorted(overrides, key=lambda item: (item[1].start, item[0]))
        self.starts = [o.start for _, o in self.overrides]
        self.max_len = max((o.end - o.start for _, o in self.overrides), default=timedelta(0))

    def near(self, lo: datetime, hi: datetime) -> list[tuple[int, Override]]:
        """Overrides that may intersect ``[lo, hi]``."""
        left = bisect.bisect_left(self.starts, lo - self.max_len)
        right = bisect.bisect_right(self.starts, hi)
        return self.overrides[left:right]

    def top(self, at: datetime) -> LayerHolder | None:
        """The holder at the aware UTC instant ``at`` and its segment, or ``None``."""
        covering = (
            [(p, o) for p, o in self.near(at, at) if o.start <= at < o.end] if self.starts else []
        )
        if covering:
            prec, ov = max(covering, key=lambda item: item[0])
            higher = [o.start for p, o in self.near(ov.start, ov.end) if p > prec]
            higher_ends = [o.end for p, o in self.near(ov.start, ov.end) if p > prec]
            return self._cut(ov.person, ov.start, ov.end, at, higher, higher_ends, True)
        rotations = self.layer.rotations
        for r_index in range(len(rotations) - 1, -1, -1):
            rotation = rotations[r_index]
            found = rotation.locate(at)
            if found is None:
                continue
            k, lo, hi = found
            person = rotation.participants[k % len(rotation.participants)]
            if not self.starts and r_index == len(rotations) - 1:
                return LayerHolder(self.layer.name, person, lo, hi, False)
            starts: list[datetime] = []
            ends: list[datetime] = []
            for _, ov in self.near(lo, hi):
                starts.append(ov.start)
                ends.append(ov.end)
            for later in rotations[r_index + 1 :]:
                starts.append(later.start)
                if later.end is not None:
                    ends.append(later.end)
            return self._cut(person, lo, hi, at, starts, ends, False)
        return None

    def _cut(
        self,
        person: str,
        lo: datetime,
        hi: datetime,
        at: datetime,
        starts: list[datetime],
        ends: list[datetime],
        via_override: bool,
    ) -> LayerHolder:
        # Higher items never cover `at` (else one of them would be on top), so
        # the segment around `at` runs from the last higher end at or before it
        # to the first higher start after it.
        for end in ends:
            if lo < end <= at:
                lo = end
        for start in starts:
            if at < start < hi:
                hi = start
        return LayerHolder(self.layer.name, person, lo, hi, via_override)

    def next_start(self, after: datetime) -> datetime | None:
        """The first instant after ``after`` at which some item of the layer begins."""
        candidates = [r.start for r in self.layer.rotations if r.start > after]
        i = bisect.bisect_right(self.starts, after)
        if i < len(self.starts):
            candidates.append(self.starts[i])
        return min(candidates, default=None)


def _layers(value: Iterable[Layer]) -> tuple[Layer, ...]:
    return tuple(value)


def _overrides(value: Iterable[Override]) -> tuple[Override, ...]:
    return tuple(value)


@attrs.frozen
class Schedule:
    """Layers of rotations plus overrides; answers who is on call.

    :param name: the schedule's name (``"platform"``).
    :param layers: the layers, in display order (``primary`` first).
    :param overrides: overrides in creation order.
    :param allow_overlapping_overrides: let overrides on one layer overlap
        (the later one wins) instead of refusing them.
    """

    name: str
    layers: tuple[Layer, ...] = attrs.field(converter=_layers)
    overrides: tuple[Override, ...] = attrs.field(default=(), converter=_overrides)
    allow_overlapping_overrides: bool = False
    _index: dict[str, _LayerIndex] = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise _refuse("name", "a schedule needs a non-empty name")
        if not self.layers:
            raise _refuse("layers", f"schedule {self.name!r} has no layer")
        seen: set[str] = set()
        for i, layer in enumerate(self.layers):
            if layer.name in seen:
                raise _refuse(f"layers[{i}].name", f"duplicate layer name {layer.name!r}")
            seen.add(layer.name)
        problems: list[tuple[str, str]] = []
        for i, ov in enumerate(self.overrides):
            if ov.layer not in seen:
                problems.append(
                    (
                        f"$.overrides[{i}].layer",
                        f"unknown layer {ov.layer!r} (known: {', '.join(seen)})",
                    )
                )
        if not self.allow_overlapping_overrides:
            for i, ov in enumerate(self.overrides):
                for j in range(i):
                    other = self.overrides[j]
                    if other.layer == ov.layer and other.start < ov.end and ov.start < other.end:
                        problems.append(
                            (
                                f"$.overrides[{i}]",
                                f"overlaps overrides[{j}] on layer {ov.layer!r} "
                                f"({other.person} {other.start.isoformat()} to "
                                f"{other.end.isoformat()}); set allow_overlapping_overrides "
                                "to let the later one win",
                            )
                        )
                        break
        if problems:
            raise PolicyError(problems)
        index = {
            layer.name: _LayerIndex(
                layer, ((p, o) for p, o in enumerate(self.overrides) if o.layer == layer.name)
            )
            for layer in self.layers
        }
        object.__setattr__(self, "_index", index)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """The layers' names in order."""
        return tuple(layer.name for layer in self.layers)

    def layer(self, name: str) -> Layer:
        """The layer called ``name``.

        :raises NotFound: when there is no such layer.
        """
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise NotFound("layer", name, self.layer_names)

    def add_override(self, override: Override) -> Schedule:
        """A copy with ``override`` appended (it is the latest created, so it wins).

        :raises PolicyError: naming ``$.overrides[i]`` when it overlaps another
            override on its layer and overlaps are not allowed, or names an unknown layer.
        """
        return attrs.evolve(self, overrides=(*self.overrides, override))

    def on_call(self, at: datetime) -> OnCall:
        """Who holds each layer at ``at`` (layers with nobody are left out).

        Cost does not depend on how long ago the rotations started.

        :raises ValidationError: naming ``at`` when it is naive.
        """
        at = ensure_aware(at, "at")
        holders: list[LayerHolder] = []
        for layer in self.layers:
            holder = self._index[layer.name].top(at)
            if holder is not None:
                holders.append(holder)
        return OnCall(self.name, at, tuple(holders))

    def shifts(
        self,
        start: datetime,
        end: datetime,
        *,
        layer: str | None = None,
        person: str | None = None,
    ) -> tuple[Shift, ...]:
        """Every shift overlapping ``[start, end)``, sorted by start then layer order.

        Shifts are reported whole (not clipped to the window). ``layer`` and
        ``person`` filter the result.

        :raises ValidationError: for naive bounds or ``end <= start``.
        :raises NotFound: for an unknown ``layer``.
        """
        start = ensure_aware(start, "start")
        end = ensure_aware(end, "end")
        if end <= start:
            raise ValidationError("end", "must be after start")
        names = self.layer_names if layer is None else (self.layer(layer).name,)
        found: list[tuple[datetime, int, Shift]] = []
        for order, name in enumerate(names):
            index = self._index[name]
            t = start
            while t < end:
                piece = index.top(t)
                if piece is None:
                    nxt = index.next_start(t)
                    if nxt is None:
                        break
                    t = nxt
                    continue
                if person is None or piece.person == person:
                    shift = Shift(
                        self.name,
                        name,
                        piece.person,
                        piece.shift_start,
                        piece.shift_end,
                        piece.via_override,
                    )
                    found.append((piece.shift_start, order, shift))
                t = piece.shift_end
        found.sort(key=lambda item: (item[0], item[1]))
        return tuple(shift for _, _, shift in found)
