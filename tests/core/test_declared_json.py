"""A declaration's JSON, its templates encoded once per policy, equals the plain encoding."""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from incidentkit.checklists import DEFAULT_TEMPLATES, ChecklistTemplate
from incidentkit.events import Declared
from incidentkit.serialization import dumps, event_to_dict, event_to_json
from incidentkit.severity import Severity
from incidentkit.testing import SAMPLE_TIME

from .test_events_roundtrip import event_strategy, templates

DECLARED = event_strategy(Declared)


def plain(event: Declared) -> str:
    return dumps(event_to_dict(event))


@settings(max_examples=200, deadline=None)
@given(DECLARED, st.lists(templates(), min_size=1, max_size=3).map(tuple))
def test_the_spliced_declaration_is_the_plain_encoding(
    event: Declared, other: tuple[ChecklistTemplate, ...]
) -> None:
    assert isinstance(event, Declared)
    assert event_to_json(event) == plain(event)
    # the same templates object again (the cached fragment), then others, then back
    assert event_to_json(event) == plain(event)
    again = Declared(**{**_fields(event), "checklists": other})
    assert event_to_json(again) == plain(again)
    assert event_to_json(event) == plain(event)


def test_the_guides_templates_and_a_declaration_without_any() -> None:
    def declared(checklists: tuple[ChecklistTemplate, ...]) -> Declared:
        return Declared(
            by="alice",
            title="Login API returning 500 errors",
            severity=Severity.SEV1,
            declared_at=SAMPLE_TIME,
            services=("login-api",),
            checklists=checklists,
        )

    event = declared(DEFAULT_TEMPLATES)
    assert event_to_json(event) == plain(event)
    bare = declared(())
    assert event_to_json(bare) == plain(bare)
    # equal but distinct template tuples give the same bytes
    copy = declared(tuple(list(DEFAULT_TEMPLATES)))
    assert copy.checklists is not event.checklists
    assert event_to_json(copy) == event_to_json(event)


def _fields(event: Declared) -> dict[str, object]:
    return {f.name: getattr(event, f.name) for f in attrs.fields(Declared) if f.init}
