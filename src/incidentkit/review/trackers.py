"""Action-item trackers: where follow-ups live after the review (Jira, Linear, GitHub …).

A tracker is a plugin: an object whose ``incidentkit_action_item_trackers``
hook returns one or more :class:`ActionItemTracker`. The review capability
writes one outbox row per action item change; ``deliver()`` hands it to the
tracker, which creates the issue (idempotent by ``key``: asked again with the
same key, it returns the issue it made) or updates it, and the external
reference is recorded on the timeline. Two built-ins:
:class:`JsonFileTracker` (a JSON file) and :class:`GitHubIssuesTracker`
(GitHub's REST issues API, or anything that speaks it).
"""

from __future__ import annotations

import abc
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from incidentkit.errors import PermanentFailure, TransientFailure
from incidentkit.plugins import hookimpl
from incidentkit.review.model import ActionItem, ActionStatus, ExternalRef

__all__ = ["ActionItemTracker", "GitHubIssuesTracker", "JsonFileTracker"]


class ActionItemTracker(abc.ABC):
    """An issue tracker that holds action items; subclass it and register the instance.

    ``name`` is what the policy's ``[review] tracker`` names.
    """

    name: str = "tracker"

    @abc.abstractmethod
    def create(self, item: ActionItem, incident_id: str, key: str) -> ExternalRef:
        """Create the issue of ``item`` or, if one exists for ``key``, return it."""

    @abc.abstractmethod
    def update(self, item: ActionItem, ref: ExternalRef) -> None:
        """Bring the issue at ``ref`` up to date (status, owner, due date); close it when done."""

    @hookimpl
    def incidentkit_action_item_trackers(self) -> Sequence[ActionItemTracker]:
        """Register this tracker."""
        return [self]


def _body(item: ActionItem, incident_id: str, key: str) -> str:
    return (
        f"Action item {item.id} of {incident_id} ({item.priority.value}, {item.type.value}), "
        f"owner @{item.owner}, due {item.due.isoformat()}.\n\n<!-- incidentkit:{key} -->"
    )


class JsonFileTracker(ActionItemTracker):
    """Keeps action items in one JSON file, keyed by the idempotency key (written atomically)."""

    def __init__(self, path: str | Path, *, name: str = "json") -> None:
        self.path = Path(path)
        self.name = name

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def _write(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tracker-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    def create(self, item: ActionItem, incident_id: str, key: str) -> ExternalRef:
        data = self._read()
        if key not in data:
            data[key] = {
                "number": len(data) + 1,
                "incident": incident_id,
                "title": item.title,
                "owner": item.owner,
                "priority": item.priority.value,
                "type": item.type.value,
                "due": item.due.isoformat(),
                "status": item.status.value,
            }
            self._write(data)
        return ExternalRef(self.name, str(data[key]["number"]), f"{self.path.as_uri()}#{key}")

    def update(self, item: ActionItem, ref: ExternalRef) -> None:
        data = self._read()
        for entry in data.values():
            if str(entry["number"]) == ref.key:
                entry.update(
                    title=item.title, owner=item.owner, status=item.status.value, reason=item.reason
                )
                self._write(data)
                return
        raise PermanentFailure(f"{self.path}: no action item #{ref.key}")


class GitHubIssuesTracker(ActionItemTracker):
    """GitHub issues over its REST API (``api_url`` may be GitHub Enterprise or a test server).

    Creation is idempotent: the issue body carries ``<!-- incidentkit:<key> -->``
    and an existing issue with that marker is returned instead of a new one.
    """

    def __init__(
        self,
        repo: str,
        *,
        token: str | None = None,
        api_url: str = "https://api.github.com",
        name: str = "github",
        timeout: float = 10.0,
    ) -> None:
        self.repo = repo
        self.token = token
        self.api_url = api_url.rstrip("/")
        self.name = name
        self.timeout = timeout

    def _call(self, method: str, path: str, body: object | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api_url}/repos/{self.repo}{path}", data=data, method=method
        )
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            if err.code in (408, 429) or err.code >= 500:
                raise TransientFailure(f"GitHub answered {err.code}") from err
            raise PermanentFailure(f"GitHub answered {err.code}") from err
        except (urllib.error.URLError, TimeoutError) as err:
            raise TransientFailure(f"GitHub unreachable: {err}") from err

    def create(self, item: ActionItem, incident_id: str, key: str) -> ExternalRef:
        marker = f"<!-- incidentkit:{key} -->"
        existing = self._call("GET", "/issues?state=all&per_page=100")
        for issue in existing or []:
            if marker in (issue.get("body") or ""):
                return ExternalRef(self.name, str(issue["number"]), issue.get("html_url", ""))
        issue = self._call(
            "POST",
            "/issues",
            {
                "title": item.title,
                "body": _body(item, incident_id, key),
                "assignees": [item.owner],
                "labels": ["incident-follow-up", item.priority.value],
            },
        )
        return ExternalRef(self.name, str(issue["number"]), issue.get("html_url", ""))

    def update(self, item: ActionItem, ref: ExternalRef) -> None:
        closed = item.status in (ActionStatus.DONE, ActionStatus.WONT_DO)
        body: dict[str, Any] = {"title": item.title, "state": "closed" if closed else "open"}
        if closed:
            body["state_reason"] = (
                "completed" if item.status is ActionStatus.DONE else "not_planned"
            )
        self._call("PATCH", f"/issues/{ref.key}", body)
