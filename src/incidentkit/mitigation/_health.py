"""An HTTP health check usable as the ``verify`` of any mitigation action."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Container
from datetime import timedelta

from incidentkit._http import check_url
from incidentkit.errors import ValidationError
from incidentkit.mitigation._model import MitigationContext, MitigationResult

__all__ = ["HttpHealthCheck"]


class HttpHealthCheck:
    """GET ``url`` and expect a status in ``expect`` (2xx by default) within ``timeout``.

    Pass it as ``verify=`` to any action: after a rollback, the action only
    counts as verified once the service answers healthy. ``attempts`` and
    ``interval`` give a service time to recover (the checks run on the
    delivery pool, bounded by the action's timeout). Returns an ``applied``
    result when healthy and a ``failed`` one (status or error in ``detail``)
    otherwise; it never raises for an unhealthy service.

    >>> import sys
    >>> from incidentkit.mitigation import RollbackAction
    >>> check = HttpHealthCheck("https://api.example.com/health")
    >>> rollback = RollbackAction([sys.executable, "-c", "pass"], verify=check)
    >>> rollback.action().verify is check
    True
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: timedelta = timedelta(seconds=5),
        expect: Container[int] | Callable[[int], bool] = range(200, 300),
        attempts: int = 1,
        interval: timedelta = timedelta(seconds=2),
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = check_url(url)
        if not isinstance(timeout, timedelta) or timeout <= timedelta(0):
            raise ValidationError("timeout", "expected a positive timedelta")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValidationError("attempts", f"must be an integer >= 1, got {attempts!r}")
        if not isinstance(interval, timedelta) or interval < timedelta(0):
            raise ValidationError("interval", "expected a non-negative timedelta")
        self.timeout = timeout
        self.expect = expect
        self.attempts = attempts
        self.interval = interval
        self.headers = dict(headers or {})

    def _ok(self, status: int) -> bool:
        if callable(self.expect):
            return bool(self.expect(status))
        return status in self.expect

    def probe(self) -> tuple[int | None, str]:
        """One GET: the status (``None`` when there was no response) and a description."""
        request = urllib.request.Request(self.url, method="GET", headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout.total_seconds()) as response:
                response.read(1024)
                return int(response.status), f"HTTP {response.status}"
        except urllib.error.HTTPError as err:
            return err.code, f"HTTP {err.code}"
        except OSError as err:
            return None, f"no response: {getattr(err, 'reason', err)}"

    def __call__(self, context: MitigationContext, params: object) -> MitigationResult:
        """Probe up to ``attempts`` times; applied on the first expected status."""
        described = "no attempt"
        for attempt in range(1, self.attempts + 1):
            status, described = self.probe()
            if status is not None and self._ok(status):
                return MitigationResult.applied(
                    f"GET {self.url} -> {described}", url=self.url, status=str(status)
                )
            if attempt < self.attempts:
                time.sleep(self.interval.total_seconds())
        return MitigationResult.failed(
            f"GET {self.url} unhealthy after {self.attempts} attempt(s): {described}",
            url=self.url,
        )

    def __repr__(self) -> str:
        return f"HttpHealthCheck({self.url!r})"
