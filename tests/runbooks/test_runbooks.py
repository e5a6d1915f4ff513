"""Runbooks: the seven acceptance tests of wave2-specs §4.3 and the loader's refusals."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import incidentkit as ik
from incidentkit.mitigation import RollbackAction
from incidentkit.runbooks import (
    SECTIONS,
    Alert,
    AlertMatcher,
    MatchRule,
    Runbook,
    RunbookError,
    RunbookIndex,
    reminder_key,
    scan,
    write_defaults,
)
from incidentkit.serialization import converter, event_from_json, event_to_json
from incidentkit.testing import SAMPLE_TIME, CapturingNotifier
from incidentkit.timeline import render_review

T0 = SAMPLE_TIME

FRONT = """\
+++
id = "high-error-rate"
title = "High error rate"
url = "https://runbooks.example.com/high-error-rate"
services = ["api"]
severity = "SEV2"
symptoms = ["500", "error rate"]
owner = "alice"
review_every = "90d"
last_reviewed = 2024-01-01
alerts = [{alertname = "HighErrorRate"}]
escalation = [{after = "15m", to = "team-lead"}]
+++
"""

BODY = """\
# Runbook: High error rate

## Symptoms
- API returning 500s

## Severity
SEV2

## Detection
- HighErrorRate alert

## Triage Steps
1. Check the error-rate dashboard
2. Review logs: `grep "ERROR" /var/log/app.log`
3. Verify the database is responding

## Quick Mitigation
### Option 1: Rollback
```bash
vercel rollback
```
action: rollback {reason = "errors after deploy"}

### Option 2: Restart Service
```bash
systemctl restart app-service
```

## Investigation
1. Check recent deployments

## Resolution Steps
1. Deploy the fix
2. Verify the error rate is normal

## Escalation
- If issue persists > 15 minutes, escalate to @team-lead

## Related Incidents
- INC-20241120-1

