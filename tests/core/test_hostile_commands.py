# ruff: noqa: E501  (the command table reads best one call per line; fmt: skip keeps it)
"""Every public command of IncidentKit, driven with generated hostile arguments.

Invariant: a command either succeeds or raises a typed ``IncidentKitError``,
and a refused command leaves the store exactly as it was (events, summaries,
outbox and stored command ids), on the memory store and on SQLite. Every
command that takes an ``idempotency_key`` is driven with generated keys too
(none, a few valid ones shared between commands, and hostile values); a
command that succeeded with a key and is sent again changes nothing.
"""

from __future__ import annotations

import contextlib
import inspect
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentkit.clock import ManualClock
from incidentkit.errors import IncidentKitError
from incidentkit.kit import IncidentKit
from incidentkit.mitigation import FeatureFlagAction, InMemoryFlagClient
from incidentkit.roles import Role
from incidentkit.store import Store

from ._helpers import T0

_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
_ANY_CHAR = st.characters(codec=None) | _SURROGATES | st.sampled_from("\x00\x1b\n\t")

HOSTILE_TEXT = st.one_of(
    st.text(_ANY_CHAR, max_size=12),
    st.builds(lambda s: "ok" + s, st.text(_SURROGATES, min_size=1, max_size=2)),
    st.sampled_from(["", "   ", "a\x00b", "x" * 1_000_000, "n" * 20_001, "p" * 129]),
)
EXTREME_DATETIMES = st.one_of(
    st.sampled_from(
        [
            datetime.max.replace(tzinfo=UTC),
            datetime.min.replace(tzinfo=UTC),
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
            datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14))),
            datetime(2024, 11, 20, 22, 0),  # naive
            T0 - timedelta(minutes=5),
            T0 + timedelta(days=1),
        ]
    ),
    st.datetimes(timezones=st.just(UTC)),
)
HOSTILE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([2**63, -(2**63) - 1, 10**30]),
        st.floats(),
        HOSTILE_TEXT,
        EXTREME_DATETIMES,
        st.builds(object),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
NESTED = st.recursive(
    st.just("x"), lambda inner: st.lists(inner, min_size=1, max_size=1), max_leaves=50
)


def arg(*valid: object) -> st.SearchStrategy[Any]:
    """A valid value most of the time would hide nothing: mix both evenly."""
    return st.one_of(st.sampled_from(valid), HOSTILE) if valid else HOSTILE


BY = arg("alice", "bob")
IID = arg("__iid__")
TEXT = arg("seen 15% errors", "")
PEOPLE = arg("alice", "bob", "carol")
ROLES = arg(*(r.value for r in Role), Role.SCRIBE, "ic")
CHECKLISTS = arg("resolution", "declaration")
ITEMS = arg("root-cause-identified", "fix-validated", "assign-severity")
FLAGS = arg(True, False)
VALID_KEYS = ("k-1", "k-2", "retry \u00e9 7")
"""Keys a host might send; shared by every command, so reuse across commands is tried too."""
KEY = st.one_of(st.none(), st.sampled_from(VALID_KEYS), HOSTILE)

Call = Callable[[IncidentKit, str, Any], object]
"""``(kit, the open incident's id, idempotency_key) -> result``."""


def _iid(value: object, iid: str) -> object:
    return iid if value == "__iid__" else value


