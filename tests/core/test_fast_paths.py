"""The hot path's hand-made shortcuts equal what they replace."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import incidentkit as ik
from incidentkit.incident import Incident, evolve_state
from incidentkit.store import IncidentSummary
from incidentkit.store._columns import (
    SUMMARY_COLUMNS,
    ColumnKind,
    summary_from_row,
    summary_from_row_slow,
    summary_values,
)
from incidentkit.store.postgres import _CODEC as POSTGRES_CODEC
from incidentkit.store.sqlite import _CODEC as SQLITE_CODEC
from incidentkit.testing import SAMPLE_TIME

T0 = SAMPLE_TIME
FIELDS = [a.name for a in attrs.fields(Incident)]


def _state() -> Incident:
    kit = ik.IncidentKit(clock=ik.ManualClock(T0), autoload_plugins=False)
    inc = kit.declare("Login failures", severity=ik.Severity.SEV1, by="alice", services=["auth"])
    kit.assign_role(inc.id, "incident_commander", "alice", by="alice")
    return kit.get(inc.id)


STATE = _state()
# Replacement values: another incident's field values, shuffled across names.
OTHER = attrs.evolve(STATE, id="INC-2", version=99, title="other", services=("api",))


@given(st.sets(st.sampled_from(FIELDS)))
@settings(max_examples=200)
def test_evolve_state_equals_attrs_evolve(names: set[str]) -> None:
    changes = {name: getattr(OTHER, name) for name in names}
    made = evolve_state(STATE, **changes)
    assert made == attrs.evolve(STATE, **changes)
    assert type(made) is Incident
    for name in FIELDS:
        assert getattr(made, name) is (changes[name] if name in names else getattr(STATE, name))


def test_evolve_state_refuses_unknown_fields_like_attrs() -> None:
    with pytest.raises(TypeError, match="nope"):
        evolve_state(STATE, nope=1)
    assert evolve_state(STATE) == STATE


def _slow_values(summary: IncidentSummary) -> tuple[object, ...]:
    """The row as the per-column encoders wrote it before the compiled one."""
    row: list[object] = []
    for name, kind in SUMMARY_COLUMNS:
        value = getattr(summary, name)
        match kind:
            case ColumnKind.STATUS | ColumnKind.SEVERITY:
                row.append(value.value)
            case ColumnKind.SERVICES:
                row.append(SQLITE_CODEC.services_out(tuple(value)))
            case ColumnKind.TIME:
                row.append(SQLITE_CODEC.time_out(value))
            case _:
                row.append(value)
    return tuple(row)


def _sample_summary(services: list[str], offset: int | None, **changes: Any) -> IncidentSummary:
    """A summary for the row tests; ``offset`` seconds after T0 sets its start, end and due."""
    at = None if offset is None else T0 + timedelta(seconds=offset)
    fields: dict[str, Any] = {
        "incident_id": "INC-1",
        "version": 3,
        "title": "Login failures",
        "status": ik.Status.INVESTIGATING,
        "severity": ik.Severity.SEV2,
        "services": tuple(services),
        "started_at": at,
        "detected_at": T0,
        "declared_at": T0,
        "resolved_at": at,
        "next_due_at": at,
    }
    return IncidentSummary(**{**fields, **changes})


@given(
    st.lists(st.sampled_from(["auth", "api", "db"]), unique=True),
    st.one_of(st.none(), st.integers(0, 10**9)),
)
def test_compiled_summary_row_equals_per_column_encoding(
    services: list[str], offset: int | None
) -> None:
    summary = _sample_summary(services, offset)
    assert summary_values(summary, SQLITE_CODEC) == _slow_values(summary)


@given(
    st.lists(st.sampled_from(["auth", "api", "db", "ünïcode"]), unique=True),
    st.one_of(st.none(), st.integers(0, 10**9)),
    st.sampled_from(list(ik.Status)),
    st.sampled_from(list(ik.Severity)),
)
def test_compiled_summary_reader_equals_per_column_decoding(
    services: list[str], offset: int | None, status: ik.Status, severity: ik.Severity
) -> None:
    summary = _sample_summary(
        services,
        offset,
        status=status,
        severity=severity,
        head_hash=None if offset is None else "ab" * 32,
    )
    row = summary_values(summary, SQLITE_CODEC)
    assert summary_from_row(row, SQLITE_CODEC, "x") == summary_from_row_slow(row, SQLITE_CODEC, "x")
    assert summary_from_row(row, SQLITE_CODEC, "x") == summary
    again = summary_from_row(row, SQLITE_CODEC, "x")  # the remembered services tuple
    assert again == summary and type(again.services) is tuple
    pg_row = tuple(
        list(value) if kind is ColumnKind.SERVICES else value
        for (_, kind), value in zip(
            SUMMARY_COLUMNS, summary_values(summary, POSTGRES_CODEC), strict=True
        )
    )
    assert summary_from_row(pg_row, POSTGRES_CODEC, "x") == summary


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("status", "sleeping"),
        ("severity", "SEV9"),
        ("services", "[not json"),
        ("started_at", "yesterday"),
    ],
)
def test_an_unreadable_summary_row_is_named_as_by_the_slow_reader(
    column: str, value: object
) -> None:
    summary = IncidentSummary(
        incident_id="INC-7",
        version=1,
        title="t",
        status=ik.Status.DECLARED,
        severity=ik.Severity.SEV2,
        services=("auth",),
        detected_at=T0,
        declared_at=T0,
    )
    row = list(summary_values(summary, SQLITE_CODEC))
    row[[name for name, _ in SUMMARY_COLUMNS].index(column)] = value
    with pytest.raises(ik.StoreError) as slow:
        summary_from_row_slow(row, SQLITE_CODEC, "sqlite:///x")
    with pytest.raises(ik.StoreError) as fast:
        summary_from_row(row, SQLITE_CODEC, "sqlite:///x")
    assert str(fast.value) == str(slow.value)
    assert "INC-7" in str(fast.value)
    with pytest.raises(ik.StoreError, match="unreadable summary row"):
        summary_from_row([*row, "extra"], SQLITE_CODEC, "sqlite:///x")


def test_compiled_summary_row_names_a_naive_time() -> None:
    summary = IncidentSummary(
        incident_id="INC-1",
        version=1,
        title="t",
        status=ik.Status.DECLARED,
        severity=ik.Severity.SEV2,
        services=(),
        detected_at=T0,
        declared_at=T0,
        started_at=datetime(2024, 1, 1),  # naive
    )
    with pytest.raises(ik.ValidationError, match=r"summary\.started_at"):
        summary_values(summary, SQLITE_CODEC)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_JSON)
@settings(max_examples=300)
def test_dumps_with_the_prebuilt_c_encoder_equals_json_dumps(value: object) -> None:
    from incidentkit.serialization import dumps

    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert dumps(value) == expected


def test_dumps_refuses_what_json_dumps_refuses() -> None:
    from incidentkit.serialization import dumps

    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"a": {1, 2}})


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_a_remembered_name_is_checked_as_a_fresh_one(value: str) -> None:
    from incidentkit import _validate

    def fresh() -> str | Exception:
        try:
            return _validate.text(
                value, "by", max_length=_validate.MAX_NAME_LENGTH, single_line=True
            )
        except ik.ValidationError as err:
            return err

    for _ in range(2):  # the second call may be answered from memory
        expected = fresh()
        if isinstance(expected, Exception):
            with pytest.raises(ik.ValidationError):
                _validate.name(value, "by")
        else:
            assert _validate.name(value, "by") == expected


def test_command_ids_are_random_hex_and_never_repeat() -> None:
    from incidentkit.engine._engine import _CommandIds

    ids = _CommandIds()
    drawn = [ids() for _ in range(1000)]  # crosses several refills of the pool
    assert len(set(drawn)) == len(drawn)
    for value in drawn:
        assert value.startswith("cmd-") and len(value) == 36
        int(value[4:], 16)
    # no two consecutive ids share a prefix beyond chance (they are not a counter)
    assert len({value[4:20] for value in drawn}) == len(drawn)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_draws_other_command_ids_than_its_parent() -> None:
    from incidentkit.engine._engine import _CommandIds

    ids = _CommandIds()
    ids()  # the pool is drawn and partly used before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.write(write, " ".join(ids() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = set(os.read(read, 4096).decode().split())
    os.close(read)
    parent = {ids() for _ in range(5)}
    assert len(child) == 5 and not child & parent


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_sqlite_connection(tmp_path: Path) -> None:
    """The store notices a fork by the at-fork count, not by asking getpid() each time."""
    from incidentkit.store.sqlite import SqliteStore

    store = SqliteStore(str(tmp_path / "fork.db"))
    store.migrate()
    parent = store._connection()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a connection of its own, which can write
        try:
            child = store._connection()
            kit = ik.IncidentKit(store=store, clock=ik.ManualClock(T0), autoload_plugins=False)
            kit.declare(
                "Login API returning 500 errors",
                severity="SEV3",
                by="alice",
                incident_id="INC-FORK",
            )
            os.write(write, b"own" if child is not parent else b"shared")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    said = os.read(read, 64)
    os.close(read)
    assert said == b"own"
    assert store._connection() is parent  # the parent keeps its own
    assert store.version("INC-FORK") >= 1


@given(st.text(alphabet="aZ09._-é \n", max_size=130))
@settings(max_examples=300)
def test_a_remembered_incident_id_is_checked_as_a_fresh_one(value: str) -> None:
    from incidentkit.ids import INCIDENT_ID_PATTERN, check_incident_id

    valid = INCIDENT_ID_PATTERN.fullmatch(value) is not None
    for _ in range(2):  # the second call may be answered from memory
        if valid:
            assert check_incident_id(value) == value
        else:
            with pytest.raises(ik.ValidationError):
                check_incident_id(value)
