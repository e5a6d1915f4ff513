"""Slack incoming-webhook notifier with Block Kit blocks."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterable
from datetime import timedelta, tzinfo
from typing import Any

from incidentkit._http import check_url, post
from incidentkit.clock import Clock, SystemClock
from incidentkit.errors import ValidationError
from incidentkit.notify._base import (
    NotifierPlugin,
    check_zone,
    local_time,
    message_body,
    subject_line,
)
from incidentkit.notify._model import Notification, NotificationKind

__all__ = ["SlackWebhookNotifier", "slack_payload"]

# Slack's documented limits: header text 150 chars, section text 3000, field text 2000.
_HEADER_MAX = 150
_TEXT_MAX = 3000
_FIELD_MAX = 2000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack asks (``&amp;``, ``&lt;``, ``&gt;``).

    After this no user text can form a control sequence: ``<!channel>``,
    ``<!here>``, ``<@U123>``, ``<#C123>``, ``<!subteam^S1>`` or a
    ``<url|text>`` link all render as the literal text.

    >>> _escape("<!channel> R&D <https://evil.example|click>")
    '&lt;!channel&gt; R&amp;D &lt;https://evil.example|click&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link_target(url: str) -> str:
    """A URL safe inside ``<url|text>``: ``|``, ``<``, ``>`` and spaces percent-encoded."""
    return urllib.parse.quote(url, safe="/:?#[]@!$&'()*+,;=%~-._").replace("&", "&amp;")


def _field(label: str, value: str) -> dict[str, object]:
    return {"type": "mrkdwn", "text": _clip(f"*{label}*\n{value}", _FIELD_MAX), "verbatim": True}


def slack_payload(
    notification: Notification, *, link: str | None = None, zone: tzinfo | None = None
) -> dict[str, Any]:
    """The incoming-webhook payload: fallback ``text`` plus header, section and context blocks.

    Every piece of user text (title, note, names, channel, key) is escaped
    (``&`` ``<`` ``>`` become ``&amp;`` ``&lt;`` ``&gt;``), so a title such
    as ``<!channel>`` cannot mention anyone or forge a link; ``verbatim``
    mrkdwn stops Slack from turning plain text into mentions or links.
    The text does not repeat the subject; who is paged and when (in ``zone``,
    default UTC) are fields of their own.

    >>> from datetime import datetime, timezone
    >>> from incidentkit.notify import IncidentRef, Notification, NotificationKind
    >>> from incidentkit.lifecycle import Status
    >>> from incidentkit.severity import Severity
    >>> note = Notification(
    ...     key="INC-7:1:slack", kind=NotificationKind.PAGE,
    ...     incident=IncidentRef("INC-7", "Checkout down", Severity.SEV1, Status.DECLARED,
    ...                          commander="alice", channel="#inc-7"),
    ...     text="SEV1 declared", created_at=datetime(2024, 11, 20, tzinfo=timezone.utc))
    >>> payload = slack_payload(note, link="https://status.example.com/INC-7")
    >>> [block["type"] for block in payload["blocks"]]
    ['header', 'section', 'section', 'context']
    >>> payload["blocks"][0]["text"]["text"]
    '[SEV1] INC-7 Checkout down'
    >>> payload["text"]
    '[SEV1] INC-7 Checkout down: SEV1 declared'
    """
    incident = notification.incident
    when = check_zone(zone)
    body = message_body(notification)
    fields = [
        _field("Severity", incident.severity.value),
        _field("Status", incident.status.value),
        _field("Incident commander", _escape(incident.commander or "unassigned")),
        _field("Channel", _escape(incident.channel or "-")),
        _field("When", local_time(notification, when)),
    ]
    if notification.targets:
        label = "Paged" if notification.kind is NotificationKind.PAGE else "For"
        fields.append(_field(label, _escape(", ".join(notification.targets))))
    if link:
        fields.append(_field("Link", f"<{_link_target(link)}|{_escape(incident.id)}>"))
    subject = _escape(subject_line(notification))
    return {
        "text": _clip(f"{subject}: {_escape(body)}", _TEXT_MAX),
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": _clip(subject, _HEADER_MAX),
                    "emoji": True,
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _clip(_escape(body), _TEXT_MAX),
                    "verbatim": True,
                },
            },
            {"type": "section", "fields": fields},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{notification.kind.value} · key `{_escape(notification.key)}`",
                        "verbatim": True,
                    }
                ],
            },
        ],
    }


class SlackWebhookNotifier(NotifierPlugin):
    """Post notifications to a Slack incoming webhook (``https://hooks.slack.com/...``).

    ``link_template`` builds the incident link when the incident carries no
    ``url``: ``"https://incidents.example.com/{id}"``; ``zone`` is the zone
    the message's times are shown in (default UTC). Slack answers 200
    ``ok``; 429 (with ``Retry-After``) and 5xx are retried; other 4xx
    (``invalid_payload``, ``channel_is_archived`` …) are permanent.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "slack",
        link_template: str | None = None,
        timeout: timedelta = timedelta(seconds=10),
        kinds: Iterable[NotificationKind | str] = (),
        audiences: Iterable[str] = (),
        max_attempts: int = 8,
        clock: Clock | None = None,
        zone: tzinfo | None = None,
    ) -> None:
        super().__init__(
            name=name, kinds=kinds, audiences=audiences, timeout=timeout, max_attempts=max_attempts
        )
        self.url = check_url(url)
        if link_template is not None:
            try:
                check_url(link_template.format(id="INC-1"), "link_template")
            except (KeyError, IndexError, ValueError, AttributeError) as err:
                if isinstance(err, ValidationError):
                    raise
                raise ValidationError(
                    "link_template", f"use '{{id}}' as the only placeholder ({err!r})"
                ) from None
        self.link_template = link_template
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.zone = check_zone(zone)

    def link(self, notification: Notification) -> str | None:
        """The incident's URL, or ``link_template`` filled with its id, or ``None``."""
        if notification.incident.url:
            return notification.incident.url
        if self.link_template:
            return self.link_template.format(id=notification.incident.id)
        return None

    def deliver(self, notification: Notification) -> None:
        """POST the Block Kit payload to the webhook."""
        payload = slack_payload(notification, link=self.link(notification), zone=self.zone)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        post(
            self.url,
            body,
            {"Content-Type": "application/json; charset=utf-8"},
            timeout=self.timeout,
            now=self.clock.now(),
            what=f"slack webhook {self.name}",
        )