COMMANDS: dict[str, st.SearchStrategy[Call]] = {
    "declare": st.builds(
        lambda t, s, b, src, sa, da, sv, d, sg, i: lambda k, _, ky: k.declare(
            t, severity=s, by=b, source=src, started_at=sa, detected_at=da,
            services=sv, description=d, signals=sg, incident_id=i, idempotency_key=ky,
        ),
        TEXT, arg("SEV1", 2, None), BY, arg("manual", "alert"), arg(None, T0 - timedelta(1)),
        arg(None, T0), arg(["api"], (), ["api", "db"]), TEXT, arg(None), arg(None, "INC-7"),
    ),
    "acknowledge": st.builds(lambda i, b: lambda k, x, ky: k.acknowledge(_iid(i, x), by=b, idempotency_key=ky), IID, BY),
    "set_severity": st.builds(
        lambda i, s, b, r: lambda k, x, ky: k.set_severity(_iid(i, x), s, by=b, reason=r, idempotency_key=ky),
        IID, arg("SEV2", "SEV1", 3), BY, TEXT,
    ),
    "assign_role": st.builds(
        lambda i, r, p, b: lambda k, x, ky: k.assign_role(_iid(i, x), r, p, by=b, idempotency_key=ky), IID, ROLES, PEOPLE, BY
    ),
    "release_role": st.builds(
        lambda i, r, b: lambda k, x, ky: k.release_role(_iid(i, x), r, by=b, idempotency_key=ky), IID, ROLES, BY
    ),
    "enter_phase": st.builds(
        lambda i, p, b: lambda k, x, ky: k.enter_phase(_iid(i, x), p, by=b, idempotency_key=ky),
        IID, arg("mitigate", "investigate"), BY,
    ),
    "set_status": st.builds(
        lambda i, s, b, r: lambda k, x, ky: k.set_status(_iid(i, x), s, by=b, reason=r, idempotency_key=ky),
        IID, arg("investigating", "identified"), BY, TEXT,
    ),
    "add_note": st.builds(lambda i, t, b: lambda k, x, ky: k.add_note(_iid(i, x), t, by=b, idempotency_key=ky), IID, TEXT, BY),
    "record_hypothesis": st.builds(
        lambda i, h, b, t, r, c: lambda k, x, ky: k.record_hypothesis(
            _iid(i, x), h, by=b, test=t, result=r, conclusion=c, idempotency_key=ky
        ),
        IID, TEXT, BY, TEXT, TEXT, arg("confirmed", "inconclusive"),
    ),
    "post_update": st.builds(
        lambda i, s, m, b, a: lambda k, x, ky: k.post_update(_iid(i, x), s, m, by=b, audience=a, idempotency_key=ky),
        IID, arg("investigating", "identified"), TEXT, BY, arg("public", "internal"),
    ),
    "check": st.builds(
        lambda i, c, it, b: lambda k, x, ky: k.check(_iid(i, x), c, it, by=b, idempotency_key=ky), IID, CHECKLISTS, ITEMS, BY
    ),
    "skip": st.builds(
        lambda i, c, it, b, r: lambda k, x, ky: k.skip(_iid(i, x), c, it, by=b, reason=r, idempotency_key=ky),
        IID, CHECKLISTS, ITEMS, BY, TEXT,
    ),
    "not_applicable": st.builds(
        lambda i, c, it, b, r: lambda k, x, ky: k.not_applicable(_iid(i, x), c, it, by=b, reason=r, idempotency_key=ky),
        IID, CHECKLISTS, ITEMS, BY, TEXT,
    ),
    "resolve": st.builds(
        lambda i, b, s, f, r: lambda k, x, ky: k.resolve(_iid(i, x), by=b, summary=s, force=f, reason=r, idempotency_key=ky),
        IID, BY, TEXT, FLAGS, TEXT,
    ),
    "reopen": st.builds(lambda i, b, r: lambda k, x, ky: k.reopen(_iid(i, x), by=b, reason=r, idempotency_key=ky), IID, BY, TEXT),
    "close": st.builds(lambda i, b, r: lambda k, x, ky: k.close(_iid(i, x), by=b, reason=r, idempotency_key=ky), IID, BY, TEXT),
    "mark_mitigated": st.builds(
        lambda i, b, d, a: lambda k, x, ky: k.mark_mitigated(_iid(i, x), by=b, detail=d, action=a, idempotency_key=ky),
        IID, BY, TEXT, arg("manual", "rollback"),
    ),
    "mitigate": st.builds(
        lambda i, a, b, p, d, n: lambda k, x, ky: k.mitigate(
            _iid(i, x), a, by=b, params=p, dry_run=d, inline=n, idempotency_key=ky
        ),
        IID, arg("feature_flag"), BY,
        arg({"flag": "checkout", "enabled": False}, None) | st.builds(lambda n: {"flag": n, "enabled": True}, NESTED),
        FLAGS, FLAGS,
    ),
    "incidents": st.builds(
        lambda st_, sv, svc, si, un, o, li: lambda k, _, __: k.incidents(
            status=st_, severity=sv, service=svc, since=si, until=un, open_only=o, limit=li
        ),
        arg(None, "declared", ["declared", "resolved"]), arg(None, "SEV1", ["SEV2"]),
        arg(None, "api"), arg(None, T0 - timedelta(1)), arg(None, T0 + timedelta(1)),
        FLAGS, arg(None, 0, 10, 2**63),
    ),
    "get": st.builds(lambda i: lambda k, x, _: k.get(_iid(i, x)), IID),
    "timeline": st.builds(lambda i: lambda k, x, _: k.timeline(_iid(i, x)), IID),
}  # fmt: skip


