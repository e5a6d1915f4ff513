"""Issue 17: notifiers and actions from the policy file, the policy file's default
location, the close gate, and the CLI's refusals (one line, exit 1 or 2)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from incidentkit import IncidentKit, ManualClock, Severity
from incidentkit.cli import main
from incidentkit.errors import GuardFailed, PolicyError, ValidationError
from incidentkit.events import Closed
from incidentkit.integrations import build_integrations, load_integrations
from incidentkit.mitigation import FeatureFlagAction, RollbackAction
from incidentkit.notify import NotificationKind, SlackWebhookNotifier, WebhookNotifier
from incidentkit.policy import Policy
from incidentkit.store import MemoryStore
from incidentkit.testing import SAMPLE_TIME

from ._helpers import snapshot

T0 = SAMPLE_TIME


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(text)
    return list(caught.value.problems)


@pytest.mark.parametrize(
    ("toml", "path"),
    [
        ('[notifiers.a]\nurl = "https://x.example/"', "$.notifiers.a.type"),
        ('[notifiers.a]\ntype = "slack"', "$.notifiers.a.url"),
        ('[notifiers.a]\ntype = "slack"\nurl_env = "no such"', "$.notifiers.a.url_env"),
        ('[notifiers.a]\ntype = "slack"\nurl = "https://x/"\ncolour = 1', "$.notifiers.a.colour"),
        ('[notifiers.a]\ntype = "log"\nkinds = ["page", "pgae"]', "$.notifiers.a.kinds[1]"),
        ('[notifiers.a]\ntype = "log"\naudiences = "all"', "$.notifiers.a.audiences"),
        ('[notifiers.a]\ntype = "log"\ntimeout = "soon"', "$.notifiers.a.timeout"),
        ("[notifiers]\na = 3", "$.notifiers.a"),
        ('[actions.flags]\ntype = "feature_flag"\nurl = "https://x/"', "$.actions.flags.url"),
        ('closing_checklist = "recovry"', "$.closing_checklist"),
    ],
)
def test_bad_tables_are_refused_with_their_key_path(toml: str, path: str) -> None:
    assert path in [p for p, _ in _problems(toml)]


def test_a_table_configures_a_builtin_notifier_with_its_url_from_the_environment() -> None:
    policy = Policy.from_toml(
        '[notifiers.team]\ntype = "slack"\nurl_env = "SLACK_URL"\nkinds = ["page"]\n'
        'audiences = ["responders"]\ntimeout = "3s"\n'
        '[notifiers.hook]\ntype = "webhook"\nurl = "https://h.example/in"\nsecret_env = "HOOK"\n'
    )
    plugins, settings = build_integrations(
        policy.notifiers,
        policy.actions,
        environ={"SLACK_URL": "https://hooks.example.com/T/B/c", "HOOK": "s3cret"},
    )
    assert settings == {}
    slack, hook = plugins
    assert isinstance(slack, SlackWebhookNotifier) and isinstance(hook, WebhookNotifier)
    spec = slack.spec()
    assert (spec.name, spec.kinds, spec.audiences) == (
        "team",
        frozenset({NotificationKind.PAGE}),
        frozenset({"responders"}),
    )
    assert slack.url == "https://hooks.example.com/T/B/c"
    assert spec.timeout.total_seconds() == 3
    assert "s3cret" not in repr(hook)


def test_a_missing_environment_variable_names_the_key() -> None:
    policy = Policy.from_toml('[notifiers.team]\ntype = "slack"\nurl_env = "SLACK_URL"\n')
    with pytest.raises(PolicyError) as caught:
        build_integrations(policy.notifiers, policy.actions, environ={})
    assert caught.value.problems == (
        ("$.notifiers.team.url_env", "environment variable SLACK_URL is not set"),
    )


def test_a_value_the_notifier_refuses_names_the_key() -> None:
    policy = Policy.from_toml('[notifiers.team]\ntype = "slack"\nurl = "ftp://x.example/"\n')
    with pytest.raises(PolicyError) as caught:
        build_integrations(policy.notifiers, policy.actions, environ={})
    assert caught.value.problems[0][0] == "$.notifiers.team.url"


def test_actions_from_tables_with_paths_relative_to_the_policy_file(tmp_path: Path) -> None:
    file = tmp_path / "incident.toml"
    file.write_text(
        '[actions.feature_flag]\ntype = "feature_flag"\nfile = "flags.json"\n'
        '[actions.rollback]\ntype = "rollback"\ncommand = ["true"]\ntimeout = "1m"\n',
        encoding="utf-8",
    )
    from incidentkit.policy import load_policy

    policy = load_policy(file)
    plugins, _ = build_integrations(policy.notifiers, policy.actions, environ={})
    flags, rollback = plugins
    assert isinstance(flags, FeatureFlagAction) and isinstance(rollback, RollbackAction)
    (tmp_path / "flags.json").write_text('{"new-login": true}', encoding="utf-8")
    kit = IncidentKit(policy=policy, clock=ManualClock(T0), autoload_plugins=False)
    assert "feature_flag" in kit.plugins.mitigation_actions()
    assert flags.client.get_flag("new-login") is True  # type: ignore[attr-defined]


def test_an_installed_plugin_type_receives_the_table_as_settings() -> None:
    items = load_integrations(
        {"pd": {"type": "pagerduty", "url_env": "PD_URL", "routing_key": "abc"}}, "notifiers"
    )
    _, settings = build_integrations(items, (), environ={"PD_URL": "https://events.example/"})
    assert settings == {
        "pagerduty": {
            "name": "pd",
            "url": "https://events.example/",
            "secret": None,
            "audiences": [],
            "kinds": [],
            "routing_key": "abc",
        }
    }
    twice = load_integrations({"a": {"type": "pagerduty"}, "b": {"type": "pagerduty"}}, "notifiers")
    with pytest.raises(PolicyError, match=r"\$\.notifiers\.b\.type"):
        build_integrations(twice, (), environ={})


def test_a_kit_refuses_an_unknown_installed_plugin_type() -> None:
    policy = Policy.from_toml('[notifiers.pd]\ntype = "pagerdooty"\n')
    with pytest.raises(ValidationError, match="pagerdooty"):
        IncidentKit(policy=policy, autoload_plugins=False)


def _resolved(kit: IncidentKit) -> str:
    iid = kit.declare("Login failures", severity=Severity.SEV2, by="ana").id
    kit.assign_role(iid, "incident_commander", "ana", by="ana")
    kit.resolve(iid, by="ana", force=True, reason="drill")
    return iid


def test_close_is_gated_by_the_recovery_checklist() -> None:
    store = MemoryStore()
    kit = IncidentKit(store=store, clock=ManualClock(T0), autoload_plugins=False)
    iid = _resolved(kit)
    before = snapshot(store)
    with pytest.raises(GuardFailed, match="open required recovery items: verify-root-cause-fix"):
        kit.close(iid, by="ana")
    with pytest.raises(ValidationError, match="reason"):
        kit.close(iid, by="ana", force=True)
    assert snapshot(store) == before
    for item in kit.policy.checklist("recovery").items:
        if item.required:
            kit.check(iid, "recovery", item.key, by="ana")
    assert kit.close(iid, by="ana").closed_at is not None
    event = kit.timeline(iid)[-1].event
    assert isinstance(event, Closed) and not event.forced


def test_a_forced_close_records_the_open_items_and_the_switch_turns_the_gate_off() -> None:
    kit = IncidentKit(clock=ManualClock(T0), autoload_plugins=False)
    iid = _resolved(kit)
    kit.close(iid, by="ana", force=True, reason="drill")
    event = kit.timeline(iid)[-1].event
    assert isinstance(event, Closed) and event.forced and event.reason == "drill"
    assert "schedule-review" in event.open_items
    assert "thank-responders" not in event.open_items  # optional items never gate

    ungated = IncidentKit(
        policy=Policy.from_toml('closing_checklist = ""'),
        clock=ManualClock(T0),
        autoload_plugins=False,
    )
    assert ungated.close(_resolved(ungated), by="ana").closed_at is not None


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_the_policy_comes_from_the_environment_then_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INCIDENTKIT_POLICY", raising=False)
    monkeypatch.setenv("INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    db = ["--db", f"sqlite:///{tmp_path}/x.db"]
    assert _cli(*db, "declare", "x", "-s", "SEV3", "--by", "a", "--id", "INC-1")[0] == 0
    (tmp_path / "incidentkit.toml").write_text('zone = "Asia/Tokyo"\n', encoding="utf-8")
    code, out, _ = _cli(*db, "list")
    assert code == 0 and "DECLARED (Asia/Tokyo)" in out and " JST " in out
    (tmp_path / "other.toml").write_text('zone = "Europe/Berlin"\n', encoding="utf-8")
    monkeypatch.setenv("INCIDENTKIT_POLICY", str(tmp_path / "other.toml"))
    assert "DECLARED (Europe/Berlin)" in _cli(*db, "list")[1]
    assert "DECLARED (UTC)" in _cli(*db, "--tz", "UTC", "list")[1]
    monkeypatch.setenv("INCIDENTKIT_POLICY", str(tmp_path / "missing.toml"))
    code, out, err = _cli(*db, "list")
    assert (code, out) == (2, "") and "missing.toml" in err and len(err.splitlines()) == 1


def test_oncall_now_without_a_schedule_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INCIDENTKIT_POLICY", raising=False)
    code, out, err = _cli("oncall", "now")
    assert (code, out) == (1, "")
    assert err.startswith("incidentkit: error: no on-call schedule") and err.count("\n") == 1


def test_show_and_tick_print_times_in_the_zone_and_json_stays_utc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    db = ["--db", f"sqlite:///{tmp_path}/x.db", "--tz", "Europe/Berlin"]
    started = "2024-11-20T22:30:00Z"
    declare = ("declare", "x", "-s", "SEV2", "--by", "a", "--id", "INC-1")
    assert _cli(*db, *declare, "--detected-at", started)[0] == 0
    code, out, _ = _cli(*db, "status", "INC-1")
    assert code == 0
    assert "declared:" in out and " CET" in out and "+00:00" not in out
    code, out, _ = _cli(*db, "tick", "--at", "2024-11-20T22:31:00Z")
    assert out.startswith("2024-11-20 23:31:00 CET: checked")
    code, out, _ = _cli(*db, "show", "INC-1", "--json")
    data = json.loads(out)
    assert data["declared_at"].endswith("+00:00")
    assert "verify-root-cause-fix" in data["open_items"]["recovery"]


def test_reading_commands_do_not_need_the_notifiers_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCIDENTKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.delenv("SLACK_URL", raising=False)
    policy = tmp_path / "p.toml"
    policy.write_text('[notifiers.team]\ntype = "slack"\nurl_env = "SLACK_URL"\n', encoding="utf-8")
    db = ["--db", f"sqlite:///{tmp_path}/x.db", "--policy", str(policy)]
    monkeypatch.setenv("SLACK_URL", "http://127.0.0.1:9/hook")
    assert _cli(*db, "declare", "x", "-s", "SEV3", "--by", "a", "--id", "INC-1")[0] == 0
    monkeypatch.delenv("SLACK_URL")
    for argv in (["list"], ["show", "INC-1"], ["timeline", "INC-1"], ["verify"]):
        code, _, err = _cli(*db, *argv)
        assert code == 0, (argv, err)
    # a command that writes still plans the team's messages, so it still needs the secret
    code, _, err = _cli(*db, "note", "INC-1", "checking", "--by", "a")
    assert code == 2 and "SLACK_URL" in err
