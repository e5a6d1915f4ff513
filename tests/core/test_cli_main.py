"""The ``incidentkit`` command: output, exit codes, and the demo."""

from __future__ import annotations

import argparse
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

from incidentkit import cli
from incidentkit.clock import ManualClock
from incidentkit.errors import ValidationError
from incidentkit.kit import IncidentKit
from incidentkit.policy import load_policy
from incidentkit.store import MemoryStore

LA = ZoneInfo("America/Los_Angeles")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# --- one invocation on memory:// ------------------------------------------------------


def test_declare_json_on_a_memory_store() -> None:
    code, out, err = run(
        "--db",
        "memory://",
        "declare",
        "API returning 500 errors",
        "--severity",
        "sev1",
        "--by",
        "alice",
        "--service",
        "api",
        "--started-at",
        "2024-11-20T14:29:00-08:00",
        "--id",
        "INC-42",
        "--json",
    )
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["id"] == "INC-42"
    assert data["severity"] == "SEV1"
    assert data["status"] == "declared"
    assert data["services"] == ["api"]
    assert data["started_at"] == "2024-11-20T22:29:00+00:00"
    assert data["channel"].startswith("#incident-") and data["channel"].endswith(
        "-api-returning-500-errors"
    )
    assert data["checklists"]["declaration"]["assign-severity"] == "done"
    assert data["version"] == 2


def test_declare_plain_output() -> None:
    code, out, _ = run("--db", "memory://", "declare", "Disk full", "-s", "3", "--by", "al")
    assert code == 0
    assert "declared (SEV3) — channel #incident-" in out


