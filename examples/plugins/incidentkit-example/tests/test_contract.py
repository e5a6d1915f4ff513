"""The example plugin passes incidentkit's contract suites."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from incidentkit_example import OUTBOX_ENV, ExamplePlugin, read_outbox

from incidentkit.testing.mitigation_contract import MitigationActionContract
from incidentkit.testing.notifier_contract import NotifierContract


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "outbox.jsonl"
    monkeypatch.setenv(OUTBOX_ENV, str(path))
    return path


class TestExampleNotifier(NotifierContract):
    @pytest.fixture
    def notifier_plugin(self, outbox: Path) -> ExamplePlugin:
        return ExamplePlugin()

    @pytest.fixture
    def observed_keys(self, outbox: Path) -> Callable[[], list[str]]:
        return lambda: [row["key"] for row in read_outbox(outbox)]


class TestExampleAction(MitigationActionContract):
    @pytest.fixture
    def action_plugin(self) -> ExamplePlugin:
        return ExamplePlugin()

    @pytest.fixture
    def valid_params(self) -> Mapping[str, Mapping[str, Any]]:
        return {"example_echo": {"message": "hello"}}
