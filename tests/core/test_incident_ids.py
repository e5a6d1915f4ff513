"""Incident ids follow one documented alphabet on every path that takes one."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incidentkit import cli
from incidentkit.errors import NotFound, ValidationError
from incidentkit.ids import MAX_INCIDENT_ID_LENGTH, check_incident_id
from incidentkit.kit import IncidentKit
from incidentkit.store import MemoryStore, StoredEvent
from incidentkit.store.sqlite import SqliteStore

from ._helpers import KitFactory, snapshot

BAD_IDS = [
    "",
    "INC:1",
    "INC/1",
    "../etc",
    ".hidden",
    "-flag",
    "INC 1",
    "INC-1\n",
    "INC\x001",
    "ÄBC",
    "INC-١",
    "x" * (MAX_INCIDENT_ID_LENGTH + 1),
    "<!channel>",
    "INC-1'; DROP TABLE events; --",
]
GOOD_IDS = ["a", "7", "INC-20241120-3F2A1B", "inc_2024.11.20", "x" * MAX_INCIDENT_ID_LENGTH]


class SpyStore(MemoryStore):
    """A memory store that records which ids reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def load(self, incident_id: str, *, after_version: int = 0) -> list[StoredEvent]:
        self.asked.append(incident_id)
        return super().load(incident_id, after_version=after_version)

    def summary(self, incident_id: str):  # type: ignore[no-untyped-def]
        self.asked.append(incident_id)
        return super().summary(incident_id)


@pytest.mark.parametrize("good", GOOD_IDS)
def test_good_ids_are_accepted(kit: IncidentKit, good: str) -> None:
    assert kit.declare("API 500s", severity="SEV2", by="alice", incident_id=good).id == good
    assert kit.get(good).id == good


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_bad_caller_given_id_is_refused_on_declare(
    kit: IncidentKit, store: MemoryStore, bad: str
) -> None:
    before = snapshot(store)
    with pytest.raises(ValidationError) as caught:
        kit.declare("API 500s", severity="SEV2", by="alice", incident_id=bad)
    assert caught.value.field == "incident_id"
    assert snapshot(store) == before


@pytest.mark.parametrize("bad", [*BAD_IDS, 42, None])
def test_a_bad_id_factory_is_refused_on_declare(
    make_kit: KitFactory, store: MemoryStore, bad: object
) -> None:
    kit = make_kit(id_factory=lambda now: bad)
    with pytest.raises(ValidationError) as caught:
        kit.declare("API 500s", severity="SEV2", by="alice")
    assert caught.value.field == "incident_id"
    assert snapshot(store) == snapshot(MemoryStore())


READS_AND_COMMANDS: list[tuple[str, Callable[[IncidentKit, str], object]]] = [
    ("get", lambda kit, iid: kit.get(iid)),
    ("timeline", lambda kit, iid: kit.timeline(iid)),
    ("verify", lambda kit, iid: kit.verify(iid)),
    ("summary", lambda kit, iid: kit.summary(iid)),
    ("can_resolve", lambda kit, iid: kit.can_resolve(iid)),
    ("acknowledge", lambda kit, iid: kit.acknowledge(iid, by="alice")),
    ("add_note", lambda kit, iid: kit.add_note(iid, "hi", by="alice")),
    ("assign_role", lambda kit, iid: kit.assign_role(iid, "ic", "alice", by="alice")),
    ("resolve", lambda kit, iid: kit.resolve(iid, by="alice", summary="done")),
    ("close", lambda kit, iid: kit.close(iid, by="alice")),
]


@pytest.mark.parametrize(("name", "call"), READS_AND_COMMANDS)
@pytest.mark.parametrize("bad", ["INC:1", "a/b", "", "x" * 65, "INC-1\n"])
def test_a_bad_id_on_a_read_or_command_is_a_validation_error_before_the_store(
    name: str, call: Callable[[IncidentKit, str], object], bad: str
) -> None:
    store = SpyStore()
    kit = IncidentKit(store=store, autoload_plugins=False)
    kit.declare("API 500s", severity="SEV2", by="alice", incident_id="INC-1")
    store.asked.clear()
    with pytest.raises(ValidationError) as caught:
        call(kit, bad)
    assert caught.value.field == "incident_id"
    assert not isinstance(caught.value, NotFound)
    assert store.asked == []  # never reached the store (nor SQL)


def test_a_good_unknown_id_is_still_not_found(kit: IncidentKit) -> None:
    with pytest.raises(NotFound):
        kit.get("INC-404")


@pytest.mark.parametrize("bad", ["INC:1", "a/b", "x" * 65])
def test_sqlite_refuses_bad_ids_naming_the_field(tmp_path: Path, bad: str) -> None:
    with IncidentKit(store=SqliteStore(tmp_path / "ids.db"), autoload_plugins=False) as kit:
        kit.store.migrate()
        for call in (kit.get, kit.timeline, kit.verify):
            with pytest.raises(ValidationError) as caught:
                call(bad)
            assert caught.value.field == "incident_id"
        with pytest.raises(ValidationError):
            kit.declare("API 500s", severity="SEV1", by="alice", incident_id=bad)
        assert kit.incidents() == []


@pytest.mark.parametrize("argv", [["status", "INC:1"], ["note", "a/b", "hi", "--by", "bob"]])
def test_the_cli_refuses_a_bad_id_with_exit_2(argv: Sequence[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["--db", "memory://", *argv], out=out, err=err)
    assert code == 2
    assert "incident_id" in err.getvalue() and "Traceback" not in err.getvalue()


@given(st.text(max_size=80))
def test_the_rule_is_exactly_the_documented_alphabet(text: str) -> None:
    documented = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", text, flags=re.ASCII)
    try:
        check_incident_id(text)
    except ValidationError as err:
        assert err.field == "incident_id"
        assert documented is None
    else:
        assert documented is not None


@given(st.text(max_size=80))
def test_get_with_any_text_is_validation_error_or_not_found(text: str) -> None:
    kit = IncidentKit(store=MemoryStore(), autoload_plugins=False)
    with pytest.raises((ValidationError, NotFound)) as caught:
        kit.get(text)
    if isinstance(caught.value, ValidationError):
        assert caught.value.field == "incident_id"


def test_generated_ids_follow_the_rule(kit: IncidentKit) -> None:
    for _ in range(20):
        check_incident_id(kit.declare("API 500s", severity="SEV4", by="alice").id)
