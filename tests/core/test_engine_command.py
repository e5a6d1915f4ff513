"""``Engine.command``: a handler that takes the validated actor, and the facade helpers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from incidentkit import IncidentKit, ManualClock, Severity
from incidentkit.engine import Capability
from incidentkit.engine.facade import new_incident_id, plugins_for, stored_summary
from incidentkit.errors import NotFound, ValidationError
from incidentkit.events import Event, NoteAdded
from incidentkit.incident import Incident
from incidentkit.plugins.manager import PluginManager
from incidentkit.store import MemoryStore


def _kit(clock: ManualClock, store: MemoryStore) -> IncidentKit:
    return IncidentKit(store=store, clock=clock, autoload_plugins=False)


def test_the_handler_gets_the_actor_as_recorded_and_the_commands_now(
    manual_clock: ManualClock, memory_store: MemoryStore
) -> None:
    kit = _kit(manual_clock, memory_store)
    inc = kit.declare("API down", severity=Severity.SEV2, by="alice")
    seen: list[tuple[str, datetime]] = []

    def handler(state: Incident, now: datetime, by: str) -> Sequence[Event]:
        seen.append((by, now))
        return [NoteAdded(by=by, text="from a handler")]

    after = kit.engine.command(inc.id, "add_note", "  bob  ", handler).state
    assert seen == [("bob", manual_clock.now())]
    assert kit.timeline(inc.id)[-1].event == NoteAdded(by="bob", text="from a handler")
    assert after.version == kit.get(inc.id).version


def test_a_bad_incident_id_is_refused_before_a_bad_actor_and_nothing_is_decided(
    manual_clock: ManualClock, memory_store: MemoryStore
) -> None:
    kit = _kit(manual_clock, memory_store)
    calls: list[str] = []

    def handler(state: Incident, now: datetime, by: str) -> Sequence[Event]:
        calls.append(by)
        return []

    with pytest.raises(ValidationError) as bad_id:
        kit.engine.command("", "add_note", "", handler)
    assert bad_id.value.field == "incident_id"
    inc = kit.declare("API down", severity=Severity.SEV2, by="alice")
    before = kit.timeline(inc.id)
    with pytest.raises(ValidationError) as bad_by:
        kit.engine.command(inc.id, "add_note", "a\nb", handler)
    assert bad_by.value.field == "by"
    assert calls == []
    assert kit.timeline(inc.id) == before


def test_the_facade_commands_record_the_stripped_actor(
    manual_clock: ManualClock, memory_store: MemoryStore
) -> None:
    kit = _kit(manual_clock, memory_store)
    inc = kit.declare("API down", severity=Severity.SEV2, by=" alice ")
    kit.add_note(inc.id, "looking", by=" carol ")
    kit.set_severity(inc.id, Severity.SEV1, by=" alice ", reason="worse")
    by_tag = {r.event.tag: r.event.by for r in kit.timeline(inc.id)}
    assert by_tag["declared"] == "alice"
    assert by_tag["note_added"] == "carol"
    assert by_tag["severity_changed"] == "alice"


def test_new_ids_carry_the_date_and_differ(manual_clock: ManualClock) -> None:
    now = manual_clock.now()
    first, second = new_incident_id(now), new_incident_id(now)
    assert first.startswith(f"INC-{now:%Y%m%d}-") and len(first) == len("INC-20240101-ABCDEF")
    assert first != second


def test_settings_with_a_manager_are_refused_naming_the_argument() -> None:
    manager = PluginManager((), autoload=False)
    with pytest.raises(ValidationError) as err:
        plugins_for(manager, None, None, (), None, False, {"x": {}})
    assert err.value.field == "plugin_settings"


def test_a_missing_summary_is_not_found(memory_store: MemoryStore) -> None:
    with pytest.raises(NotFound):
        stored_summary(memory_store, "INC-NOPE")


def test_a_section_that_would_hide_a_kit_attribute_is_refused(memory_store: MemoryStore) -> None:
    hiding = Capability(name="timeline", section=lambda engine: object())
    with pytest.raises(ValidationError) as err:
        IncidentKit(store=memory_store, autoload_plugins=False, capabilities=[hiding])
    assert err.value.field == "capability"
    assert "would hide IncidentKit.timeline" in err.value.reason


def test_sections_are_set_on_the_kit_and_in_the_engine(memory_store: MemoryStore) -> None:
    section = object()
    extra = Capability(name="extra_section", section=lambda engine: section)
    kit = IncidentKit(store=memory_store, autoload_plugins=False, capabilities=[extra])
    assert kit.extra_section is section
    assert kit.engine.sections["extra_section"] is section
