"""Alert intake endpoints: Alertmanager, Grafana and PagerDuty Events v2 receivers.

Thin routes over ``kit.alerts.ingest``: the body goes to the named adapter,
the answer is what the senders expect (202 with the dedup key; 400 with every
problem, by key path). Optional verification: a shared secret
(``Authorization: Bearer <secret>``, what Alertmanager's ``http_config`` and
Grafana's webhook contact point send) and/or an HMAC-SHA256 of the body in a
header (``sha256=<hex>`` or bare hex). A refused request answers 401 and
records nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from incidentkit.errors import (
    ConcurrencyConflict,
    IncidentKitError,
    NotFound,
    PayloadInvalid,
    SignatureInvalid,
    ValidationError,
)
from incidentkit.intake.adapters import MAX_PAYLOAD_BYTES
from incidentkit.intake.section import error_response

if TYPE_CHECKING:
    from incidentkit.kit import IncidentKit

__all__ = ["RECEIVERS", "SIGNATURE_HEADER", "alerts_app", "sign"]

RECEIVERS = {
    "/alertmanager": "alertmanager",
    "/grafana": "grafana",
    "/pagerduty": "pagerduty",
    "/v2/enqueue": "pagerduty",
}
"""Path → adapter (``/v2/enqueue`` is the PagerDuty Events API's own path)."""

SIGNATURE_HEADER = "X-Incidentkit-Signature"
"""The default header carrying the body's HMAC-SHA256."""


def sign(key: str | bytes, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    raw = key.encode() if isinstance(key, str) else key
    return "sha256=" + hmac.new(raw, body, hashlib.sha256).hexdigest()


def _refused(reason: str, field: str) -> JSONResponse:
    return JSONResponse(
        {"status": "unauthorized", "message": reason, "errors": [f"{field}: {reason}"]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="incidentkit alerts"'},
    )


class _Receiver:
    def __init__(
        self,
        kit: IncidentKit,
        secret: str | None,
        hmac_key: bytes | None,
        signature_header: str,
    ) -> None:
        self.kit = kit
        self.secret = secret
        self.hmac_key = hmac_key
        self.header = signature_header

    def verify(self, request: Request, body: bytes) -> None:
        if self.secret is not None:
            given = request.headers.get("authorization", "")
            scheme, _, credentials = given.partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(
                credentials.strip().encode("utf-8", "replace"), self.secret.encode()
            ):
                raise SignatureInvalid("Authorization", "missing or wrong shared secret")
        if self.hmac_key is not None:
            given = request.headers.get(self.header, "").strip()
            if not given:
                raise SignatureInvalid(self.header, "missing HMAC-SHA256 signature")
            expected = sign(self.hmac_key, body)
            if not given.startswith("sha256="):
                given = "sha256=" + given
            if not secrets.compare_digest(
                given.lower().encode("ascii", "replace"), expected.encode()
            ):
                raise SignatureInvalid(self.header, "signature does not match the body")

    async def receive(self, request: Request, adapter: str) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_PAYLOAD_BYTES):
            return JSONResponse(
                error_response(
                    PayloadInvalid(adapter, [("$", f"larger than {MAX_PAYLOAD_BYTES} bytes")])
                ),
                status_code=413,
            )
        body = await request.body()
        try:
            self.verify(request, body)
        except SignatureInvalid as err:
            return _refused(err.reason, err.field)
        try:
            result = await run_in_threadpool(self.kit.alerts.ingest, body, adapter)
        except PayloadInvalid as err:
            return JSONResponse(error_response(err), status_code=400)
        except (ValidationError, NotFound) as err:
            return JSONResponse(error_response(_as_payload(err, adapter)), status_code=400)
        except ConcurrencyConflict as err:
            return JSONResponse(
                {"status": "retry", "message": str(err)},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        return JSONResponse(result.response(), status_code=result.http_status)


def _as_payload(err: IncidentKitError, adapter: str) -> PayloadInvalid:
    field = getattr(err, "field", "$")
    reason = getattr(err, "reason", str(err))
    return PayloadInvalid(adapter, [(str(field), str(reason))])


def _endpoint(receiver: _Receiver, adapter: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await receiver.receive(request, adapter)

    return endpoint


def alerts_app(
    kit: IncidentKit,
    *,
    secret: str | None = None,
    hmac_key: str | bytes | None = None,
    signature_header: str = SIGNATURE_HEADER,
    debug: bool = False,
) -> Starlette:
    """The alert receivers as an ASGI app (mount it, e.g. under ``/alerts``).

    ``POST /alertmanager`` (webhook v4), ``POST /grafana``, ``POST /pagerduty``
    and ``POST /v2/enqueue`` (PagerDuty Events API v2) answer 202 with
    :meth:`~incidentkit.intake.section.IngestResult.response` (``dedup_key``
    and the incidents touched), 400 with
    :func:`~incidentkit.intake.section.error_response` (every problem), 401
    when verification fails, 413 above the payload limit.

    :param secret: require ``Authorization: Bearer <secret>``.
    :param hmac_key: require ``signature_header: sha256=<hex HMAC-SHA256 of the body>``
        (see :func:`sign`).
    :raises ValidationError: naming ``secret``, ``hmac_key`` or ``signature_header``
        when empty or not text.
    """
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ValidationError("secret", "expected a non-empty string")
    key: bytes | None = None
    if hmac_key is not None:
        if isinstance(hmac_key, str):
            key = hmac_key.encode()
        elif isinstance(hmac_key, bytes):
            key = hmac_key
        else:
            raise ValidationError("hmac_key", "expected str or bytes")
        if not key:
            raise ValidationError("hmac_key", "is empty")
    if not isinstance(signature_header, str) or not signature_header.strip():
        raise ValidationError("signature_header", "expected a header name")
    receiver = _Receiver(kit, secret, key, signature_header)
    routes = [
        Route(path, _endpoint(receiver, adapter), methods=["POST"])
        for path, adapter in RECEIVERS.items()
    ]
    handlers: dict[Any, Any] = {}
    web = Starlette(debug=debug, routes=routes, exception_handlers=handlers)
    web.state.kit = kit
    return web
