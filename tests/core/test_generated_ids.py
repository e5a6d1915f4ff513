"""A generated incident id that is already taken is drawn again, not reported as a conflict."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

import incidentkit as ik
from incidentkit.engine._engine import ID_DRAWS


def drawing(*ids: str) -> tuple[list[str], object]:
    drawn: list[str] = []
    pending: Iterator[str] = iter(ids)

    def factory(now: datetime) -> str:
        drawn.append(next(pending))
        return drawn[-1]

    return drawn, factory


def test_declare_draws_again_when_the_generated_id_is_taken(clock: ik.ManualClock) -> None:
    drawn, factory = drawing("INC-1", "INC-1", "INC-2")
    kit = ik.IncidentKit(clock=clock, id_factory=factory, autoload_plugins=False)  # type: ignore[arg-type]
    first = kit.declare("Login errors", severity="SEV2", by="alice")
    second = kit.declare("API errors", severity="SEV2", by="alice")
    assert (first.id, second.id) == ("INC-1", "INC-2")
    assert drawn == ["INC-1", "INC-1", "INC-2"]
    assert kit.get("INC-1").title == "Login errors"  # the first one is untouched
    assert kit.get("INC-2").title == "API errors"


def test_a_chosen_id_that_is_taken_is_still_a_conflict(clock: ik.ManualClock) -> None:
    kit = ik.IncidentKit(clock=clock, autoload_plugins=False)
    kit.declare("Login errors", severity="SEV2", by="alice", incident_id="INC-7")
    with pytest.raises(ik.ConcurrencyConflict):
        kit.declare("Again", severity="SEV2", by="alice", incident_id="INC-7")


def test_it_gives_up_after_a_bounded_number_of_draws(clock: ik.ManualClock) -> None:
    drawn, factory = drawing(*(["INC-1"] * (ID_DRAWS + 1)))
    kit = ik.IncidentKit(clock=clock, id_factory=factory, autoload_plugins=False)  # type: ignore[arg-type]
    kit.declare("Login errors", severity="SEV2", by="alice")
    with pytest.raises(ik.StoreError):
        kit.declare("API errors", severity="SEV2", by="alice")
    assert len(drawn) == ID_DRAWS + 1
    assert [s.incident_id for s in kit.store.summaries()] == ["INC-1"]


def test_alert_intake_draws_again_too(
    clock: ik.ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import incidentkit.intake.section as section

    hexes = iter(["AAAAAA", "AAAAAA", "BBBBBB"])
    monkeypatch.setattr(section.secrets, "token_hex", lambda n: next(hexes))
    kit = ik.IncidentKit(clock=clock, autoload_plugins=False)
    for key in ("a", "b"):
        result = kit.alerts.ingest({"key": key, "summary": f"alert {key}"}, "generic")
        assert result.outcomes[0].action == "declared"
    day = f"{clock.now():%Y%m%d}"
    assert sorted(s.incident_id for s in kit.store.summaries()) == [
        f"INC-{day}-AAAAAA",
        f"INC-{day}-BBBBBB",
    ]


def test_declare_refuses_the_drills_id_prefix(clock: ik.ManualClock) -> None:
    kit = ik.IncidentKit(clock=clock, autoload_plugins=False)
    for chosen in ("DRILL-20241120-2230", "DRILL-x"):
        with pytest.raises(ik.ValidationError) as err:
            kit.declare("Login errors", severity="SEV2", by="alice", incident_id=chosen)
        assert err.value.field == "incident_id"
    assert kit.store.summaries() == []
