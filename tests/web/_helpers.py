"""Shared helpers of the web tests: a kit, a client, the CSRF token and form posts."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

import incidentkit as ik
from incidentkit.testing import SAMPLE_TIME

warnings.filterwarnings("ignore", message=".*httpx2.*")

from starlette.testclient import TestClient  # noqa: E402

import incidentkit.web  # noqa: E402

T0 = SAMPLE_TIME
RESOLUTION = (
    "root-cause-identified",
    "symptoms-eliminated",
    "metrics-normal",
    "no-active-alerts",
    "fix-validated",
)


def make_kit(url: str = "memory://") -> ik.IncidentKit:
    return ik.IncidentKit.open(url, clock=ik.ManualClock(T0), autoload_plugins=False)


class Gate:
    """An ``authorize`` that records what it was asked and refuses the listed actions."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()
        self.asked: list[str] = []

    def __call__(self, request: Request, action: str) -> bool:
        self.asked.append(action)
        return action not in self.refuse


def client(
    kit: ik.IncidentKit,
    authorize: Callable[[Request, str], bool] | None = None,
    **options: Any,
) -> TestClient:
    web = incidentkit.web.app(kit, authorize=authorize or incidentkit.web.allow_all, **options)
    return TestClient(web, raise_server_exceptions=True)


def token(c: TestClient, path: str = "/") -> str:
    """Load a page so the CSRF cookie is set; return it."""
    response = c.get(path)
    assert response.status_code in (200, 404), response.text
    found = c.cookies.get("incidentkit_csrf")
    assert found
    return found


def post(c: TestClient, path: str, **fields: str) -> Any:
    fields.setdefault("csrf_token", token(c))
    return c.post(path, data=fields, follow_redirects=False)


def refused(text: str) -> list[str]:
    return re.findall(r"Refused:</strong>\s*([^<]*)", text)
