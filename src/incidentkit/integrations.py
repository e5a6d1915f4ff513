"""Notifiers and mitigation actions configured in the policy file.

A ``[notifiers.<name>]`` or ``[actions.<name>]`` table names a ``type``: a
built-in (notifiers ``slack``, ``webhook``, ``email``, ``log``; actions
``feature_flag``, ``rollback``, ``circuit_breaker``) or the name of an
installed plugin, which then receives the table through
``incidentkit_configure``. Secrets never sit in the file: ``url_env`` and
``secret_env`` name environment variables read when a kit starts.

.. code-block:: toml

    [notifiers.team-slack]
    type = "slack"
    url_env = "SLACK_WEBHOOK_URL"       # or url = "https://hooks.slack.com/…"
    kinds = ["page", "escalation"]
    audiences = ["responders"]

    [actions.feature_flag]
    type = "feature_flag"
    file = "flags.json"                 # relative to the policy file

A bad table is refused with :class:`~incidentkit.errors.PolicyError` naming
its key path (``$.notifiers.team-slack.url_env``) when the policy is loaded,
and a missing environment variable when the kit starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import tzinfo
from pathlib import Path
from typing import Any

import attrs

from incidentkit.clock import Clock
from incidentkit.errors import IncidentKitError, PolicyError, ValidationError
from incidentkit.mitigation import (
    CircuitBreakerAction,
    CircuitBreakerRegistry,
    FeatureFlagAction,
    JsonFileFlagClient,
    RollbackAction,
)
from incidentkit.notify import (
    EmailNotifier,
    LogNotifier,
    NotificationKind,
    SlackWebhookNotifier,
    WebhookNotifier,
)
from incidentkit.serialization import parse_duration

__all__ = [
    "ACTION_TYPES",
    "NOTIFIER_TYPES",
    "Integration",
    "build_integrations",
    "load_integrations",
]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_COMMON = frozenset({"type", "url", "url_env", "secret_env", "audiences", "kinds"})

NOTIFIER_TYPES: Mapping[str, frozenset[str]] = {
    "slack": frozenset({"link_template", "timeout", "max_attempts"}),
    "webhook": frozenset({"headers", "timeout", "max_attempts"}),
    "email": frozenset(
        {"host", "port", "sender", "recipients", "starttls", "username", "timeout", "max_attempts"}
    ),
    "log": frozenset({"timeout"}),
}
"""Built-in notifier types and the keys each takes besides the common ones."""

ACTION_TYPES: Mapping[str, frozenset[str]] = {
    "feature_flag": frozenset({"file", "timeout", "description"}),
    "rollback": frozenset({"command", "cwd", "timeout", "description"}),
    "circuit_breaker": frozenset(
        {
            "create_missing",
            "failure_threshold",
            "reset_timeout",
            "half_open_calls",
            "timeout",
            "description",
        }
    ),
}
"""Built-in mitigation action types and the keys each takes (``url``/``secret`` do not apply)."""


@attrs.frozen
class Integration:
    """One ``[notifiers.<name>]`` or ``[actions.<name>]`` table.

    ``type`` is a built-in type or an installed plugin's name; ``url`` or
    ``url_env`` (an environment variable holding the URL) and ``secret_env``
    (the variable holding the secret: a webhook's signing secret, an SMTP
    password); ``audiences`` and ``kinds`` limit what a notifier receives
    (empty: everything). ``options`` holds the type's own keys.
    """

    name: str
    type: str
    url: str | None = None
    url_env: str | None = None
    secret_env: str | None = None
    audiences: frozenset[str] = frozenset()
    kinds: frozenset[NotificationKind] = frozenset()
    options: Mapping[str, Any] = attrs.field(factory=dict, hash=False)


def _text_list(value: object, path: str, problems: list[tuple[str, str]]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append((path, "expected a list of non-empty strings"))
        return []
    return list(value)


def _one(
    section: str, name: str, table: object, source: str | None, problems: list[tuple[str, str]]
) -> Integration | None:
    path = f"$.{section}.{name}"
    if not isinstance(table, Mapping):
        problems.append((path, "expected a table"))
        return None
    if not name.strip() or name != name.strip():
        problems.append((path, "the name must not be blank or padded"))
    kind = table.get("type")
    if not isinstance(kind, str) or not kind.strip():
        problems.append((f"{path}.type", "required: a built-in type or an installed plugin's name"))
        return None
    builtins = NOTIFIER_TYPES if section == "notifiers" else ACTION_TYPES
    own = builtins.get(kind)
    if own is not None:
        allowed = (_COMMON if section == "notifiers" else {"type"}) | own
        for key in sorted(set(table) - allowed):
            problems.append((f"{path}.{key}", f"not a key of a {kind!r} {section[:-1]}"))
    for key in ("url", "url_env", "secret_env"):
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            problems.append((f"{path}.{key}", "expected a string"))
    for key in ("url_env", "secret_env"):
        value = table.get(key)
        if isinstance(value, str) and not _ENV_NAME.fullmatch(value):
            problems.append((f"{path}.{key}", "expected an environment variable name"))
    if "url" in table and "url_env" in table:
        problems.append((f"{path}.url_env", "give url or url_env, not both"))
    if kind in ("slack", "webhook") and "url" not in table and "url_env" not in table:
        problems.append((f"{path}.url", f"a {kind!r} notifier needs url or url_env"))
    audiences = _text_list(table.get("audiences", []), f"{path}.audiences", problems)
    kinds: set[NotificationKind] = set()
    for index, value in enumerate(_text_list(table.get("kinds", []), f"{path}.kinds", problems)):
        try:
            kinds.add(NotificationKind(value))
        except ValueError:
            known = ", ".join(k.value for k in NotificationKind)
            problems.append((f"{path}.kinds[{index}]", f"unknown kind {value!r} (known: {known})"))
    options = {k: v for k, v in table.items() if k not in _COMMON}
    for key in ("timeout", "reset_timeout"):
        if key in options:
            try:
                parse_duration(options[key], key)
            except ValidationError as err:
                problems.append((f"{path}.{key}", err.reason))
    if source is not None:
        for key in ("file", "cwd"):
            value = options.get(key)
            if isinstance(value, str) and not Path(value).is_absolute():
                options[key] = str(Path(source).parent / value)
    return Integration(
        name=name,
        type=kind,
        url=table.get("url"),
        url_env=table.get("url_env"),
        secret_env=table.get("secret_env"),
        audiences=frozenset(audiences),
        kinds=frozenset(kinds),
        options=options,
    )


def load_integrations(
    data: object, section: str, *, source: str | None = None
) -> tuple[Integration, ...]:
    """Parse the ``[notifiers]`` or ``[actions]`` table of a policy file.

    >>> [i.type for i in load_integrations({"pager": {"type": "log"}}, "notifiers")]
    ['log']
    >>> try:
    ...     load_integrations({"pager": {"type": "log", "colour": 1}}, "notifiers")
    ... except PolicyError as err:
    ...     err.problems
    (('$.notifiers.pager.colour', "not a key of a 'log' notifier"),)

    :raises PolicyError: naming each bad key path.
    """
    if section not in ("notifiers", "actions"):
        raise ValidationError("section", "expected 'notifiers' or 'actions'")
    if not isinstance(data, Mapping):
        raise PolicyError([(f"$.{section}", "expected a table of named tables")], source=source)
    problems: list[tuple[str, str]] = []
    found = [_one(section, str(name), table, source, problems) for name, table in data.items()]
    if problems:
        raise PolicyError(problems, source=source)
    return tuple(item for item in found if item is not None)


def _env(item: Integration, key: str, environ: Mapping[str, str], path: str) -> str | None:
    variable = getattr(item, key)
    if variable is None:
        return None
    value = environ.get(variable)
    if not value:
        raise PolicyError([(f"{path}.{key}", f"environment variable {variable} is not set")])
    return value


def _notifier(
    item: Integration,
    url: str | None,
    secret: str | None,
    clock: Clock | None,
    zone: tzinfo | None,
) -> object:
    options = dict(item.options)
    options.pop("type", None)
    for key in ("timeout",):
        if key in options:
            options[key] = parse_duration(options[key], key)
    common: dict[str, Any] = {"name": item.name, "kinds": item.kinds, "audiences": item.audiences}
    if item.type == "slack":
        return SlackWebhookNotifier(str(url), clock=clock, zone=zone, **common, **options)
    if item.type == "webhook":
        return WebhookNotifier(str(url), secret=secret, clock=clock, **common, **options)
    if item.type == "email":
        host, port = options.pop("host", None), options.pop("port", 25)
        return EmailNotifier(host, port, password=secret, zone=zone, **common, **options)
    return LogNotifier(**common, **options)


def _action(item: Integration) -> object:
    options = dict(item.options)
    options.pop("type", None)
    for key in ("timeout", "reset_timeout"):
        if key in options:
            options[key] = parse_duration(options[key], key)
    if item.type == "feature_flag":
        file = options.pop("file", None)
        if not isinstance(file, str) or not file:
            raise ValidationError("file", "a JSON file of flags is required")
        return FeatureFlagAction(JsonFileFlagClient(file), name=item.name, **options)
    if item.type == "rollback":
        command = options.pop("command", None)
        if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
            raise ValidationError("command", "expected a list of strings (the argv)")
        return RollbackAction(command, name=item.name, **options)
    registry_keys = ("failure_threshold", "reset_timeout", "half_open_calls")
    registry = CircuitBreakerRegistry(**{k: options.pop(k) for k in registry_keys if k in options})
    return CircuitBreakerAction(registry, name=item.name, **options)


def build_integrations(
    notifiers: tuple[Integration, ...],
    actions: tuple[Integration, ...],
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    zone: tzinfo | None = None,
) -> tuple[tuple[object, ...], dict[str, Mapping[str, object]]]:
    """The plugin objects of the built-in types, and the settings of installed plugins
    (plugin name → settings, delivered through ``incidentkit_configure``).

    Environment variables are read from ``environ`` (default ``os.environ``);
    Slack and e-mail messages show times in ``zone`` (the policy's zone).

    :raises PolicyError: naming the key path of a missing variable or a value
        the notifier or action refuses (``$.notifiers.slack.url``).
    """
    env = os.environ if environ is None else environ
    plugins: list[object] = []
    settings: dict[str, Mapping[str, object]] = {}
    for section, items in (("notifiers", notifiers), ("actions", actions)):
        for item in items:
            path = f"$.{section}.{item.name}"
            url = item.url or _env(item, "url_env", env, path)
            secret = _env(item, "secret_env", env, path)
            builtin = (NOTIFIER_TYPES if section == "notifiers" else ACTION_TYPES).get(item.type)
            if builtin is None:
                if item.type in settings:
                    raise PolicyError(
                        [(f"{path}.type", f"plugin {item.type!r} is configured twice")]
                    )
                settings[item.type] = {
                    "name": item.name,
                    "url": url,
                    "secret": secret,
                    "audiences": sorted(item.audiences),
                    "kinds": sorted(k.value for k in item.kinds),
                    **{k: v for k, v in item.options.items() if k != "type"},
                }
                continue
            try:
                if section == "notifiers":
                    plugins.append(_notifier(item, url, secret, clock, zone))
                else:
                    plugins.append(_action(item))
            except TypeError as err:
                raise PolicyError([(path, f"bad settings: {err}")]) from None
            except IncidentKitError as err:
                field = getattr(err, "field", None)
                reason = getattr(err, "reason", str(err))
                where = f"{path}.{field}" if isinstance(field, str) and field else path
                raise PolicyError([(where, reason)]) from None
    return tuple(plugins), settings
