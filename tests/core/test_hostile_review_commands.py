# ruff: noqa: E501  (the command table reads best one call per line; fmt: skip keeps it)
"""Every command of ``kit.reviews``, driven with generated hostile arguments.

Same invariant as :mod:`test_hostile_commands`: a review command either
succeeds or raises a typed ``IncidentKitError``, and a refused one leaves the
store exactly as it was; sent again with its key, a success changes nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidentkit.errors import IncidentKitError
from incidentkit.kit import IncidentKit
from incidentkit.review.capability import Reviews
from incidentkit.roles import Role

from ._helpers import T0
from .test_hostile_commands import BY, IID, KEY, TEXT, _everything, _iid, arg, kits

__all__ = ["kits"]

Call = Callable[[IncidentKit, str, Any], object]

DUE = arg(date(2024, 11, 22), date(1, 1, 1), T0)
REVIEW_COMMANDS: dict[str, st.SearchStrategy[Call]] = {
    "open": st.builds(lambda i, b: lambda k, x, ky: k.reviews.open(_iid(i, x), by=b, idempotency_key=ky), IID, BY),
    "schedule": st.builds(
        lambda i, m, b, e: lambda k, x, ky: k.reviews.schedule(_iid(i, x), m, by=b, extra=e, idempotency_key=ky),
        IID, arg(T0 + timedelta(days=1), T0 - timedelta(days=1)), BY, arg((), ["carol"]),
    ),
    "move": st.builds(
        lambda i, s, b, r: lambda k, x, ky: k.reviews.move(_iid(i, x), s, by=b, reason=r, idempotency_key=ky),
        IID, arg("in_review", "reviewed", "closed", "draft"), BY, TEXT,
    ),
    "set_text": st.builds(
        lambda i, f, t, b: lambda k, x, ky: k.reviews.set_text(_iid(i, x), f, t, by=b, idempotency_key=ky),
        IID, arg("summary", "impact", "customer_summary"), TEXT, BY,
    ),
    "add_lesson": st.builds(
        lambda i, kd, t, b: lambda k, x, ky: k.reviews.add_lesson(_iid(i, x), kd, t, by=b, idempotency_key=ky),
        IID, arg("went_well", "could_improve", "lucky"), TEXT, BY,
    ),
    "add_decision": st.builds(
        lambda i, d, r, b: lambda k, x, ky: k.reviews.add_decision(_iid(i, x), d, reason=r, by=b, idempotency_key=ky),
        IID, TEXT, TEXT, BY,
    ),
    "add_why": st.builds(
        lambda i, t, b, c, p, e: lambda k, x, ky: k.reviews.add_why(_iid(i, x), t, by=b, chain=c, problem=p, evidence=e, idempotency_key=ky),
        IID, TEXT, BY, arg("main", "db"), TEXT, arg((), None),
    ),
    "conclude": st.builds(
        lambda i, t, b, c: lambda k, x, ky: k.reviews.conclude(_iid(i, x), t, by=b, chain=c, idempotency_key=ky),
        IID, TEXT, BY, arg("main", "db"),
    ),
    "add_factor": st.builds(
        lambda i, c, t, b: lambda k, x, ky: k.reviews.add_factor(_iid(i, x), c, t, by=b, idempotency_key=ky),
        IID, arg("capacity", "process"), TEXT, BY,
    ),
    "pin": st.builds(lambda i, v, b: lambda k, x, ky: k.reviews.pin(_iid(i, x), v, by=b, idempotency_key=ky), IID, arg([1], [1, 2], [10**6]), BY),
    "add_action": st.builds(
        lambda i, t, o, p, ty, d, b: lambda k, x, ky: k.reviews.add_action(
            _iid(i, x), t, owner=o, priority=p, type=ty, due=d, by=b, idempotency_key=ky
        ),
        IID, TEXT, arg("bob"), arg("P0", "P2"), arg("preventive", "detective"), DUE, BY,
    ),
    "set_action_status": st.builds(
        lambda i, a, s, b, r: lambda k, x, ky: k.reviews.set_action_status(_iid(i, x), a, s, by=b, reason=r, idempotency_key=ky),
        IID, arg("A1", "A2"), arg("done", "wont_do", "in_progress"), BY, TEXT,
    ),
    "give_feedback": st.builds(
        lambda i, r, b, t: lambda k, x, ky: k.reviews.give_feedback(_iid(i, x), r, by=b, text=t, idempotency_key=ky),
        IID, arg(5, 1, "5", 0), BY, TEXT,
    ),
    "get": st.builds(lambda i: lambda k, x, _: k.reviews.get(_iid(i, x)), IID),
    "participants": st.builds(lambda i: lambda k, x, _: k.reviews.participants(_iid(i, x)), IID),
    "related": st.builds(lambda i, n: lambda k, x, _: k.reviews.related(_iid(i, x), limit=n), IID, arg(200, 0)),
    "render": st.builds(lambda i, f: lambda k, x, _: k.reviews.render(_iid(i, x), format=f), IID, arg("markdown", "html")),
}  # fmt: skip


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(calls=st.lists(st.tuples(st.one_of(*REVIEW_COMMANDS.values()), KEY), min_size=1, max_size=4))
def test_hostile_review_arguments_give_a_typed_error_and_store_nothing_on_error(
    kits: Callable[[], IncidentKit], calls: list[tuple[Call, object]]
) -> None:
    kit = kits()
    try:
        iid = kit.declare("API 500s", severity="SEV2", by="alice", services=["api"]).id
        kit.assign_role(iid, Role.INCIDENT_COMMANDER, "alice", by="alice")
        kit.resolve(iid, by="alice", summary="fixed", force=True, reason="test")
        for call, key in calls:
            before = _everything(kit.store, key)
            try:
                call(kit, iid, key)
            except IncidentKitError:
                assert _everything(kit.store, key) == before
                continue
            if key is not None:
                after = _everything(kit.store, key)
                call(kit, iid, key)
                assert _everything(kit.store, key) == after
    finally:
        kit.shutdown()


def test_every_review_command_is_driven() -> None:
    public = {
        name
        for name, member in inspect.getmembers(Reviews, inspect.isfunction)
        if not name.startswith("_") and name != "ical"  # ical: the optional extra, tested apart
    }
    assert set(REVIEW_COMMANDS) == public