## Related Documentation
- Architecture docs
"""


def policy() -> ik.Policy:
    return ik.Policy.from_toml('[roles]\ncustom = ["team-lead"]\ncommander_only = false\n')


def make_kit(*plugins: object, store: ik.Store | None = None) -> ik.IncidentKit:
    rollback = RollbackAction([sys.executable, "-c", "pass"], timeout=timedelta(seconds=30))
    return ik.IncidentKit(
        store=store,
        policy=policy(),
        clock=ik.ManualClock(T0),
        plugins=[rollback, *plugins],
        autoload_plugins=False,
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


# 1. Load -----------------------------------------------------------------------


def test_load_keys_the_sections_exactly_and_keeps_steps_and_options(tmp_path: Path) -> None:
    kit = make_kit()
    (runbook,) = kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    assert tuple(runbook.sections) == SECTIONS
    assert runbook.extra == {} and kit.runbooks.warnings == ()
    assert [s.text for s in runbook.triage] == [
        "Check the error-rate dashboard",
        'Review logs: `grep "ERROR" /var/log/app.log`',
        "Verify the database is responding",
    ]
    assert [m.title for m in runbook.mitigations] == ["Rollback", "Restart Service"]
    assert runbook.mitigations[0].action == "rollback"
    assert runbook.mitigations[0].params == {"target": None, "reason": "errors after deploy"}
    assert runbook.escalation[0].to == "role:team-lead"
    assert runbook.escalation[0].after == timedelta(minutes=15)
    assert converter().structure(converter().unstructure(runbook), Runbook) == runbook


def test_an_unknown_heading_is_kept_as_extra_with_a_warning(tmp_path: Path) -> None:
    kit = make_kit()
    text = FRONT + BODY + "\n## Dashboards\n- grafana/api\n"
    (runbook,) = kit.runbooks.load(write(tmp_path, "a.md", text))
    assert runbook.extra == {"Dashboards": "- grafana/api"}
    (warning,) = kit.runbooks.warnings
    line = text.splitlines().index("## Dashboards") + 1
    assert warning.warning and warning.line == line and warning.field == "sections.Dashboards"


def test_missing_id_names_the_file_and_line(tmp_path: Path) -> None:
    kit = make_kit()
    path = write(tmp_path, "a.md", FRONT.replace('id = "high-error-rate"\n', "") + BODY)
    with pytest.raises(RunbookError) as err:
        kit.runbooks.load(path)
    (problem,) = err.value.problems
    assert problem.file == str(tmp_path / "a.md") and problem.line == 1 and problem.field == "id"
    assert kit.runbooks.all == ()


# 2. Link to actions -------------------------------------------------------------


def test_an_unregistered_action_is_a_load_time_error(tmp_path: Path) -> None:
    kit = ik.IncidentKit(policy=policy(), autoload_plugins=False)  # no rollback registered
    text = FRONT + BODY
    with pytest.raises(RunbookError) as err:
        kit.runbooks.load(write(tmp_path, "a.md", text))
    (problem,) = err.value.problems
    assert problem.field == "Quick Mitigation.Rollback.action"
    assert (
        problem.line
        == text.splitlines().index('action: rollback {reason = "errors after deploy"}') + 1
    )
    assert "rollback" in problem.reason


def test_a_malformed_directory_is_refused_whole_with_every_problem(tmp_path: Path) -> None:
    kit = make_kit()
    kit.runbooks.load(
        write(
            tmp_path / "good" if (tmp_path / "good").mkdir() is None else tmp_path,
            "a.md",
            FRONT + BODY,
        )
    )
    loaded = kit.runbooks.all
    bad = tmp_path / "bad"
    bad.mkdir()
    write(bad, "1-good.md", FRONT + BODY)
    write(bad, "2-dup.md", FRONT + BODY.replace("Rollback", "Roll"))
    write(bad, "3-toml.md", "+++\nid = \n+++\n" + BODY)
    write(
        bad,
        "4-action.md",
        FRONT.replace("high-error-rate", "other")
        + "## Quick Mitigation\n### Option 1: X\naction: nuke\n",
    )
    write(
        bad,
        "5-target.md",
        FRONT.replace("high-error-rate", "third").replace("team-lead", "person:bob"),
    )
    with pytest.raises(RunbookError) as err:
        kit.runbooks.load(bad)
    found = {(Path(p.file).name, p.field) for p in err.value.problems}
    assert found == {
        ("2-dup.md", "id"),
        ("3-toml.md", "front matter"),
        ("4-action.md", "Quick Mitigation.X.action"),
        ("5-target.md", "escalation[0].to"),
    }
    assert kit.runbooks.all == loaded  # nothing of the bad directory was loaded


def test_escalation_targets_are_roles_and_layers_the_policy_knows(tmp_path: Path) -> None:
    kit = make_kit()
    checker = kit.runbooks.checker()
    assert checker.target("@team-lead") == "role:team-lead"
    assert checker.target("tl") == "role:technical_lead"
    for bad in ("layer:nope", "nobody", "person:bob", ""):
        with pytest.raises(ValueError):
            checker.target(bad)


# 3./4. Matching -----------------------------------------------------------------


def runbook(rid: str, **kwargs: object) -> Runbook:
    return Runbook(id=rid, title=rid, **kwargs)  # type: ignore[arg-type]


def test_the_runbook_url_annotation_wins_over_label_matches() -> None:
    index = RunbookIndex(
        [
            runbook("by-url", url="https://rb/x"),
            runbook("by-labels", alerts=(AlertMatcher({"alertname": "HighErrorRate"}),)),
        ]
    )
    alert = Alert(
        labels={"alertname": "HighErrorRate"}, annotations={"runbook_url": "https://rb/x/"}
    )
    matches = index.match(alert)
    assert [m.runbook for m in matches] == ["by-url", "by-labels"]
    assert matches[0].rule is MatchRule.RUNBOOK_URL


def test_labels_beat_services_and_more_labels_beat_fewer() -> None:
    index = RunbookIndex(
        [
            runbook("service", services=("api",)),
            runbook("alert", alerts=(AlertMatcher({"alertname": "HighErrorRate"}),)),
            runbook(
                "narrow", alerts=(AlertMatcher({"alertname": "HighErrorRate", "service": "api"}),)
            ),
            runbook("words", symptoms=("error rate",)),
        ]
    )
    alert = Alert(labels={"alertname": "HighErrorRate", "service": "api"}, text="Error rate at 12%")
    matches = index.match(alert)
    assert [m.runbook for m in matches] == ["narrow", "alert", "service", "words"]
    assert matches[2].reasons == ("service api",)
    assert matches[3].reasons == ("symptoms 'error rate'",)


_label = st.sampled_from(["alertname", "service", "severity", "team"])
_value = st.sampled_from(["HighErrorRate", "api", "db", "critical", "x"])
_runbooks = st.lists(
    st.builds(
        lambda n, labels, services, symptoms, url: runbook(
            f"rb-{n}",
            url=url,
            alerts=tuple(AlertMatcher(m) for m in labels if m),
            services=tuple(services),
            symptoms=tuple(symptoms),
        ),
        st.integers(0, 10**6),
        st.lists(st.dictionaries(_label, _value, max_size=2), max_size=2),
        st.lists(st.sampled_from(["api", "db", "web"]), max_size=2),
        st.lists(st.sampled_from(["error rate", "500", "slow", "timeout"]), max_size=2),
        st.one_of(st.none(), st.sampled_from(["https://rb/1", "https://rb/2"])),
    ),
    max_size=12,
    unique_by=lambda r: r.id,
)
_alerts = st.builds(
    Alert,
    labels=st.dictionaries(_label, _value, max_size=3),
    annotations=st.one_of(st.just({}), st.just({"runbook_url": "https://rb/1"})),
    services=st.lists(st.sampled_from(["api", "db", "web"]), max_size=2),
    text=st.sampled_from(["", "error rate is high", "slow 500 timeout", "Error Rate"]),
)


@settings(max_examples=200, deadline=None)
@given(_runbooks, _alerts, st.randoms(use_true_random=False))
def test_matching_is_deterministic_order_independent_and_equals_the_scan(
    runbooks: list[Runbook], alert: Alert, rng: object
) -> None:
    expected = scan(runbooks, alert)
    shuffled = list(runbooks)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert RunbookIndex(runbooks).match(alert) == expected
    assert RunbookIndex(shuffled).match(alert) == expected
    assert scan(shuffled, alert) == expected


# 5. Steps become a checklist ----------------------------------------------------


def test_attaching_turns_steps_into_a_checklist_idempotently(tmp_path: Path) -> None:
    kit = make_kit()
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    inc = kit.declare("Login API returning 500 errors", severity="SEV2", by="alice")
    state = kit.runbooks.attach(inc.id, "high-error-rate", by="alice")
    template = state.template("runbook-high-error-rate")
    assert [(i.key, i.text) for i in template.items] == [
        ("triage-1", "Check the error-rate dashboard"),
        ("triage-2", 'Review logs: `grep "ERROR" /var/log/app.log`'),
        ("triage-3", "Verify the database is responding"),
        ("resolution-1", "Deploy the fix"),
        ("resolution-2", "Verify the error rate is normal"),
    ]
    again = kit.runbooks.attach(inc.id, "high-error-rate", by="alice")
    assert again.version == state.version
    kit.check(inc.id, "runbook-high-error-rate", "triage-1", by="alice")
    kit.skip(inc.id, "runbook-high-error-rate", "triage-2", by="alice", reason="logs are down")
    usage = kit.runbooks.usage("high-error-rate")
    assert (usage.attached, usage.matched, usage.skipped, usage.done) == (
        1,
        0,
        {"triage-2": 1},
        {"triage-1": 1},
    )
    assert kit.runbooks.related("high-error-rate") == (inc.id,)
    review = render_review(kit.timeline(inc.id))
    assert any("<https://runbooks.example.com/high-error-rate>" in line for line in review)
    record = kit.timeline(inc.id)[-3]
    assert event_from_json(event_to_json(record.event)) == record.event
    assert kit.verify(inc.id).ok


def test_attach_matching_records_why_and_several_runbooks_attach(tmp_path: Path) -> None:
    kit = make_kit()
    other = FRONT.replace('"high-error-rate"', '"latency"').replace(
        "https://runbooks.example.com/high-error-rate", "https://rb/latency"
    )
    write(tmp_path, "a.md", FRONT + BODY)
    kit.runbooks.load(write(tmp_path, "b.md", other + BODY))
    inc = kit.declare("Login API returning 500 errors", severity="SEV2", by="alice")
    alert = Alert(
        labels={"alertname": "HighErrorRate"}, annotations={"runbook_url": "https://rb/latency"}
    )
    state, matches = kit.runbooks.attach_matching(inc.id, alert, by="alertmanager")
    assert matches[0].runbook == "latency"
    state = kit.runbooks.attach(inc.id, "high-error-rate", by="alice")
    assert {"runbook-latency", "runbook-high-error-rate"} <= set(state.checklists)
    assert kit.runbooks.usage("latency").matched == 1


# Quick mitigation ---------------------------------------------------------------


def test_a_quick_mitigation_runs_dry_then_for_real(tmp_path: Path) -> None:
    kit = make_kit()
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    inc = kit.declare("Login API returning 500 errors", severity="SEV2", by="alice")
    state = kit.runbooks.mitigate(inc.id, "high-error-rate", "Rollback", by="alice")
    outcomes = [r.event for r in kit.timeline(inc.id) if r.event.tag == "mitigation_completed"]
    assert [e.outcome for e in outcomes] == ["dry_run", "applied"]  # type: ignore[attr-defined]
    assert state.mitigated_at is not None
    with pytest.raises(ik.ValidationError):
        kit.runbooks.mitigate(inc.id, "high-error-rate", 2, by="alice")  # no action named


def test_a_repeated_quick_mitigation_with_its_key_runs_once(tmp_path: Path) -> None:
    kit = make_kit()
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    inc = kit.declare("Login API returning 500 errors", severity="SEV2", by="alice")
    for _ in range(2):
        kit.runbooks.mitigate(inc.id, "high-error-rate", 1, by="alice", idempotency_key="rb-1")
    outcomes = [r.event for r in kit.timeline(inc.id) if r.event.tag == "mitigation_completed"]
    assert [e.outcome for e in outcomes] == ["dry_run", "applied"]  # type: ignore[attr-defined]


# 6. Escalation by timer ---------------------------------------------------------


def _escalations(report: object) -> list[object]:
    return [r for r in report.fired if r.event.tag == "runbooks_escalated"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("mitigate_first", [False, True])
def test_escalation_fires_once_at_fifteen_minutes_unless_mitigated(
    tmp_path: Path, mitigate_first: bool
) -> None:
    capture = CapturingNotifier()
    kit = make_kit(capture)
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    inc = kit.declare("Login API returning 500 errors", severity="SEV2", by="alice")
    kit.assign_role(inc.id, "team-lead", "bob", by="alice")
    kit.runbooks.attach(inc.id, "high-error-rate", by="alice")
    if mitigate_first:
        kit.mark_mitigated(inc.id, by="alice", detail="rolled back")
    assert _escalations(kit.tick(T0 + timedelta(minutes=14, seconds=59))) == []
    fired = _escalations(kit.tick(T0 + timedelta(minutes=15)))
    assert len(fired) == (0 if mitigate_first else 1)
    assert _escalations(kit.tick(T0 + timedelta(hours=2))) == []
    if not mitigate_first:
        assert fired[0].event.targets == ("bob",)  # type: ignore[attr-defined]
        kit.clock.set(T0 + timedelta(hours=2))  # type: ignore[attr-defined]
        kit.deliver()
        pages = [n for n in capture.delivered if "escalated to role:team-lead" in n.text]
        assert len(pages) == 1 and pages[0].kind is ik.NotificationKind.PAGE
        assert pages[0].targets == ("bob",)


def test_escalation_fires_once_across_replicas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first = make_kit(store=ik.IncidentKit.open(url, autoload_plugins=False).store)
    second = make_kit(store=ik.IncidentKit.open(url, autoload_plugins=False).store)
    rbdir = tmp_path / "rb"
    rbdir.mkdir()
    write(rbdir, "a.md", FRONT + BODY)
    first.runbooks.load(rbdir)
    second.runbooks.load(rbdir)
    inc = first.declare("Login API returning 500 errors", severity="SEV2", by="alice")
    first.runbooks.attach(inc.id, "high-error-rate", by="alice")
    at = T0 + timedelta(minutes=15)
    assert len(_escalations(first.tick(at))) + len(_escalations(second.tick(at))) == 1


# 7. Evergreen -------------------------------------------------------------------


def _reminders(kit: ik.IncidentKit) -> list[str]:
    return [row.key for row in kit.store.outbox("")]


def test_review_status_is_computed_from_the_file(tmp_path: Path) -> None:
    kit = make_kit()
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    before = kit.runbooks.review_status("high-error-rate", at=datetime(2024, 3, 30, tzinfo=UTC))
    assert before.next_due == date(2024, 3, 31) and not before.overdue
    late = kit.runbooks.review_status("high-error-rate", at=datetime(2024, 7, 1, tzinfo=UTC))
    assert late.overdue and late.due_on == date(2024, 6, 29) and late.owner == "alice"
    assert kit.runbooks.overdue(at=datetime(2024, 3, 30, tzinfo=UTC)) == ()
    assert kit.store.incident_ids() == [] and kit.store.outbox() == []


def test_evergreen_reminds_once_per_due_date_through_the_outbox(tmp_path: Path) -> None:
    capture = CapturingNotifier()
    kit = make_kit(capture)
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    assert kit.runbooks.remind(datetime(2024, 3, 30, 23, 59, tzinfo=UTC)) == ()
    (status,) = kit.runbooks.remind(datetime(2024, 3, 31, tzinfo=UTC))
    assert status.due_on == date(2024, 3, 31)
    assert kit.runbooks.remind(datetime(2024, 4, 2, tzinfo=UTC)) == ()
    assert _reminders(kit) == [f"{reminder_key('high-error-rate', date(2024, 3, 31))}:capture"]
    kit.clock.set(datetime(2024, 4, 2, tzinfo=UTC))  # type: ignore[attr-defined]
    kit.deliver()
    reminders = [n for n in capture.delivered if n.kind is ik.NotificationKind.REMINDER]
    assert len(reminders) == 1 and reminders[0].targets == ("alice",)
    assert reminders[0].key == "runbook-review:high-error-rate:2024-03-31"
    # nothing of it is on any incident's timeline
    assert kit.store.incident_ids() == [] and kit.verify_all() == []
    (again,) = kit.runbooks.remind(datetime(2024, 6, 29, tzinfo=UTC))  # next period, unreviewed
    assert again.due_on == date(2024, 6, 29)


def test_a_dead_reminder_is_marked_dead_and_touches_no_incident(tmp_path: Path) -> None:
    kit = make_kit(CapturingNotifier(permanent=True))
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    kit.runbooks.remind(datetime(2024, 4, 1, tzinfo=UTC))
    kit.clock.set(datetime(2024, 4, 1, tzinfo=UTC))  # type: ignore[attr-defined]
    report = kit.deliver()
    assert report.dead == 1
    assert [r.state.value for r in kit.store.outbox("")] == ["dead"]
    assert kit.store.incident_ids() == []


def test_evergreen_once_across_replicas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    kits = [
        make_kit(CapturingNotifier(), store=ik.IncidentKit.open(url, autoload_plugins=False).store)
        for _ in range(2)
    ]
    rbdir = tmp_path / "rb"
    rbdir.mkdir()
    write(rbdir, "a.md", FRONT + BODY)
    for kit in kits:
        kit.runbooks.load(rbdir)
    at = datetime(2024, 3, 31, 9, tzinfo=UTC)
    assert sum(len(kit.runbooks.remind(at)) for kit in kits) == 1
    assert len(_reminders(kits[0])) == 1


def test_a_never_reviewed_runbook_is_due_at_once_then_every_period(tmp_path: Path) -> None:
    kit = make_kit(CapturingNotifier())
    text = (FRONT + BODY).replace("last_reviewed = 2024-01-01\n", "").replace("90d", "30d")
    kit.runbooks.load(write(tmp_path, "a.md", text))
    day = datetime(2024, 5, 1, 8, tzinfo=UTC)
    (first,) = kit.runbooks.remind(day)
    assert first.due_on is not None and first.due_on <= day.date()
    assert day.date() - first.due_on < timedelta(days=30)
    nxt = datetime.combine(first.due_on + timedelta(days=30), day.time(), UTC)
    assert kit.runbooks.remind(nxt - timedelta(days=1)) == ()
    assert [s.due_on for s in kit.runbooks.remind(nxt)] == [first.due_on + timedelta(days=30)]


def test_an_incident_named_like_the_outbox_anchor_is_not_written_to(tmp_path: Path) -> None:
    kit = make_kit(CapturingNotifier())
    kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    kit.declare("x", severity="SEV4", by="alice", incident_id="runbook-reviews")
    before = kit.store.load("runbook-reviews")
    assert len(kit.runbooks.remind(datetime(2024, 4, 1, tzinfo=UTC))) == 1
    assert kit.store.load("runbook-reviews") == before
    assert all(c.ok for c in kit.verify_all())


def test_record_accepts_an_attachment_under_the_attach_rules(tmp_path: Path) -> None:
    from incidentkit.runbooks import RunbookAttached
    from incidentkit.runbooks.capability import checklist_of

    kit = make_kit()
    (rb,) = kit.runbooks.load(write(tmp_path, "a.md", FRONT + BODY))
    inc = kit.declare("Login API returning 500 errors", severity="SEV2", by="alice")
    event = RunbookAttached(by="alice", runbook=rb.id, title=rb.title, checklist=checklist_of(rb))
    state = kit.record(inc.id, [event], by="alice")
    assert "runbook-high-error-rate" in state.checklists
    with pytest.raises(ik.ValidationError):
        kit.record(inc.id, [event], by="alice")  # already attached


# The six defaults ----------------------------------------------------------------


def test_the_six_defaults_load_and_match_the_alerts_they_name(tmp_path: Path) -> None:
    from incidentkit.mitigation import (
        CircuitBreakerAction,
        CircuitBreakerRegistry,
        FeatureFlagAction,
        InMemoryFlagClient,
        MaintenanceModeAction,
        ScaleAction,
    )

    kit = make_kit(
        ScaleAction(lambda params: "scaled"),
        FeatureFlagAction(InMemoryFlagClient()),
        CircuitBreakerAction(CircuitBreakerRegistry(), create_missing=True),
        MaintenanceModeAction(lambda params: None),
    )
    write_defaults(tmp_path, today=date(2024, 1, 1))
    loaded = kit.runbooks.load(tmp_path)
    assert len(loaded) == 6 and kit.runbooks.warnings == ()
    for rb in loaded:
        assert tuple(rb.sections) == SECTIONS and rb.triage and rb.resolution and rb.escalation
        for matcher in rb.alerts:
            assert kit.runbooks.match(Alert(labels=dict(matcher.labels)))[0].runbook == rb.id
    with pytest.raises(ik.ValidationError):
        write_defaults(tmp_path, today=date(2024, 1, 1))


_FILE = """+++
id = "{rid}"
services = ["{service}"]
symptoms = ["{word}"]
alerts = [{{alertname = "{alert}"}}]
+++
## Triage Steps
1. Look at {service}
"""


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["api", "db", "web"]),
            st.sampled_from(["slow", "error", "timeout"]),
            st.sampled_from(["HighErrorRate", "HighLatency"]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.permutations(range(6)),
)
def test_matching_does_not_depend_on_file_names_or_order(
    specs: list[tuple[str, str, str]], names: list[int]
) -> None:
    import tempfile

    kit = make_kit()
    results = []
    for order in (list(range(len(specs))), [n for n in names if n < len(specs)]):
        with tempfile.TemporaryDirectory() as folder:
            for position, index in enumerate(order):
                service, word, alert = specs[index]
                text = _FILE.format(rid=f"rb-{index}", service=service, word=word, alert=alert)
                (Path(folder) / f"{position:02d}-{index}.md").write_text(text, encoding="utf-8")
            kit.runbooks.load(folder)
        alerts = [
            Alert(labels={"alertname": "HighErrorRate", "service": "db"}, text="slow"),
            Alert(labels={"alertname": "HighLatency"}, services=("web",), text="timeout error"),
        ]
        results.append([kit.runbooks.match(alert) for alert in alerts])
    assert results[0] == results[1]
