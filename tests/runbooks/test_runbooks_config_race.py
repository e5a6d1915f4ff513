"""The ``[runbooks]`` policy table, loading at start, and replicas racing on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

import incidentkit as ik
from incidentkit.runbooks import RunbookError
from incidentkit.store.postgres import PostgresStore
from incidentkit.testing import CapturingNotifier

from .test_runbooks import BODY, FRONT, T0, make_kit


def test_the_policy_names_the_directory_relative_to_its_file(tmp_path: Path) -> None:
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "a.md").write_text(FRONT + BODY, encoding="utf-8")
    file = tmp_path / "policy.toml"
    file.write_text('[roles]\ncustom = ["team-lead"]\n\n[runbooks]\ndirectory = "rb"\n')
    loaded = ik.load_policy(file)
    assert loaded.runbooks.directory == str(tmp_path / "rb")
    from incidentkit.mitigation import RollbackAction

    kit = ik.IncidentKit(policy=loaded, plugins=[RollbackAction(["true"])], autoload_plugins=False)
    assert [r.id for r in kit.runbooks.all] == ["high-error-rate"]


def test_a_bad_runbooks_table_is_refused_with_its_key_path() -> None:
    with pytest.raises(ik.PolicyError) as err:
        ik.Policy.from_toml('[runbooks]\ndirectory = "rb"\nfolder = "x"\n')
    assert any("runbooks" in path for path, _ in err.value.problems)


def test_a_kit_does_not_start_on_a_bad_directory(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("no front matter\n", encoding="utf-8")
    bad = ik.Policy.from_toml(f'[runbooks]\ndirectory = "{tmp_path}"\n')
    with pytest.raises(RunbookError) as err:
        ik.IncidentKit(policy=bad, autoload_plugins=False)
    assert err.value.problems[0].file == str(tmp_path / "a.md")


@pytest.mark.postgres
def test_replicas_ticking_at_once_record_each_timer_once(
    postgres_store: PostgresStore, postgres_dsn: str, tmp_path: Path
) -> None:
    (tmp_path / "a.md").write_text(FRONT + BODY, encoding="utf-8")
    assert postgres_store.schema is not None
    stores = [PostgresStore(postgres_dsn, schema=postgres_store.schema) for _ in range(4)]
    kits = [make_kit(CapturingNotifier(), store=store) for store in stores]
    for kit in kits:
        kit.runbooks.load(tmp_path)
    inc = kits[0].declare("Login API returning 500 errors", severity="SEV2", by="alice")
    kits[0].runbooks.attach(inc.id, "high-error-rate", by="alice")
    barrier = threading.Barrier(len(kits))
    escalated: list[int] = []
    reminded: list[int] = []

    def replica(kit: ik.IncidentKit) -> None:
        barrier.wait()
        report = kit.tick(T0 + timedelta(minutes=15))  # review due since 2024-03-31 too
        assert report.failures == {}
        escalated.append(sum(r.event.tag == "runbooks_escalated" for r in report.fired))
        reminded.append(len(report.enqueued) + len(kit.runbooks.remind(T0 + timedelta(minutes=15))))

    threads = [threading.Thread(target=replica, args=(kit,)) for kit in kits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(escalated) == 1 and sum(reminded) >= 1
    assert [r.key for r in kits[0].store.outbox("")] == [
        "runbook-review:high-error-rate:2024-09-27:capture"
    ]
    assert kits[0].store.incident_ids() == [inc.id]
    assert all(check.ok for check in kits[0].verify_all())
    for store in stores:
        store.close()