@pytest.mark.parametrize(
    ("argv", "mentions"),
    [
        (["declare", "x", "--severity", "SEV9", "--by", "a"], "severity"),
        (["declare", "x", "--severity", "SEV1", "--by", " "], "by"),
        (["declare", " ", "--severity", "SEV1", "--by", "a"], "title"),
        (
            ["declare", "x", "--severity", "SEV1", "--by", "a", "--started-at", "yesterday"],
            "--started-at",
        ),
        (
            ["declare", "x", "--severity", "SEV1", "--by", "a", "--started-at", "2024-11-20T14:00"],
            "naive",
        ),
        (["declare", "x", "--severity", "SEV1"], "--by"),
        (["declare", "x", "--severity", "SEV1", "--by", "a", "--source", "pigeon"], "--source"),
        (["timeline", "INC-1", "--zone", "Mars/Base"], "--zone"),
        (["status", "INC-1", "resolved", "--by", "a"], "new_status"),
        (["list", "--since", "2024-11-20"], "--since"),
        (["list", "--severity", "SEV0"], "severity"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_exits_2_naming_the_field(argv: list[str], mentions: str) -> None:
    code, out, err = run("--db", "memory://", *argv)
    assert code == 2, (out, err)
    assert err.startswith("incidentkit: error: ")
    assert mentions in err


def test_unknown_store_scheme_exits_2_listing_known_schemes() -> None:
    code, _, err = run("--db", "mongodb://localhost/x", "list")
    assert code == 2
    assert "no store plugin handles mongodb://" in err
    assert "memory://" in err


def test_not_a_store_url_exits_2() -> None:
    code, _, err = run("--db", "incidents.db", "list")
    assert code == 2
    assert "url" in err


def test_refused_command_exits_1() -> None:
    code, _, err = run("--db", "memory://", "ack", "INC-404", "--by", "alice")
    assert code == 1
    assert "no incident 'INC-404'" in err


def test_bad_policy_file_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[roles]\ncommander_only = 'yes'\n", encoding="utf-8")
    code, _, err = run("--db", "memory://", "--policy", str(policy), "list")
    assert code == 2
    assert str(policy) in err and "$.roles.commander_only" in err


def test_db_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INCIDENTKIT_DB", "nosuch://x")
    code, _, err = run("list")
    assert code == 2 and "nosuch://" in err


# --- several invocations on one store ----------------------------------------------------


class KeptMemoryStore(MemoryStore):
    """A memory store that survives the CLI's shutdown (one store across invocations)."""

    def close(self) -> None:
        pass


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> tuple[KeptMemoryStore, ManualClock]:
    store = KeptMemoryStore()
    clock = ManualClock(datetime(2024, 11, 20, 14, 30, tzinfo=LA))

    def kit(args: argparse.Namespace) -> IncidentKit:
        policy = load_policy(args.policy) if args.policy else None
        return IncidentKit(store=store, policy=policy, clock=clock, autoload_plugins=False)

    monkeypatch.setattr(cli, "_kit", kit)
    return store, clock


def test_a_whole_incident_from_the_shell(
    shared: tuple[KeptMemoryStore, ManualClock], tmp_path: Path
) -> None:
    store, _ = shared
    policy = tmp_path / "policy.toml"
    policy.write_text("zone = 'America/Los_Angeles'\n", encoding="utf-8")
    with_policy = ("--policy", str(policy))
    assert (
        run(
            *with_policy,
            "declare",
            "API returning 500 errors",
            "-s",
            "SEV1",
            "--by",
            "alice",
            "--id",
            "INC-7",
        )[0]
        == 0
    )
    steps = [
        ("assign", "INC-7", "ic", "alice", "--by", "alice"),
        ("assign", "INC-7", "tl", "bob", "--by", "alice"),
        ("ack", "INC-7", "--by", "alice"),
        ("note", "INC-7", "seeing 15% errors", "--by", "bob"),
        ("status", "INC-7", "investigating", "--by", "alice"),
        ("phase", "INC-7", "mitigate", "--by", "alice"),
        ("update", "INC-7", "investigating", "Looking into it", "--by", "alice"),
        ("severity", "INC-7", "SEV2", "--by", "alice", "--reason", "partial"),
        ("check", "INC-7", "resolution", "metrics-normal", "--by", "bob"),
        (
            "check",
            "INC-7",
            "resolution",
            "fix-validated",
            "--by",
            "bob",
            "--skip",
            "--reason",
            "n/a",
        ),
    ]
    for step in steps:
        code, out, err = run(*with_policy, *step)
        assert code == 0, (step, err)

    code, _, err = run(*with_policy, "resolve", "INC-7", "--by", "alice")
    assert code == 1 and "open required resolution items" in err
    code, _, err = run(*with_policy, "resolve", "INC-7", "--by", "bob", "--force", "--reason", "x")
    assert code == 1 and "only the incident commander (alice)" in err
    code, _, err = run(*with_policy, "resolve", "INC-7", "--by", "alice", "--force")
    assert code == 2 and "reason" in err
    assert (
        run(*with_policy, "resolve", "INC-7", "--by", "alice", "--force", "--reason", "drill")[0]
        == 0
    )

    code, out, _ = run(*with_policy, "status", "INC-7", "--json")
    data = json.loads(out)
    assert (data["status"], data["severity"], data["phase"]) == ("resolved", "SEV2", "mitigate")
    assert data["roles"] == {"incident_commander": "alice", "technical_lead": "bob"}
    code, out, _ = run(*with_policy, "status", "INC-7")
    assert "INC-7  SEV2  resolved  API returning 500 errors" in out

    code, out, _ = run(*with_policy, "timeline", "INC-7")
    lines = out.splitlines()
    assert lines[0] == "times in America/Los_Angeles"
    assert lines[1] == "[14:30] alice (IC): Incident declared — SEV1 — API returning 500 errors"
    assert "[14:30] bob (TL): seeing 15% errors" in lines
    code, out, _ = run(*with_policy, "timeline", "INC-7", "--zone", "UTC")
    assert out.splitlines()[1].startswith("[22:30] alice (IC)")
    code, out, _ = run(*with_policy, "timeline", "INC-7", "--json")
    assert json.loads(out)[0]["event"]["type"] == "declared"

    code, out, _ = run(*with_policy, "list", "--json")
    assert [row["incident_id"] for row in json.loads(out)] == ["INC-7"]
    code, out, _ = run(*with_policy, "list", "--open")
    assert out.strip() == "no incidents"

    code, _, err = run(*with_policy, "reopen", "INC-7", "--by", "carol", "--reason", "back")
    assert code == 1 and "only the incident commander" in err
    assert run(*with_policy, "reopen", "INC-7", "--by", "alice", "--reason", "back")[0] == 0
    code, _, err = run(*with_policy, "close", "INC-7", "--by", "alice")
    assert code == 1 and "cannot close" in err

    code, out, _ = run(*with_policy, "verify")
    assert (code, out.strip()) == (0, f"INC-7: ok ({store.version('INC-7')} events)")
    rows = store._events["INC-7"]
    rows[3] = attrs.evolve(rows[3], payload=rows[3].payload.replace("alice", "mallory"))
    code, out, _ = run(*with_policy, "verify", "INC-7", "--json")
    assert code == 1
    assert json.loads(out)[0]["broken_version"] == 4


def test_status_change_needs_by(shared: tuple[KeptMemoryStore, ManualClock]) -> None:
    run("declare", "x", "-s", "1", "--by", "a", "--id", "INC-1")
    code, _, err = run("status", "INC-1", "investigating")
    assert code == 2 and "--by" in err


def test_plugins_listing(shared: tuple[KeptMemoryStore, ManualClock]) -> None:
    code, out, _ = run("plugins", "--json")
    assert code == 0
    names = [p["name"] for p in json.loads(out)]
    assert "incidentkit.stores" in names


# --- the demo -------------------------------------------------------------------------------

DEMO_LINES = [
    "[14:30] alice (IC): Incident declared — SEV1 — Login API returning 500 errors",
    "[14:32] bob (TL): Checking dashboards... seeing 15% error rate",
    "[14:36] alice (IC): Any quick mitigation options?",
    "[14:37] bob (TL): Increasing pool size and deploying now",
    "[14:45] bob (TL): Error rate dropping, now at 2%",
    "[14:51] alice (IC): Incident resolved: Connection pool size raised from 10 to 20",
    "[14:51] charlie (Comms): Status update (resolved): Login functionality restored.",
    "  time to acknowledge: 1m 00s",
    "  time to mitigate:    12m 00s",
    "  time to resolve:     21m 00s",
    "  hash chain: ok (29 events)",  # the review is created with the resolution
]


def test_demo_prints_the_guide_incident() -> None:
    code, out, err = run("demo")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    for line in DEMO_LINES:
        assert line in lines, line
    assert "Channel #incident-2024-11-20-login-api-returning-500-errors" in lines


def test_demo_on_an_explicit_memory_store() -> None:
    code, out, _ = run("demo", "--db", "memory://")
    assert code == 0
    assert DEMO_LINES[0] in out.splitlines()


def test_demo_with_a_policy_in_another_zone(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("zone = 'Asia/Tokyo'\n", encoding="utf-8")
    code, out, _ = run("--policy", str(policy), "demo", "--db", "memory://")
    assert code == 0
    # The demo renders in its own zone; the channel is dated in the policy's.
    assert DEMO_LINES[0] in out.splitlines()
    assert "Channel #incident-2024-11-21-login-api-returning-500-errors" in out


def test_sqlite_urls_when_a_sqlite_store_is_installed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/incidents.db"
    try:
        IncidentKit.open(url, autoload_plugins=False).shutdown()
    except ValidationError as err:
        assert err.field == "url"
        pytest.skip("no sqlite:// store plugin in this build")
    code, out, err_text = run("--db", url, "declare", "x", "-s", "2", "--by", "a", "--id", "I-1")
    assert code == 0, err_text
    code, out, _ = run("--db", url, "ack", "I-1", "--by", "a")
    assert code == 0
    code, out, _ = run("--db", url, "status", "I-1", "--json")
    assert json.loads(out)["version"] == 3
