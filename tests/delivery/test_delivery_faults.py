"""Faults: one notifier raising, hanging or rate-limited never costs the others anything.

Every kit runs on a ManualClock; retries are reached by advancing it past
the backoff, never by sleeping, and nothing here asserts wall-clock time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from incidentkit.clock import ManualClock
from incidentkit.events import NotificationFailed
from incidentkit.kit import IncidentKit
from incidentkit.notify import Notification, NotificationKind, WebhookNotifier
from incidentkit.serialization import converter
from incidentkit.store import OutboxState
from incidentkit.testing import CapturingNotifier

from .delivery_helpers import BEYOND_BACKOFF, Receiver


@pytest.fixture
def hanger() -> Iterator[CapturingNotifier]:
    """Hangs (up to a minute) on every call; its NotifierSpec gives up after 0.2 s."""
    notifier = CapturingNotifier(
        "hanger", hang=timedelta(minutes=1), timeout=timedelta(seconds=0.2)
    )
    yield notifier
    notifier.release()


def notifications_for(kit: IncidentKit, target: str) -> list[Notification]:
    """The notifications the outbox holds for one notifier, in row order."""
    return [
        converter().structure(json.loads(row.payload), Notification)
        for row in kit.store.outbox()
        if row.topic == "notification" and row.target == target
    ]


def failures(kit: IncidentKit, incident_id: str) -> list[NotificationFailed]:
    return [r.event for r in kit.timeline(incident_id) if isinstance(r.event, NotificationFailed)]


def test_raising_hanging_and_rate_limited_notifiers_cost_the_others_nothing(
    clock: ManualClock, receiver: Receiver, hanger: CapturingNotifier
) -> None:
    steady = CapturingNotifier("steady")
    raiser = CapturingNotifier("raiser", fail_times=1)
    hook = WebhookNotifier(receiver.url, secret="s3cret", name="hook")
    receiver.reply((429, {"Retry-After": "120"}))  # the first request is rate-limited
    kit = IncidentKit(clock=clock, plugins=[steady, raiser, hanger, hook], autoload_plugins=False)

    first = kit.declare("API returning 500 errors", severity="SEV1", by="alice")
    second = kit.declare("Checkout latency", severity="SEV2", by="bob")
    kit.post_update(first.id, "investigating", "Looking at the API fleet", by="alice")
    # The commands committed normally, whatever the notifiers will do later.
    assert [r.event.tag for r in kit.timeline(first.id)][:2] == ["declared", "escalation_fired"]
    assert kit.timeline(first.id)[-1].event.tag == "update_posted"
    assert kit.get(second.id).severity == "SEV2"

    expected = notifications_for(kit, "steady")
    assert {n.kind for n in expected} >= {NotificationKind.PAGE, NotificationKind.STATUS_UPDATE}
    assert {n.incident.id for n in expected} == {first.id, second.id}
    for name in ("raiser", "hanger", "hook"):
        assert notifications_for(kit, name) == expected  # one row per notifier, same content
    keys = [n.key for n in expected]

    report = kit.deliver()
    # The healthy notifier got every notification, once, with its content, in the first pass.
    assert steady.delivered == expected
    assert report.claimed == 4 * len(expected)
    assert report.retried == 1 + len(expected) + 1  # raiser once, hanger every row, hook's 429
    assert raiser.keys() == keys[1:]
    assert hanger.delivered == []
    assert receiver.keys()[0] == keys[0]

    hanger.hang = None  # the receiver behind it recovers
    clock.advance(timedelta(seconds=119))  # past the backoff, short of Retry-After
    report = kit.deliver()
    assert report.retried == 0
    assert report.delivered == 1 + len(expected)  # the raiser's retry and the hanger's rows
    assert sorted(raiser.keys()) == sorted(keys)
    assert hanger.keys() == keys
    assert receiver.keys().count(keys[0]) == 1  # Retry-After honoured: not asked again yet

    clock.advance(timedelta(seconds=1))
    assert kit.deliver().delivered == 1
    assert sorted(receiver.keys()) == sorted([*keys, keys[0]])
    first_try, retry = receiver.bodies(keys[0])
    assert first_try == retry  # same notification, same Idempotency-Key

    # Nothing lost, nothing duplicated, nothing recorded as failed.
    assert {row.state for row in kit.store.outbox()} == {OutboxState.DONE}
    assert steady.keys() == keys
    assert failures(kit, first.id) == failures(kit, second.id) == []
    clock.advance(BEYOND_BACKOFF)
    assert kit.deliver().claimed == 0


def test_a_hung_call_that_finishes_later_is_a_duplicate_with_the_same_key(
    clock: ManualClock, hanger: CapturingNotifier
) -> None:
    kit = IncidentKit(clock=clock, plugins=[hanger], autoload_plugins=False)
    kit.declare("API returning 500 errors", severity="SEV1", by="alice")
    [row] = kit.store.outbox()
    assert kit.deliver().retried == 1  # timed out, abandoned, rescheduled
    hanger.hang = None
    clock.advance(BEYOND_BACKOFF)
    assert kit.deliver().delivered == 1
    hanger.release()  # the abandoned first call now completes too
    assert hanger.wait_for(2)
    # At-least-once: the receiver may see a key twice and must drop it by key.
    assert hanger.keys() == [hanger.keys()[0]] * 2
    assert row.key == f"{hanger.keys()[0]}:hanger"


def test_attempts_exhausted_records_notification_failed(
    clock: ManualClock, receiver: Receiver
) -> None:
    steady = CapturingNotifier("steady")
    hook = WebhookNotifier(receiver.url, name="hook", max_attempts=3)
    receiver.reply(*[(503, {})] * 10)
    kit = IncidentKit(clock=clock, plugins=[steady, hook], autoload_plugins=False)
    inc = kit.declare("API returning 500 errors", severity="SEV1", by="alice")
    [row] = [r for r in kit.store.outbox() if r.target == "hook"]

    reports = []
    for _ in range(5):
        reports.append(kit.deliver())
        clock.advance(BEYOND_BACKOFF)
    assert [r.retried for r in reports] == [1, 1, 0, 0, 0]
    assert [r.dead for r in reports] == [0, 0, 1, 0, 0]
    # Three attempts, every one with the same Idempotency-Key and body.
    [key] = steady.keys()
    assert receiver.keys() == [key] * 3
    assert len(set(receiver.bodies(key))) == 1
    [dead] = [r for r in kit.store.outbox() if r.id == row.id]
    assert dead.state is OutboxState.DEAD
    assert dead.attempts == 3
    assert "HTTP 503" in (dead.last_error or "")
    [failed] = failures(kit, inc.id)
    assert (failed.notifier, failed.key, failed.attempts) == ("hook", row.key, 3)
    assert "HTTP 503" in failed.error
    assert failed.by == "incidentkit"
    assert kit.timeline(inc.id)[-1].event == failed
    assert steady.keys() == [key]  # the healthy one was never held back


@pytest.mark.parametrize("via", ["exception", "http-404"])
def test_a_permanent_failure_is_not_retried(
    clock: ManualClock, receiver: Receiver, via: str
) -> None:
    if via == "exception":
        broken: CapturingNotifier | WebhookNotifier = CapturingNotifier("broken", permanent=True)
    else:
        broken = WebhookNotifier(receiver.url, name="broken")
        receiver.reply(*[(404, {})] * 10)
    steady = CapturingNotifier("steady")
    kit = IncidentKit(clock=clock, plugins=[steady, broken], autoload_plugins=False)
    inc = kit.declare("API returning 500 errors", severity="SEV1", by="alice")

    report = kit.deliver()
    assert (report.delivered, report.retried, report.dead) == (1, 0, 1)
    for _ in range(3):
        clock.advance(BEYOND_BACKOFF)
        assert kit.deliver().claimed == 0
    [row] = [r for r in kit.store.outbox() if r.target == "broken"]
    assert (row.state, row.attempts) == (OutboxState.DEAD, 1)
    if isinstance(broken, CapturingNotifier):
        assert broken.attempts == 1
    else:
        assert len(receiver.keys()) == 1
    [failed] = failures(kit, inc.id)
    assert (failed.notifier, failed.key, failed.attempts) == ("broken", row.key, 1)
    assert "PermanentFailure" in failed.error
    assert len(steady.keys()) == 1


def test_a_row_for_a_notifier_the_relay_lacks_waits_for_one_that_has_it(
    clock: ManualClock,
) -> None:
    """Rows outlive configuration: a relay without the notifier leaves them untouched."""
    gone = CapturingNotifier("gone", max_attempts=2)
    writer = IncidentKit(clock=clock, plugins=[gone], autoload_plugins=False)
    inc = writer.declare("API returning 500 errors", severity="SEV1", by="alice")
    relay = IncidentKit(store=writer.store, clock=clock, autoload_plugins=False)
    before = writer.store.outbox(inc.id)
    for _ in range(9):
        assert relay.deliver().claimed == 0
        clock.advance(BEYOND_BACKOFF)
    assert writer.store.outbox(inc.id) == before  # no attempt, no lease, no error
    assert failures(relay, inc.id) == []
    report = writer.deliver()
    assert (report.delivered, report.retried, report.dead) == (1, 0, 0)
    assert gone.attempts == 1
