"""The chain key (where it comes from, wrong or missing keys) and checkpoint documents."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import incidentkit as ik
from incidentkit.checkpoint import checkpoint_from_json
from incidentkit.cli import main
from incidentkit.store.sqlite import SCHEMA_VERSION, SqliteStore
from incidentkit.testing import SAMPLE_TIME
from incidentkit.timeline import CHAIN_KEY_ENV, GENESIS_HASH, ChainKey, chain_hash, verify_chain

T0 = SAMPLE_TIME
KEY = "a chain key of at least sixteen bytes"
OTHER = "another key, also long enough"


def policy(key: str | None = KEY, **more: object) -> ik.Policy:
    return ik.Policy.from_mapping({"integrity": {"chain_key": key, **more}})


def kit_on(store: ik.Store, key: str | None = KEY, **more: object) -> ik.IncidentKit:
    return ik.IncidentKit(
        store=store,
        policy=policy(key, **more) if key else None,
        clock=ik.ManualClock(T0),
        autoload_plugins=False,
    )


# --- the key --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"), [("short", "at least 16 bytes"), (42, "expected text"), ("", "16 bytes")]
)
def test_a_bad_policy_key_names_its_key_path(value: object, reason: str) -> None:
    with pytest.raises(ik.PolicyError) as caught:
        ik.Policy.from_toml(f"[integrity]\nchain_key = {json.dumps(value)}\n", source="p.toml")
    [(path, text)] = caught.value.problems
    assert path == "$.integrity.chain_key" and reason in text


def test_the_key_never_shows_in_a_repr() -> None:
    assert KEY not in repr(policy())
    assert KEY not in repr(ChainKey.from_text(KEY, "k"))


def test_the_environment_key_is_used_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CHAIN_KEY_ENV, KEY)
    kit = kit_on(ik.MemoryStore(), key=None)
    assert kit.chain_key_id == ChainKey.from_text(KEY, "k").key_id
    kit.declare("x", severity="SEV3", by="a", incident_id="INC-1")
    assert kit.timeline("INC-1")[0].hash.startswith(f"hmac-sha256:{kit.chain_key_id}:")
    monkeypatch.setenv(CHAIN_KEY_ENV, "short")
    with pytest.raises(ik.ValidationError) as caught:
        kit_on(ik.MemoryStore(), key=None)
    assert caught.value.field == f"${CHAIN_KEY_ENV}"
    monkeypatch.setenv(CHAIN_KEY_ENV, OTHER)
    with pytest.raises(ik.ValidationError) as caught:
        kit_on(ik.MemoryStore(), key=KEY)
    assert caught.value.field == f"${CHAIN_KEY_ENV}" and "differs" in caught.value.reason
    monkeypatch.setenv(CHAIN_KEY_ENV, KEY)
    assert kit_on(ik.MemoryStore(), key=KEY).chain_key_id == kit.chain_key_id


def test_wrong_and_missing_keys_are_clear_results_not_crashes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/k.db"
    store = SqliteStore(url)
    keyed = kit_on(store)
    keyed.declare("x", severity="SEV3", by="a", incident_id="INC-1")
    own = keyed.chain_key_id
    other = kit_on(store, key=OTHER)
    check = other.verify("INC-1")
    assert (check.ok, check.broken_version, check.problem) == (False, 1, ik.ChainProblem.WRONG_KEY)
    assert own in check.reason and str(other.chain_key_id) in check.reason
    check = kit_on(store, key=None).verify("INC-1")
    assert (check.ok, check.problem) == (False, ik.ChainProblem.NO_KEY)
    assert CHAIN_KEY_ENV in check.reason

    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", url, "verify"], out=out, err=err) == 1
    assert "INC-1: BROKEN at version 1: row keyed with key id" in out.getvalue()
    assert err.getvalue() == ""


def test_a_kit_with_another_key_or_none_refuses_to_extend_a_keyed_chain() -> None:
    store = ik.MemoryStore()
    kit_on(store).declare("x", severity="SEV3", by="a", incident_id="INC-1")
    before = store.load("INC-1")
    for key in (OTHER, None):
        with pytest.raises(ik.ChainKeyError) as caught:
            kit_on(store, key=key).add_note("INC-1", "hello", by="a")
        assert caught.value.incident_id == "INC-1"
        assert store.load("INC-1") == before


def test_an_unkeyed_timeline_stays_verifiable_and_a_key_continues_it() -> None:
    store = ik.MemoryStore()
    plain = kit_on(store, key=None)
    plain.declare("x", severity="SEV3", by="a", incident_id="INC-1")
    old = store.version("INC-1")
    keyed = kit_on(store)
    check = keyed.verify("INC-1")
    assert (check.ok, check.unkeyed, check.key_id) == (True, old, None)
    keyed.add_note("INC-1", "now keyed", by="a")
    check = keyed.verify("INC-1")
    assert (check.ok, check.unkeyed, check.key_id) == (True, old, keyed.chain_key_id)
    # require_key refuses the old plain rows
    strict = kit_on(store, require_key=True).verify("INC-1")
    assert (strict.ok, strict.broken_version, strict.problem) == (
        False,
        1,
        ik.ChainProblem.UNKEYED,
    )


@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=6),
    pick=st.integers(min_value=0),
    field=st.sampled_from(["payload", "recorded_at", "hash"]),
)
def test_any_change_to_a_keyed_row_is_found_at_its_version(
    texts: list[str], pick: int, field: str
) -> None:
    key = ChainKey.from_text(KEY, "k")
    t = T0
    previous = GENESIS_HASH
    rows: list[tuple[int, datetime, str, str]] = []
    for version, text in enumerate(texts, start=1):
        payload = json.dumps({"text": text})
        previous = chain_hash(previous, "INC-1", version, t, payload, key)
        rows.append((version, t, payload, previous))
    assert verify_chain("INC-1", rows, key=key).ok
    index = pick % len(rows)
    version, at, payload, digest = rows[index]
    if field == "payload":
        payload = payload + " "
    elif field == "recorded_at":
        at = at + timedelta(microseconds=1)
    else:
        # a forger without the key: right format and key id, but not the HMAC
        digest = f"hmac-sha256:{key.key_id}:" + chain_hash(
            rows[index - 1][3] if index else GENESIS_HASH, "INC-1", version, at, payload
        )
    rows[index] = (version, at, payload, digest)
    check = verify_chain("INC-1", rows, key=key)
    assert (check.ok, check.broken_version) == (False, version)


# --- checkpoints ----------------------------------------------------------------


def _checkpoint(key: str | None = KEY) -> tuple[ik.IncidentKit, dict[str, Any]]:
    kit = kit_on(ik.MemoryStore(), key=key)
    kit.declare("x", severity="SEV3", by="a", incident_id="INC-1")
    kit.declare("y", severity="SEV3", by="a", incident_id="INC-2")
    return kit, json.loads(kit.checkpoint().to_json())


def test_a_checkpoint_round_trips_through_the_converter() -> None:
    kit, data = _checkpoint()
    checkpoint = checkpoint_from_json(json.dumps(data))
    assert checkpoint == kit.checkpoint()  # the manual clock makes it deterministic
    assert checkpoint.key_id == kit.chain_key_id and checkpoint.signature
    assert checkpoint.incident_count == 2
    checkpoint.check(ChainKey.from_text(KEY, "k"))


def _mutations() -> list[tuple[str, Any, str]]:
    def set_(path: list[Any], value: Any) -> Any:
        def apply(data: dict[str, Any]) -> Any:
            target: Any = data
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
            return data

        return apply

    def drop(key: str) -> Any:
        def apply(data: dict[str, Any]) -> Any:
            del data[key]
            return data

        return apply

    return [
        ("not-json", lambda d: "{oops", "$"),
        ("array", lambda d: [], "$"),
        ("missing-root", drop("root_hash"), "$.root_hash"),
        ("unknown-key", set_(["extra"], 1), "$.extra"),
        ("version-type", set_(["incidents", 0, "version"], "3"), "$.incidents[0].version"),
        ("version-zero", set_(["incidents", 0, "version"], 0), "$.incidents[0].version"),
        ("bad-time", set_(["created_at"], "yesterday"), "$.created_at"),
        ("count", set_(["incident_count"], 3), "$.incident_count"),
        ("head", set_(["incidents", 0, "head_hash"], "f" * 64), "$.root_hash"),
        ("signature", set_(["signature"], "0" * 64), "$.signature"),
        ("unsigned", set_(["signature"], None), "$.signature"),
        ("other-key", set_(["key_id"], "0" * 16), "$.key_id"),
        ("format", set_(["format"], "something/2"), "$.format"),
        ("duplicate", lambda d: {**d, "incidents": [d["incidents"][0]] * 2}, "$.incidents[1]"),
    ]


@pytest.mark.parametrize(
    ("name", "mutate", "field"), _mutations(), ids=[m[0] for m in _mutations()]
)
def test_a_bad_checkpoint_is_a_typed_error_naming_the_field(
    name: str, mutate: Any, field: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit, data = _checkpoint()
    mutated = mutate(data)
    text = mutated if isinstance(mutated, str) else json.dumps(mutated)
    with pytest.raises(ik.CheckpointError) as caught:
        kit.verify_all(against=checkpoint_from_json(text))
    assert caught.value.field.startswith(field), caught.value.field
    assert isinstance(caught.value, ik.ValidationError)

    # The CLI: one line on stderr, exit 2, naming the field.
    url = f"sqlite:///{tmp_path}/c.db"
    monkeypatch.setenv(CHAIN_KEY_ENV, KEY)
    file = tmp_path / "bad.json"
    file.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", url, "verify", "--against", str(file)], out=out, err=err) == 2
    assert err.getvalue().count("\n") == 1 and field in err.getvalue()


def test_a_signed_checkpoint_needs_the_key_and_an_unsigned_one_none() -> None:
    kit, data = _checkpoint()
    plain = kit_on(kit.store, key=None)
    with pytest.raises(ik.CheckpointError) as caught:
        plain.verify_all(against=checkpoint_from_json(json.dumps(data)))
    assert caught.value.field == "$.key_id"
    unsigned = kit_on(ik.MemoryStore(), key=None).checkpoint()
    assert unsigned.signature is None and unsigned.key_id is None
    with pytest.raises(ik.CheckpointError) as caught:
        kit.verify("INC-1", against=unsigned)
    assert caught.value.field == "$.signature"


def test_checkpoint_refuses_to_vouch_for_a_broken_store() -> None:
    kit, _ = _checkpoint()
    rows = kit.store._events["INC-1"]  # type: ignore[attr-defined]
    rows[0] = attrs.evolve(rows[0], payload=rows[0].payload.replace('"x"', '"z"'))
    with pytest.raises(ik.IntegrityError) as caught:
        kit.checkpoint()
    assert "INC-1 at version 1" in str(caught.value)
    assert [c.incident_id for c in caught.value.checks] == ["INC-1"]  # type: ignore[attr-defined]


def test_cli_checkpoint_prints_json_and_verify_against_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv(CHAIN_KEY_ENV, KEY)
    out, err = io.StringIO(), io.StringIO()
    assert main(["--db", url, "declare", "x", "-s", "SEV3", "--by", "a", "--id", "INC-1"]) == 0
    assert main(["--db", url, "checkpoint"], out=out, err=err) == 0
    checkpoint = checkpoint_from_json(out.getvalue())
    assert [e.incident_id for e in checkpoint.incidents] == ["INC-1"]
    file = tmp_path / "cp.json"
    file.write_text(out.getvalue())
    raw = sqlite3.connect(tmp_path / "cli.db")
    with raw:
        raw.execute("DELETE FROM incidentkit_events")
        raw.execute("DELETE FROM incidentkit_summaries")
    raw.close()
    out = io.StringIO()
    assert main(["--db", url, "verify", "--against", str(file)], out=out, err=err) == 1
    assert "INC-1: BROKEN at version 1: the checkpoint has it at version" in out.getvalue()
    assert main(["--db", url, "verify", "--against", str(tmp_path / "nope")], err=err) == 2
    assert "--against" in err.getvalue()


# --- the summary's head hash and schema upgrades ----------------------------------


def test_an_old_sqlite_database_gains_head_hashes_on_migrate(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = SqliteStore(path)
    store.migrate()
    kit_on(store, key=None).declare("x", severity="SEV3", by="a", incident_id="INC-1")
    store.close()
    # Back to schema 3: the tables before the summary's head_hash column (and the keys).
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("ALTER TABLE incidentkit_summaries DROP COLUMN head_hash")
        raw.execute("DROP TABLE incidentkit_keys")
        raw.execute("UPDATE incidentkit_meta SET value = '3'")
    raw.close()
    store = SqliteStore(path)
    assert store.schema_version() == 3
    store.migrate()
    assert store.schema_version() == SCHEMA_VERSION
    summary = store.summary("INC-1")
    assert summary is not None and summary.head_hash == store.load("INC-1")[-1].hash
    assert kit_on(store, key=None).verify("INC-1").ok
    store.close()


def test_an_old_postgres_schema_gains_head_hashes_on_migrate(
    postgres_store: Any, postgres_dsn: str
) -> None:
    from incidentkit.store.postgres import SCHEMA_VERSION as PG_VERSION
    from incidentkit.store.postgres import PostgresStore

    kit_on(postgres_store, key=None).declare("x", severity="SEV3", by="a", incident_id="INC-1")
    schema = postgres_store.schema
    postgres_store._run(  # back to schema 2: before head_hash (and the keys)
        lambda conn: (
            conn.execute(f'ALTER TABLE "{schema}".incidentkit_summaries DROP COLUMN head_hash'),
            conn.execute(f'DROP TABLE "{schema}".incidentkit_keys'),
            conn.execute(f"UPDATE \"{schema}\".incidentkit_meta SET value = '2'"),
        ),
        retry=False,
    )
    fresh = PostgresStore(postgres_dsn, schema=schema)
    try:
        assert fresh.schema_version() == 2
        fresh.migrate()
        assert fresh.schema_version() == PG_VERSION
        summary = fresh.summary("INC-1")
        assert summary is not None and summary.head_hash == fresh.load("INC-1")[-1].hash
        assert kit_on(fresh, key=None).verify("INC-1").ok
    finally:
        fresh.close()


def test_verify_all_covers_events_without_a_summary() -> None:
    store = ik.MemoryStore()
    kit = kit_on(store, key=None)
    kit.declare("x", severity="SEV3", by="a", incident_id="INC-1")
    del store._summaries["INC-1"]  # type: ignore[attr-defined]
    [check] = kit.verify_all()
    assert (check.ok, check.problem) == (False, ik.ChainProblem.SUMMARY_MISSING)