def _everything(store: Store, key: object = None) -> tuple[object, ...]:
    ids = store.incident_ids()
    keys = [*VALID_KEYS, *([key] if isinstance(key, str) and key not in VALID_KEYS else [])]
    commands = {}
    for k in keys:
        with contextlib.suppress(IncidentKitError):  # a key no store could hold
            commands[k] = store.command(k)
    return (
        {i: store.load(i) for i in ids},
        store.outbox(),
        store.summaries(),
        commands,
    )


@pytest.fixture(params=["memory", "sqlite"])
def kits(request: pytest.FixtureRequest) -> Iterator[Callable[[], IncidentKit]]:
    """A factory of fresh kits on the store kind under test (one store per example)."""
    with tempfile.TemporaryDirectory(prefix="incidentkit-hostile-") as folder:
        counter = iter(range(10**6))

        def make() -> IncidentKit:
            url = (
                "memory://"
                if request.param == "memory"
                else f"sqlite:///{Path(folder)}/{next(counter)}.db"
            )
            return IncidentKit.open(
                url,
                clock=ManualClock(T0),
                plugins=[FeatureFlagAction(InMemoryFlagClient())],
                autoload_plugins=False,
            )

        yield make


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(calls=st.lists(st.tuples(st.one_of(*COMMANDS.values()), KEY), min_size=1, max_size=4))
def test_hostile_arguments_give_a_typed_error_or_success_and_store_nothing_on_error(
    kits: Callable[[], IncidentKit], calls: list[tuple[Call, object]]
) -> None:
    kit = kits()
    try:
        iid = kit.declare("API 500s", severity="SEV2", by="alice", services=["api"]).id
        kit.assign_role(iid, Role.INCIDENT_COMMANDER, "alice", by="alice")
        for call, key in calls:
            before = _everything(kit.store, key)
            try:
                call(kit, iid, key)
            except IncidentKitError:
                assert _everything(kit.store, key) == before
                continue
            if key is not None:
                # The same command sent again with its key (a retry): nothing new.
                after = _everything(kit.store, key)
                call(kit, iid, key)
                assert _everything(kit.store, key) == after
    finally:
        kit.shutdown()


def test_every_public_command_is_driven() -> None:
    commands = {
        "declare", "acknowledge", "set_severity", "assign_role", "release_role",
        "enter_phase", "set_status", "add_note", "record_hypothesis", "post_update",
        "check", "skip", "not_applicable", "resolve", "reopen", "close",
        "mark_mitigated", "mitigate", "incidents", "get", "timeline",
    }  # fmt: skip
    assert set(COMMANDS) == commands
    assert all(callable(getattr(IncidentKit, name)) for name in commands)


class _Recorder:
    """Stands in for a kit: remembers which method was called with which keywords."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        def record(*_: object, **kwargs: Any) -> None:
            self.calls.append((name, kwargs))

        return record


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_every_command_that_takes_an_idempotency_key_is_driven_with_it(data: st.DataObject) -> None:
    for name, strategy in COMMANDS.items():
        recorder = _Recorder()
        key = data.draw(KEY)
        data.draw(strategy)(recorder, "INC-1", key)  # type: ignore[arg-type]
        [(called, kwargs)] = recorder.calls
        assert called == name
        takes_key = "idempotency_key" in inspect.signature(getattr(IncidentKit, name)).parameters
        assert ("idempotency_key" in kwargs) == takes_key, name
        if takes_key:
            assert kwargs["idempotency_key"] is key
