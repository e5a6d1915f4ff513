"""CLI commands beyond the basics: hypotheses, mitigations, not-applicable items, list filters."""

from __future__ import annotations

import io
import json
from pathlib import Path

from incidentkit.cli import main
from incidentkit.events import HypothesisRecorded, MitigationCompleted
from incidentkit.kit import IncidentKit


def run(db: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--db", db, *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_hypothesis_mitigated_na_and_list_filters(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/incidents.db"
    assert run(db, "declare", "API 500s", "-s", "SEV2", "--by", "alice", "--id", "INC-1")[0] == 0
    assert run(db, "declare", "Cosmetic", "-s", "SEV4", "--by", "alice", "--id", "INC-2")[0] == 0
    code, _, err = run(
        db, "hypothesis", "INC-1", "DB pool exhausted", "--by", "bob",
        "--test", "pool metrics", "--result", "100/100", "--conclusion", "confirmed",
    )  # fmt: skip
    assert code == 0, err
    assert run(db, "mitigated", "INC-1", "pool 10 -> 20", "--by", "bob")[0] == 0
    code, _, err = run(db, "check", "INC-1", "recovery", "validate-with-users", "--na", "--by", "a")
    assert code == 0, err
    code, _, err = run(db, "check", "INC-1", "recovery", "thank-responders", "--na", "--skip",
                       "--by", "a", "--reason", "x")  # fmt: skip
    assert code == 2 and "--na" in err

    with IncidentKit.open(db, autoload_plugins=False) as kit:
        state = kit.get("INC-1")
        events = [r.event for r in kit.timeline("INC-1")]
    assert state.identified_at is not None and state.mitigated_at is not None
    assert any(isinstance(e, HypothesisRecorded) and e.result == "100/100" for e in events)
    assert any(isinstance(e, MitigationCompleted) and e.detail == "pool 10 -> 20" for e in events)
    assert state.item("recovery", "validate-with-users").state.value == "not_applicable"

    code, out, _ = run(db, "list", "--json", "--status", "declared", "--limit", "1")
    assert code == 0 and len(json.loads(out)) == 1


def test_mitigate_from_the_shell_with_typed_params(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/incidents.db"
    assert run(db, "declare", "API 500s", "-s", "SEV2", "--by", "alice", "--id", "INC-1")[0] == 0
    code, _, err = run(db, "mitigate", "INC-1", "nope", "--by", "bob")
    assert code == 1 and "no mitigation action 'nope'" in err
    code, _, err = run(db, "mitigate", "INC-1", "x", "--by", "bob", "--param", "novalue")
    assert code == 2 and "--param" in err and "KEY=VALUE" in err
