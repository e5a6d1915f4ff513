"""Evergreen reminders from ``tick()`` (the periodic hook) and auto-attach on declaration."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import incidentkit as ik
from incidentkit.engine import OUTBOX_ANCHOR, Capability, Engine
from incidentkit.runbooks import Alert, declaration_alert, write_defaults
from incidentkit.store import OutboxMessage
from incidentkit.store.postgres import PostgresStore
from incidentkit.testing import CapturingNotifier

from .test_runbooks import BODY, FRONT, T0, make_kit, policy, write

KEY = "runbook-review:high-error-rate:2024-03-31:capture"


def _rows(kit: ik.IncidentKit) -> list[str]:
    return [row.key for row in kit.store.outbox("")]


# 7. Evergreen, through tick() -------------------------------------------------------


def test_tick_reminds_once_on_the_due_date(tmp_path: Path) -> None:
    capture = CapturingNotifier()
    kit = make_kit(capture)
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    assert kit.tick(datetime(2024, 3, 30, tzinfo=UTC)).enqueued == ()
    assert kit.tick(datetime(2024, 3, 30, 23, 59, 59, tzinfo=UTC)).enqueued == ()
    assert _rows(kit) == []
    report = kit.tick(datetime(2024, 3, 31, tzinfo=UTC))
    assert report.enqueued == (KEY,) and report.failures == {}
    assert kit.tick(datetime(2024, 3, 31, 12, tzinfo=UTC)).enqueued == ()
    assert kit.tick(datetime(2024, 4, 15, tzinfo=UTC)).enqueued == ()
    assert _rows(kit) == [KEY]
    kit.clock.set(datetime(2024, 4, 15, tzinfo=UTC))  # type: ignore[attr-defined]
    kit.deliver()
    (sent,) = [n for n in capture.delivered if n.key.startswith("runbook-review:")]
    assert sent.targets == ("alice",) and "due for review since 2024-03-31" in sent.text
    assert kit.store.incident_ids() == []  # on no incident's timeline
    # the next period, still not reviewed: one more
    assert kit.tick(datetime(2024, 6, 29, tzinfo=UTC)).enqueued == (
        "runbook-review:high-error-rate:2024-06-29:capture",
    )
    # remind() after tick() finds nothing left to enqueue
    assert kit.runbooks.remind(datetime(2024, 6, 30, tzinfo=UTC)) == ()


def test_a_fresh_kit_on_the_same_store_does_not_remind_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    rb = tmp_path / "rb"
    rb.mkdir()
    write(rb, "a.md", FRONT + BODY)
    first = make_kit(CapturingNotifier(), store=ik.IncidentKit.open(url).store)
    first.runbooks.load(rb)
    assert first.tick(datetime(2024, 4, 1, tzinfo=UTC)).enqueued == (KEY,)
    second = make_kit(CapturingNotifier(), store=ik.IncidentKit.open(url).store)
    second.runbooks.load(rb)
    assert second.tick(datetime(2024, 4, 2, tzinfo=UTC)).enqueued == ()
    assert _rows(second) == [KEY]


def test_the_reminder_carries_the_usage_for_the_review(tmp_path: Path) -> None:
    capture = CapturingNotifier()
    kit = make_kit(capture)
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    inc = kit.declare("Login API returning 500 errors", severity="SEV2", by="alice")
    kit.runbooks.attach_matching(inc.id, Alert(labels={"alertname": "HighErrorRate"}), by="alice")
    kit.skip(inc.id, "runbook-high-error-rate", "triage-2", by="alice", reason="logs down")
    at = T0 + timedelta(days=400)
    kit.tick(at)
    kit.clock.set(at)  # type: ignore[attr-defined]
    kit.deliver()
    (sent,) = [n for n in capture.delivered if n.key.startswith("runbook-review:")]
    assert "attached to 1 incident(s), 1 by matching" in sent.text
    assert "steps skipped: triage-2 x1" in sent.text
    assert f"related incidents: {inc.id}" in sent.text


def test_no_notifier_wanting_reminders_means_nothing_is_enqueued(tmp_path: Path) -> None:
    kit = make_kit()
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    report = kit.tick(datetime(2024, 4, 1, tzinfo=UTC))
    assert report.enqueued == () and report.failures == {} and kit.store.outbox() == []


def _four_replicas(stores: Sequence[ik.Store], folder: Path) -> list[ik.IncidentKit]:
    captures = [CapturingNotifier() for _ in stores]
    kits = [make_kit(c, store=store) for c, store in zip(captures, stores, strict=True)]
    for kit in kits:
        kit.runbooks.load(folder)
    barrier = threading.Barrier(len(kits))
    reports: list[ik.TickReport] = []

    def replica(kit: ik.IncidentKit) -> None:
        barrier.wait()
        reports.append(kit.tick(datetime(2024, 3, 31, 9, tzinfo=UTC)))

    threads = [threading.Thread(target=replica, args=(kit,)) for kit in kits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reports) == 4 and all(r.failures == {} for r in reports)
    assert sum(len(r.enqueued) for r in reports) >= 1
    assert _rows(kits[0]) == [KEY]
    for kit in kits:
        kit.clock.set(datetime(2024, 3, 31, 10, tzinfo=UTC))  # type: ignore[attr-defined]
        kit.deliver()
        kit.tick(datetime(2024, 4, 1, tzinfo=UTC))
    delivered = [n for capture in captures for n in capture.delivered]
    assert [n.key for n in delivered] == ["runbook-review:high-error-rate:2024-03-31"]
    assert _rows(kits[0]) == [KEY]
    return kits


def test_four_replicas_ticking_on_sqlite_send_one_reminder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    folder = tmp_path / "rb"
    folder.mkdir()
    write(folder, "a.md", FRONT + BODY)
    stores = [ik.IncidentKit.open(url).store for _ in range(4)]
    _four_replicas(stores, folder)
    for store in stores:
        store.close()


@pytest.mark.postgres
def test_four_replicas_ticking_on_postgres_send_one_reminder(
    postgres_store: PostgresStore, postgres_dsn: str, tmp_path: Path
) -> None:
    write(tmp_path, "a.md", FRONT + BODY)
    assert postgres_store.schema is not None
    stores = [PostgresStore(postgres_dsn, schema=postgres_store.schema) for _ in range(4)]
    _four_replicas(stores, tmp_path)
    for store in stores:
        store.close()


# The periodic hook, as any capability uses it ----------------------------------------


def _row(key: str, at: datetime) -> OutboxMessage:
    return OutboxMessage(
        key=key, incident_id="", topic="howto", target="howto", payload="{}", available_at=at
    )


def test_a_capability_periodic_hook_enqueues_each_key_once() -> None:
    calls: list[datetime] = []

    def hook(engine: Engine, now: datetime) -> Sequence[OutboxMessage]:
        calls.append(now)
        return [_row(f"daily:{now.date().isoformat()}", now)]

    delivered: list[str] = []
    cap = Capability(
        name="daily",
        periodic=(hook,),
        delivery={"howto": lambda engine, row: delivered.append(row.key)},
    )
    kit = ik.IncidentKit(
        clock=ik.ManualClock(T0), capabilities=[cap], autoload_plugins=False, policy=policy()
    )
    assert kit.tick(T0).enqueued == ("daily:2024-11-20",)
    assert kit.tick(T0 + timedelta(hours=1)).enqueued == ()
    assert kit.tick(T0 + timedelta(days=1)).enqueued == ("daily:2024-11-21",)
    assert len(calls) == 3
    kit.clock.set(T0 + timedelta(days=1))  # type: ignore[attr-defined]
    kit.deliver()
    assert sorted(delivered) == ["daily:2024-11-20", "daily:2024-11-21"]
    assert kit.store.incident_ids() == [] and kit.store.load(OUTBOX_ANCHOR) == []


def test_a_failing_periodic_hook_is_reported_and_the_others_still_run(tmp_path: Path) -> None:
    def broken(engine: Engine, now: datetime) -> Sequence[OutboxMessage]:
        raise ik.ValidationError("feed", "unreachable")

    kit = ik.IncidentKit(
        clock=ik.ManualClock(T0),
        capabilities=[Capability(name="broken", periodic=(broken,))],
        plugins=[*_defaults_plugins(), CapturingNotifier()],
        autoload_plugins=False,
        policy=policy(),
    )
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    report = kit.tick(datetime(2024, 4, 1, tzinfo=UTC))
    assert (
        "periodic:broken" in report.failures and "unreachable" in report.failures["periodic:broken"]
    )
    assert report.enqueued == (KEY,)


def test_enqueue_skips_keys_already_stored_and_touches_an_incident_of_the_anchor_name() -> None:
    kit = make_kit()
    inc = kit.declare("x", severity="SEV4", by="alice", incident_id=OUTBOX_ANCHOR)
    before = kit.store.load(inc.id)
    assert kit.engine.enqueue([_row("a", T0), _row("a", T0), _row("b", T0)]) == ("a", "b")
    assert kit.engine.enqueue([_row("a", T0)]) == ()
    assert kit.store.load(inc.id) == before and [r.key for r in kit.store.outbox("")] == ["a", "b"]


# Auto-attach on declaration ------------------------------------------------------------


API = """+++
id = "api-errors"
title = "API errors"
url = "https://runbooks.example.com/api-errors"
services = ["api"]
alerts = [{alertname = "HighErrorRate", service = "api"}]
+++
## Triage Steps
1. Check the API dashboard
"""


def _defaults_plugins() -> list[object]:
    from incidentkit.mitigation import (
        CircuitBreakerAction,
        CircuitBreakerRegistry,
        FeatureFlagAction,
        InMemoryFlagClient,
        MaintenanceModeAction,
        RollbackAction,
        ScaleAction,
    )

    return [
        RollbackAction(["true"]),
        ScaleAction(lambda params: "scaled"),
        FeatureFlagAction(InMemoryFlagClient()),
        CircuitBreakerAction(CircuitBreakerRegistry(), create_missing=True),
        MaintenanceModeAction(lambda params: None),
    ]


def _auto(tmp_path: Path, on: bool = True) -> ik.IncidentKit:
    text = f"[runbooks]\nauto_attach = {'true' if on else 'false'}\n"
    kit = ik.IncidentKit(
        policy=ik.Policy.from_toml(text),
        clock=ik.ManualClock(T0),
        plugins=_defaults_plugins(),
        autoload_plugins=False,
    )
    folder = tmp_path / "rb"
    write_defaults(folder, today=date(2024, 11, 1))
    write(folder, "api-errors.md", API)
    kit.runbooks.load(folder)
    return kit


def _attached(state: ik.Incident) -> list[str]:
    from incidentkit.runbooks.capability import attachments

    return [a.runbook for a in attachments(state)]


def test_declaring_with_labels_attaches_the_strongest_matches(tmp_path: Path) -> None:
    kit = _auto(tmp_path)
    inc = kit.declare(
        "Login API returning 500 errors",
        severity="SEV2",
        by="alice",
        services=["api"],
        labels={"alertname": "HighErrorRate", "service": "api"},
    )
    # two label matchers match (the more specific first); weaker candidates are not attached
    assert _attached(inc) == ["api-errors", "high-error-rate"]
    assert {"runbook-api-errors", "runbook-high-error-rate"} <= set(inc.checklists)
    records = [r for r in kit.timeline(inc.id) if r.event.tag == "runbooks_attached"]
    assert [r.event.by for r in records] == ["alice", "alice"]
    assert records[0].event.reasons[0] == (  # type: ignore[attr-defined]
        "alert labels match {alertname=HighErrorRate, service=api}"
    )
    assert kit.runbooks.usage("api-errors").matched == 1


def test_the_annotation_picks_one_runbook_on_declaration(tmp_path: Path) -> None:
    kit = _auto(tmp_path)
    inc = kit.declare(
        "Errors",
        severity="SEV2",
        by="alice",
        labels={"alertname": "HighErrorRate"},
        annotations={"runbook_url": "https://runbooks.example.com/api-errors"},
    )
    assert _attached(inc) == ["api-errors"]


def test_declaring_with_signals_attaches_by_symptom(tmp_path: Path) -> None:
    kit = _auto(tmp_path)
    inc = kit.declare("Checkout down", by="alice", signals=ik.Signals(database_unavailable=True))
    assert _attached(inc) == ["database-issues"]
    assert "database" in declaration_alert(signals=ik.Signals(database_unavailable=True)).text


def test_without_the_switch_nothing_is_attached(tmp_path: Path) -> None:
    kit = _auto(tmp_path, on=False)
    inc = kit.declare("Errors", severity="SEV2", by="alice", labels={"alertname": "HighErrorRate"})
    assert _attached(inc) == [] and kit.get(inc.id).version == inc.version
    assert all(r.event.tag != "runbooks_attached" for r in kit.timeline(inc.id))
    assert (
        _attached(
            kit.runbooks.declared(inc.id, Alert(labels={"alertname": "HighErrorRate"}), by="a")
        )
        == []
    )


def test_the_intake_contract_attaches_once(tmp_path: Path) -> None:
    kit = _auto(tmp_path)
    inc = kit.declare("Something", severity="SEV3", by="alice")
    assert _attached(inc) == []
    alert = Alert(labels={"alertname": "HighLatency"}, annotations={"summary": "p99 is 3s"})
    state = kit.runbooks.declared(inc.id, alert, by="intake")
    assert _attached(state) == ["high-latency"]
    again = kit.runbooks.declared(inc.id, alert, by="intake")
    assert again.version == state.version


def test_a_replayed_declaration_attaches_nothing_twice(tmp_path: Path) -> None:
    kit = _auto(tmp_path)
    args = {"severity": "SEV2", "by": "alice", "labels": {"alertname": "HighErrorRate"}}
    first = kit.declare("Errors", incident_id="INC-1", idempotency_key="k1", **args)  # type: ignore[arg-type]
    second = kit.declare("Errors", incident_id="INC-1", idempotency_key="k1", **args)  # type: ignore[arg-type]
    assert second.version == first.version and _attached(second) == _attached(first)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"labels": ["alertname"]}, "labels"),
        ({"labels": {"alertname": 3}}, "labels.alertname"),
        ({"labels": {"": "x"}}, "labels"),
        ({"annotations": {"runbook_url": None}}, "annotations.runbook_url"),
    ],
)
def test_bad_labels_are_refused_before_anything_is_declared(
    tmp_path: Path, kwargs: dict[str, object], field: str
) -> None:
    kit = _auto(tmp_path)
    with pytest.raises(ik.ValidationError) as err:
        kit.declare("Errors", severity="SEV2", by="alice", **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
    assert kit.store.incident_ids() == [] and kit.store.outbox() == []


def test_declared_refuses_what_is_not_an_alert(tmp_path: Path) -> None:
    kit = _auto(tmp_path)
    inc = kit.declare("Something", severity="SEV3", by="alice")
    with pytest.raises(ik.ValidationError) as err:
        kit.runbooks.declared(inc.id, {"alertname": "X"}, by="intake")  # type: ignore[arg-type]
    assert err.value.field == "alert" and kit.get(inc.id).version == inc.version


def test_loading_another_library_the_same_day_reminds_of_its_runbooks(tmp_path: Path) -> None:
    kit = make_kit(CapturingNotifier())
    first = tmp_path / "one"
    first.mkdir()
    kit.runbooks.load(write(first, "a.md", FRONT + BODY))
    day = datetime(2024, 4, 1, 8, tzinfo=UTC)
    assert kit.tick(day).enqueued == (KEY,)
    assert kit.tick(day + timedelta(hours=1)).enqueued == ()  # settled for the day
    other = tmp_path / "two"
    other.mkdir()
    write(other, "a.md", FRONT + BODY)
    write(
        other,
        "b.md",
        (FRONT + BODY)
        .replace('"high-error-rate"', '"api-errors"')
        .replace(
            "https://runbooks.example.com/high-error-rate", "https://runbooks.example.com/api"
        ),
    )
    kit.runbooks.load(other)
    assert kit.tick(day + timedelta(hours=2)).enqueued == (
        "runbook-review:api-errors:2024-03-31:capture",
    )
