# ruff: noqa: E501  (the tables of hostile calls read best one call per line)
"""Hostile input is a typed ValidationError naming the field, and nothing is stored.

One test per hole found by the adversarial review (issue 9, "Bad input"):
each escaped as a plain Python exception before.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from incidentkit import _validate
from incidentkit.cli import main
from incidentkit.clock import ManualClock
from incidentkit.errors import PolicyError, ValidationError
from incidentkit.kit import IncidentKit
from incidentkit.mitigation import FeatureFlagAction, InMemoryFlagClient
from incidentkit.policy import Policy, load_policy
from incidentkit.roles import Role
from incidentkit.store import MemoryStore

from ._helpers import KitFactory, snapshot

PLUS_14 = timezone(timedelta(hours=14))
YEAR_ONE_PLUS_14 = datetime(1, 1, 1, tzinfo=PLUS_14)
"""Its UTC value is before year 1: ``astimezone`` overflows."""
DATETIME_MAX = datetime.max.replace(tzinfo=UTC)

DEEP: object = "x"
for _ in range(40):
    DEEP = [DEEP]


@pytest.fixture
def kit(make_kit: KitFactory) -> IncidentKit:
    """A kit with a feature-flag action, so mitigation parameters are checked too."""
    return make_kit(plugins=[FeatureFlagAction(InMemoryFlagClient())])


def _open(kit: IncidentKit) -> str:
    iid = kit.declare("API 500s", severity="SEV1", by="alice").id
    kit.assign_role(iid, Role.INCIDENT_COMMANDER, "alice", by="alice")
    return iid


Case = Callable[[IncidentKit, str], object]

# fmt: off
BAD: list[tuple[str, Case, str]] = [
    ("surrogate in title", lambda k, i: k.declare("API \ud800", severity=1, by="a"), "title"),
    ("surrogate in note", lambda k, i: k.add_note(i, "seen \udcff", by="bob"), "text"),
    ("surrogate in by", lambda k, i: k.add_note(i, "x", by="b\ud800"), "by"),
    ("surrogate in person", lambda k, i: k.assign_role(i, "scribe", "\ud800", by="alice"), "person"),
    ("surrogate in service", lambda k, i: k.declare("t", severity=1, by="a", services=["\ud800"]), "services"),
    ("surrogate in summary", lambda k, i: k.resolve(i, by="alice", summary="\ud800", force=True, reason="r"), "summary"),
    ("surrogate in params", lambda k, i: k.mitigate(i, "feature_flag", by="a", params={"flag": "\ud800", "enabled": False}), "params.flag"),
    ("year 1 at +14h", lambda k, i: k.declare("t", severity=1, by="a", started_at=YEAR_ONE_PLUS_14), "started_at"),
    ("datetime.max detected", lambda k, i: k.declare("t", severity=1, by="a", detected_at=DATETIME_MAX), "detected_at"),
    ("since year 1 at +14h", lambda k, i: k.incidents(since=YEAR_ONE_PLUS_14), "since"),
    ("until datetime.max", lambda k, i: k.incidents(until=DATETIME_MAX), "until"),
    ("tick at datetime.max", lambda k, i: k.tick(DATETIME_MAX), "now"),
    ("services=None", lambda k, i: k.declare("t", severity=1, by="a", services=None), "services"),  # type: ignore[arg-type]
    ("services=5", lambda k, i: k.declare("t", severity=1, by="a", services=5), "services"),  # type: ignore[arg-type]
    ("signals='x'", lambda k, i: k.declare("t", by="a", signals="x"), "signals"),  # type: ignore[arg-type]
    ("acknowledge([])", lambda k, i: k.acknowledge([], by="a"), "incident_id"),  # type: ignore[arg-type]
    ("get({})", lambda k, i: k.get({}), "incident_id"),  # type: ignore[arg-type]
    ("timeline(None)", lambda k, i: k.timeline(None), "incident_id"),  # type: ignore[arg-type]
    ("resolve(force='no')", lambda k, i: k.resolve(i, by="alice", force="no", reason="r"), "force"),  # type: ignore[arg-type]
    ("resolve(force=1)", lambda k, i: k.resolve(i, by="alice", force=1, reason="r"), "force"),  # type: ignore[arg-type]
    ("mitigate(dry_run='yes')", lambda k, i: k.mitigate(i, "feature_flag", by="a", params={"flag": "f", "enabled": False}, dry_run="yes"), "dry_run"),  # type: ignore[arg-type]
    ("incidents(open_only='no')", lambda k, i: k.incidents(open_only="no"), "open_only"),  # type: ignore[arg-type]
    ("NUL in note", lambda k, i: k.add_note(i, "a\x00b", by="bob"), "text"),
    ("NUL in title", lambda k, i: k.declare("a\x00b", severity=1, by="a"), "title"),
    ("escape in by", lambda k, i: k.add_note(i, "x", by="bob\x1b[31m"), "by"),
    ("megabyte note", lambda k, i: k.add_note(i, "x" * 1_000_000, by="bob"), "text"),
    ("megabyte reason", lambda k, i: k.set_severity(i, "SEV2", by="alice", reason="x" * 1_000_000), "reason"),
    ("megabyte person", lambda k, i: k.assign_role(i, "scribe", "p" * 1_000_000, by="alice"), "person"),
    ("megabyte description", lambda k, i: k.declare("t", severity=1, by="a", description="d" * 1_000_000), "description"),
    ("long by", lambda k, i: k.add_note(i, "x", by="b" * (_validate.MAX_NAME_LENGTH + 1)), "by"),
    ("too many services", lambda k, i: k.declare("t", severity=1, by="a", services=[f"s{n}" for n in range(_validate.MAX_ITEMS + 1)]), "services"),
    ("deep params", lambda k, i: k.mitigate(i, "feature_flag", by="a", params={"flag": DEEP, "enabled": False}), "params.flag" + "[0]" * 32),
    ("limit=2**63", lambda k, i: k.incidents(limit=2**63), "limit"),
    ("limit=True", lambda k, i: k.incidents(limit=True), "limit"),
    ("status=5", lambda k, i: k.incidents(status=5), "status"),  # type: ignore[arg-type]
    ("severity=object()", lambda k, i: k.set_severity(i, object(), by="alice", reason="r"), "severity"),  # type: ignore[arg-type]
    ("checklist=[]", lambda k, i: k.check(i, [], "x", by="bob"), "checklist"),  # type: ignore[arg-type]
    ("role=None", lambda k, i: k.release_role(i, None, by="alice"), "role"),  # type: ignore[arg-type]
    ("action=[]", lambda k, i: k.mitigate(i, [], by="alice"), "action"),  # type: ignore[arg-type]
    ("phase=[]", lambda k, i: k.enter_phase(i, [], by="alice"), "phase"),  # type: ignore[arg-type]
    ("idempotency_key=10**5000", lambda k, i: k.add_note(i, "x", by="bob", idempotency_key=10**5000), "idempotency_key"),  # type: ignore[arg-type]
    ("idempotency_key=[]", lambda k, i: k.resolve(i, by="alice", force=True, reason="r", idempotency_key=[]), "idempotency_key"),  # type: ignore[arg-type]
    ("idempotency_key surrogate", lambda k, i: k.declare("t", severity=1, by="a", idempotency_key="k\ud800"), "idempotency_key"),
    ("idempotency_key NUL", lambda k, i: k.mitigate(i, "feature_flag", by="a", params={"flag": "f", "enabled": False}, idempotency_key="k\x00"), "idempotency_key"),
    ("idempotency_key megabyte", lambda k, i: k.mark_mitigated(i, by="a", detail="d", idempotency_key="k" * 1_000_000), "idempotency_key"),
]
# fmt: on


@pytest.mark.parametrize(("command", "field"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_hostile_arguments_are_validation_errors_and_store_nothing(
    kit: IncidentKit, store: MemoryStore, command: Case, field: str
) -> None:
    iid = _open(kit)
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        command(kit, iid)
    assert err.value.field == field
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("capabilities", "field"),
    [(None, "capabilities"), ("pings", "capabilities"), ([object()], "capabilities[0]")],
    ids=["None", "one string", "not a Capability"],
)
def test_capabilities_that_are_not_capabilities_are_refused_before_a_store_opens(
    tmp_path: Path, capabilities: object, field: str
) -> None:
    url = f"sqlite:///{tmp_path}/caps.db"
    with pytest.raises(ValidationError) as err:
        IncidentKit.open(url, autoload_plugins=False, capabilities=capabilities)
    assert err.value.field == field
    with pytest.raises(ValidationError) as err:
        IncidentKit(autoload_plugins=False, capabilities=capabilities)  # type: ignore[arg-type]
    assert err.value.field == field


@pytest.mark.parametrize(
    "settings", [10**5000, {10**5000: {}}, {"x": 10**5000}], ids=["int", "int key", "int value"]
)
def test_plugin_settings_that_do_not_print_are_refused(settings: object) -> None:
    with pytest.raises(ValidationError) as err:
        IncidentKit(autoload_plugins=False, plugin_settings=settings)  # type: ignore[arg-type]
    assert err.value.field == "settings"
    assert len(str(err.value)) < 200


def test_the_same_limits_hold_on_sqlite(tmp_path: Path, clock: ManualClock) -> None:
    kit = IncidentKit.open(f"sqlite:///{tmp_path}/x.db", clock=clock, autoload_plugins=False)
    iid = _open(kit)
    rows = kit.store.load(iid)
    with pytest.raises(ValidationError) as err:
        kit.incidents(limit=2**63)  # sqlite3 raised OverflowError binding it
    assert err.value.field == "limit"
    with pytest.raises(ValidationError) as err:
        kit.add_note(iid, "x" * (_validate.MAX_TEXT_LENGTH + 1), by="bob")
    assert err.value.field == "text"
    with pytest.raises(ValidationError) as err:
        kit.timeline("\udcff")  # sqlite3 raised UnicodeEncodeError binding it
    assert err.value.field == "incident_id"
    assert kit.store.load(iid) == rows
    kit.add_note(iid, "x" * _validate.MAX_TEXT_LENGTH, by="b" * _validate.MAX_NAME_LENGTH)
    assert len(kit.store.load(iid)) == len(rows) + 1


@pytest.mark.parametrize(
    "now",
    [DATETIME_MAX, YEAR_ONE_PLUS_14, datetime(8999, 12, 31, 23, tzinfo=UTC) + timedelta(hours=2)],
    ids=["datetime.max", "year 1 +14h", "just past the range"],
)
def test_a_clock_out_of_range_is_refused(
    make_kit: KitFactory, store: MemoryStore, now: datetime
) -> None:
    class FixedClock:
        def now(self) -> datetime:
            return now

    kit = make_kit(at=FixedClock())
    with pytest.raises(ValidationError) as err:
        kit.declare("API 500s", severity="SEV1", by="alice")
    assert err.value.field == "clock.now()"
    assert store.incident_ids() == []
    with pytest.raises(ValidationError):
        ManualClock(now)


def test_the_edges_of_the_range_are_accepted(make_kit: KitFactory, store: MemoryStore) -> None:
    clock = ManualClock(_validate.LATEST - timedelta(days=400))
    kit = make_kit(at=clock)
    iid = kit.declare("Far future", severity="SEV1", by="alice", started_at=_validate.EARLIEST).id
    assert kit.get(iid).started_at == _validate.EARLIEST
    clock.advance(timedelta(days=399))
    kit.tick()  # escalation arithmetic near the end of the range does not overflow
    assert kit.verify(iid).ok
    # At the very last instant a SEV1's first escalation step would fall past the
    # range: a typed refusal, nothing stored.
    before = snapshot(store)
    late = make_kit(at=ManualClock(_validate.LATEST - timedelta(microseconds=1)))
    with pytest.raises(ValidationError):
        late.declare("Too late", severity="SEV1", by="alice")
    assert snapshot(store) == before


def test_a_too_deep_policy_file_is_a_policy_error(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text("x = " + "[" * 2000 + "]" * 2000 + "\n", encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(file)  # tomllib raised RecursionError
    assert err.value.source == str(file)
    assert "nest deeper than" in str(err.value)
    # Deep enough to be refused, shallow enough for the parser: the key path is named.
    with pytest.raises(PolicyError) as err:
        Policy.from_toml("[roles]\ncustom = " + "[" * 40 + "]" * 40 + "\n")
    assert err.value.problems[0][0].startswith("$.roles.custom[0]")


def test_a_policy_file_that_is_not_utf8_is_a_policy_error(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_bytes(b"zone = '\xff'\n")
    with pytest.raises(PolicyError) as err:
        load_policy(file)
    assert "not UTF-8" in str(err.value)


@pytest.mark.parametrize(
    "interval",
    [timedelta(0), timedelta(seconds=-5), timedelta(days=2), 30],
    ids=["zero", "negative", "two days", "not a timedelta"],
)
def test_run_forever_refuses_absurd_intervals(kit: IncidentKit, interval: object) -> None:
    with pytest.raises(ValidationError) as err:
        kit.run_forever(interval)  # type: ignore[arg-type]
    assert err.value.field == "interval"


@pytest.mark.parametrize(
    "value", ["99999999999999999999d", 1e300, float("nan"), 10**400, "x" * 10_000]
)
def test_absurd_durations_are_refused(value: object) -> None:
    from incidentkit.serialization import parse_duration

    with pytest.raises(ValidationError) as err:
        parse_duration(value, "escalate_after")
    assert err.value.field == "escalate_after"
    assert len(str(err.value)) < 200


# --- the CLI: one line on stderr, exit 2, never a traceback ---------------------


def _cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out, err)
    return code, err.getvalue()


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    url = f"sqlite:///{tmp_path}/cli.db"
    code, _ = _cli(["--db", url, "declare", "API 500s", "-s", "SEV1", "--by", "a", "--id", "INC-1"])
    assert code == 0
    return ["--db", url]


def _deep_file(tmp_path: Path) -> str:
    file = tmp_path / "deep.toml"
    file.write_text("x = " + "[" * 2000 + "]" * 2000 + "\n", encoding="utf-8")
    return str(file)


# fmt: off
CLI_CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    # surrogateescape'd bytes from the shell reached the hash chain
    ("declare", lambda p: ["declare", "bad \udcff", "-s", "SEV1", "--by", "a"], "title"),
    ("note", lambda p: ["note", "INC-1", "a\x00b", "--by", "a"], "text"),
    ("verify", lambda p: ["verify", "\udcff"], "incident_id"),
    # OverflowError binding 2**63 in SQLite
    ("list --limit", lambda p: ["list", "--limit", str(2**63)], "limit"),
    ("list --since", lambda p: ["list", "--since", "0001-01-01T00:00+14:00"], "--since"),
    ("tick --at", lambda p: ["tick", "--at", "9999-12-31T23:59:59Z"], "--at"),
    # RecursionError in json.loads
    ("mitigate --param", lambda p: ["mitigate", "INC-1", "rollback", "--by", "a", "--param", "x=" + "[" * 5000 + "]" * 5000], "--param"),
    ("oncall now --at", lambda p: ["oncall", "now", "--at", "0001-01-01T00:00+14:00"], "--at"),
    ("oncall ics --out", lambda p: ["oncall", "ics", "--person", "a", "--from", "2024-01-01T00:00Z", "--to", "2024-01-02T00:00Z", "--out", str(p / "no" / "such" / "dir.ics")], "--out"),
    ("metrics --since", lambda p: ["metrics", "--since", "0001-01-01T00:00+14:00"], "--since"),
    ("metrics --targets deep", lambda p: ["metrics", "--targets", _deep_file(p)], "--targets"),
    ("--policy deep", lambda p: ["--policy", _deep_file(p), "list"], "nest deeper"),
    ("run --interval 0s", lambda p: ["run", "--interval", "0s"], "--interval"),
    ("run --interval negative", lambda p: ["run", "--interval=-5s"], "--interval"),
    ("run --interval absurd", lambda p: ["run", "--interval", "99999999999999d"], "--interval"),
]
# fmt: on


@pytest.mark.parametrize(
    ("argv", "named"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_cli_bad_input_is_one_line_and_exit_2(
    db: list[str], tmp_path: Path, argv: Callable[[Path], list[str]], named: str
) -> None:
    before = _cli([*db, "timeline", "INC-1", "--json"])
    code, err = _cli([*db, *argv(tmp_path)])
    assert code == 2, err
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("incidentkit")
    assert named in err
    assert _cli([*db, "timeline", "INC-1", "--json"]) == before


def test_cli_messages_fold_line_breaks(db: list[str]) -> None:
    code, err = _cli([*db, "note", "INC-1", "x", "--by", "line\nbreak"])
    assert code == 2 and err.count("\n") == 1, err


def test_concepts_page_lists_every_limit() -> None:
    page = (Path(__file__).parents[2] / "docs" / "concepts.md").read_text(encoding="utf-8")
    for number in (
        _validate.MAX_NAME_LENGTH,
        _validate.MAX_TITLE_LENGTH,
        _validate.MAX_TEXT_LENGTH,
        _validate.MAX_ITEMS,
        _validate.MAX_LIMIT,
        _validate.MAX_NESTING,
        _validate.MAX_DURATION.days,
    ):
        assert f"{number:,}" in page, number
    assert f"{_validate.EARLIEST:%Y-%m-%d}" in page and f"{_validate.LATEST:%Y-%m-%d}" in page
