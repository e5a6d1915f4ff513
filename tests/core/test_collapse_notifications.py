"""Several timers of one incident due at once send one message per kind (issue 17)."""

from __future__ import annotations

from datetime import timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

import incidentkit as ik
from incidentkit.engine.routing import COLLAPSED_KINDS, collapse
from incidentkit.events import NoteAdded, RecordedEvent
from incidentkit.notify import IncidentRef, Notification, NotificationKind, Urgency
from incidentkit.testing import SAMPLE_TIME, CapturingNotifier


def test_a_tick_that_finds_four_timers_due_sends_one_reminder() -> None:
    notifier = CapturingNotifier()
    kit = ik.IncidentKit(
        clock=ik.ManualClock(SAMPLE_TIME), plugins=[notifier], autoload_plugins=False
    )
    inc = kit.declare("Login API returning 500 errors", severity="SEV1", by="alice")
    kit.assign_role(inc.id, ik.Role.INCIDENT_COMMANDER, "alice", by="alice")
    kit.acknowledge(inc.id, by="alice")
    report = kit.tick(SAMPLE_TIME + timedelta(hours=3))
    assert [r.event.tag for r in report.fired] == ["target_missed"] * 3 + ["reminder_fired"]
    kit.deliver()
    reminders = [n for n in notifier.delivered if n.kind is NotificationKind.REMINDER]
    assert len(reminders) == 1
    (one,) = reminders
    assert one.key == f"{inc.id}:{report.fired[0].version}:reminder"
    assert one.text == (
        f"[SEV1] {inc.id}: Login API returning 500 errors — Target missed: assess phase; "
        "Target missed: mitigate phase; Target missed: resolve phase; "
        "Reminder: status update overdue by 2h 45m 00s"
    )
    assert one.targets == ("alice",)
    # the timeline keeps one event per timer
    assert [r.event.tag for r in kit.timeline(inc.id)][-4:] == [t.event.tag for t in report.fired]


def _record(version: int) -> RecordedEvent:
    return RecordedEvent("INC-1", version, SAMPLE_TIME, NoteAdded(by="a", text="x"), "h")


def _note(version: int, kind: NotificationKind, text: str, person: str | None) -> Notification:
    ref = IncidentRef(id="INC-1", title="t", severity=ik.Severity.SEV1, status=ik.Status.DECLARED)
    return Notification(
        key=f"INC-1:{version}:{kind}",
        kind=kind,
        incident=ref,
        text=text,
        created_at=SAMPLE_TIME,
        urgency=Urgency.LOW,
        targets=(f"t{version}",),
        person=person,
    )


PLANS = st.lists(
    st.tuples(
        st.sampled_from(list(NotificationKind)),
        st.sampled_from(["h — a", "h — b", "other"]),
        st.sampled_from([None, "ana", "bo"]),
    ),
    max_size=8,
)


@given(PLANS)
def test_collapse_keeps_every_other_kind_and_one_message_per_group(plan: list) -> None:  # type: ignore[type-arg]
    planned = [
        (_record(n), [_note(n, kind, text, person)]) for n, (kind, text, person) in enumerate(plan)
    ]
    out = collapse(planned)
    assert [r for r, _ in out] == [r for r, _ in planned]  # every event keeps its slot
    sent = [n for _, notes in out for n in notes]
    kept = [n for _, notes in planned for n in notes if n.kind not in COLLAPSED_KINDS]
    assert [n for n in sent if n.kind not in COLLAPSED_KINDS] == kept
    groups = {(n.kind, n.person) for _, ns in planned for n in ns if n.kind in COLLAPSED_KINDS}
    collapsed = [n for n in sent if n.kind in COLLAPSED_KINDS]
    assert len(collapsed) == len(groups)
    for message in collapsed:
        members = [
            n
            for _, ns in planned
            for n in ns
            if (n.kind, n.person) == (message.kind, message.person)
        ]
        assert message.key == members[0].key  # stable across a retry of the same append
        assert set(message.targets) == {t for n in members for t in n.targets}
        assert attrs.evolve(message, text="", targets=()) == attrs.evolve(
            members[0], text="", targets=()
        )
