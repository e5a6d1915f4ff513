"""An example incidentkit plugin: a JSON-lines notifier and a tiny mitigation action.

The package's ``pyproject.toml`` declares the entry point
``[project.entry-points.incidentkit] example = "incidentkit_example:plugin"``;
incidentkit loads :data:`plugin` from it and calls its hook implementations.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from incidentkit.mitigation import MitigationAction, MitigationContext, MitigationResult
from incidentkit.notify import Notification, NotifierSpec
from incidentkit.plugins import hookimpl
from incidentkit.serialization import dumps

__all__ = ["OUTBOX_ENV", "EchoParams", "ExamplePlugin", "outbox_path", "plugin", "read_outbox"]

OUTBOX_ENV = "INCIDENTKIT_EXAMPLE_OUTBOX"


def outbox_path() -> Path:
    """The file the notifier appends to: ``$INCIDENTKIT_EXAMPLE_OUTBOX`` or a temp-dir default."""
    configured = os.environ.get(OUTBOX_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / "incidentkit-example-outbox.jsonl"


def read_outbox(path: Path | None = None) -> list[dict[str, Any]]:
    """Every notification written so far, oldest first (``[]`` when there is none)."""
    target = path if path is not None else outbox_path()
    if not target.exists():
        return []
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines() if line]


@attrs.frozen
class EchoParams:
    """Parameters of the ``example_echo`` action."""

    message: str

    def __attrs_post_init__(self) -> None:
        if not self.message.strip():
            from incidentkit.errors import ValidationError

            raise ValidationError("message", "must not be empty")


class ExamplePlugin:
    """Provides one notifier and one mitigation action through incidentkit's hooks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def deliver(self, notification: Notification) -> None:
        """Append the notification as one JSON line (the key lets readers drop duplicates)."""
        line = dumps(
            {
                "key": notification.key,
                "kind": notification.kind.value,
                "incident": notification.incident.id,
                "severity": notification.incident.severity.value,
                "urgency": notification.urgency.value,
                "text": notification.text,
                "created_at": notification.created_at.isoformat(),
            }
        )
        path = outbox_path()
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    def echo(self, context: MitigationContext, params: EchoParams) -> MitigationResult:
        """Do nothing but say so."""
        return MitigationResult.applied(
            f"echo for {context.incident_id}: {params.message}", message=params.message
        )

    @hookimpl
    def incidentkit_notifiers(self) -> list[NotifierSpec]:
        """Register the JSON-lines notifier."""
        return [
            NotifierSpec(name="example-jsonl", deliver=self.deliver, timeout=timedelta(seconds=5))
        ]

    @hookimpl
    def incidentkit_mitigation_actions(self) -> list[MitigationAction]:
        """Register the echo action."""
        return [
            MitigationAction(
                name="example_echo",
                params_type=EchoParams,
                execute=self.echo,
                description="Echo a message (an example action that changes nothing).",
                timeout=timedelta(seconds=5),
            )
        ]


plugin = ExamplePlugin()
"""The object the ``incidentkit`` entry point names."""
