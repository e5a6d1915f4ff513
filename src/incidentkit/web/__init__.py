"""The mountable web apps: the dashboard and chat-ops, the public status page, alert intake.

Install the extra (``pip install 'incidentkit[web]'``; ``incidentkit[serve]``
adds uvicorn for ``incidentkit serve``) and mount the app where you like::

    from starlette.applications import Starlette
    from starlette.routing import Mount
    import incidentkit.web

    host = Starlette(routes=[Mount("/incidents", incidentkit.web.app(kit, authorize=can))])

The host owns authentication: ``authorize(request, action)`` answers whether
the request may do ``action`` (:data:`READ` for every page, else the
command's name as the ``incidentkit_authorize`` hook sees it:
``"declare"``, ``"acknowledge"``, ``"assign_role"``, ``"add_note"``,
``"post_update"``, ``"check"``, ``"resolve"``, and ``"chatops"`` for a Slack
slash command). Every form is CSRF-protected (a double-submit token) and
every command still passes the kit's own rules. Links and static files carry
the mount prefix (``root_path``).

:func:`public_app` is the public status page (its own app, to expose alone)
and :func:`alerts_app` the Alertmanager, Grafana and PagerDuty Events v2
receivers over ``kit.alerts``.

Importing :mod:`incidentkit` never imports this package, and importing this
package imports Starlette only when one of the web names is first used (so
the ``incidentkit serve`` parser costs the core CLI nothing); without the
extra that first use raises :class:`~incidentkit.errors.MissingExtra`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from incidentkit.errors import MissingExtra
from incidentkit.web._cli import add_serve_parser, run_serve

if TYPE_CHECKING:
    from incidentkit.web._alerts import alerts_app, sign
    from incidentkit.web._app import (
        ACTIONS,
        COMMAND_ACTIONS,
        READ,
        Actor,
        Authorize,
        allow_all,
        app,
    )
    from incidentkit.web._public import public_app

__all__ = [
    "ACTIONS",
    "COMMAND_ACTIONS",
    "READ",
    "Actor",
    "Authorize",
    "add_serve_parser",
    "alerts_app",
    "allow_all",
    "app",
    "public_app",
    "run_serve",
    "sign",
]

_LAZY = {
    **dict.fromkeys(
        ("ACTIONS", "COMMAND_ACTIONS", "READ", "Actor", "Authorize", "allow_all", "app"), "_app"
    ),
    "public_app": "_public",
    "alerts_app": "_alerts",
    "sign": "_alerts",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'incidentkit.web' has no attribute {name!r}")
    try:
        module = importlib.import_module(f"incidentkit.web.{_LAZY[name]}")
    except ImportError as err:
        if err.name in ("starlette", "jinja2", "multipart", "python_multipart"):
            raise MissingExtra(err.name, "web", "incidentkit.web") from err
        raise
    value = getattr(module, name)
    globals()[name] = value
    return value
