"""Open each incident's Slack channel: an ``incidentkit_open_channel`` plugin.

:class:`SlackChannelOpener` creates the channel through Slack's Web API
(``conversations.create``), sets its topic to the incident's headline
(``conversations.setTopic``) and invites the configured user ids
(``conversations.invite``). It is idempotent: when the name is taken it finds
the existing channel with ``conversations.list`` and returns it. Stdlib HTTP
only; the bot token is passed in code::

    kit.plugins.register(SlackChannelOpener(token=os.environ["SLACK_BOT_TOKEN"]))

Slack errors become :class:`~incidentkit.errors.TransientFailure` (rate
limits with their ``Retry-After``, Slack's own outages, unreachable hosts),
so the delivery relay retries, or :class:`~incidentkit.errors.PermanentFailure`
(bad token, missing scope, any other refusal).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from incidentkit._http import check_url, parse_retry_after
from incidentkit.errors import PermanentFailure, TransientFailure, ValidationError
from incidentkit.incident import Incident
from incidentkit.plugins import hookimpl

__all__ = ["SLACK_API_URL", "SlackChannelOpener", "slack_channel_name", "slack_topic"]

SLACK_API_URL = "https://slack.com/api/"
"""The Web API base URL; each method is ``<base><method>``."""

_MAX_NAME = 80
_MAX_TOPIC = 250
_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_INVITE_OK = frozenset({"already_in_channel", "cant_invite_self"})
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def slack_channel_name(channel: str) -> str:
    """The Slack channel name for an incident's ``channel``.

    Lower-case, without the leading ``#``; characters Slack refuses become
    ``-`` (runs collapsed), at most 80 characters.

    >>> slack_channel_name("#incident-2024-11-20-API Returning 500s!")
    'incident-2024-11-20-api-returning-500s'

    :raises ValidationError: (field ``channel``) when nothing usable is left.
    """
    text = channel.strip().lstrip("#").lower()
    text = re.sub(r"[^a-z0-9_\-\u00c0-\uffff]+", "-", text)
    text = re.sub(r"-{2,}", "-", text).strip("-_")
    text = text[:_MAX_NAME].rstrip("-_")
    if not text:
        raise ValidationError("channel", f"no usable Slack channel name in {channel!r}")
    return text


def slack_topic(incident: Incident) -> str:
    """The channel topic: ``<id> [<severity>] <title>``, at most 250 characters."""
    topic = f"{incident.id} [{incident.severity}] {incident.title}"
    return topic if len(topic) <= _MAX_TOPIC else topic[: _MAX_TOPIC - 1] + "…"


class SlackChannelOpener:
    """The ``incidentkit_open_channel`` hook over Slack's Web API.

    :param token: the bot token (``xoxb-…``); needs ``channels:manage``
        (``groups:write`` for private channels), ``channels:read`` and
        ``channels:write.invites`` when ``invite`` is set.
    :param invite: Slack user ids (``U…``/``W…``) to invite to every channel.
    :param private: create private channels.
    :param api_url: the Web API base URL (a test server, a proxy).
    :param timeout: per-request timeout.
    :param clock: the current time, for ``Retry-After`` dates.
    :raises ValidationError: naming the bad setting.
    """

    def __init__(
        self,
        token: str,
        *,
        invite: Iterable[str] = (),
        private: bool = False,
        api_url: str = SLACK_API_URL,
        timeout: timedelta = timedelta(seconds=10),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ValidationError("token", "expected a non-empty Slack bot token")
        if any(ch.isspace() or not ch.isprintable() for ch in token):
            raise ValidationError("token", "the token holds spaces or control characters")
        if isinstance(invite, str):
            raise ValidationError("invite", "expected a list of user ids, not one string")
        users = tuple(invite)
        for index, user in enumerate(users):
            if not isinstance(user, str) or not _USER_ID.match(user):
                raise ValidationError(f"invite[{index}]", f"not a Slack user id: {user!r}")
        if not isinstance(private, bool):
            raise ValidationError("private", "expected true or false")
        check_url(api_url, "api_url")
        if not isinstance(timeout, timedelta) or timeout <= timedelta(0):
            raise ValidationError("timeout", "expected a positive timedelta")
        self._token = token
        self.invite = users
        self.private = private
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.timeout = timeout
        self._clock = clock

    def __repr__(self) -> str:  # never show the token
        return f"SlackChannelOpener(api_url={self.api_url!r}, invite={self.invite!r})"

    @hookimpl
    def incidentkit_open_channel(self, incident: Incident) -> str | None:
        """Create (or find) the incident's channel, set its topic, invite; return ``#name``."""
        name = slack_channel_name(incident.channel or incident.id)
        answer = self._call("conversations.create", {"name": name, "is_private": self.private})
        if answer.get("ok"):
            channel = answer["channel"]
        elif answer.get("error") == "name_taken":
            channel = self._find(name)
        else:
            raise self._refusal("conversations.create", answer)
        channel_id = str(channel["id"])
        self._check(
            "conversations.setTopic",
            self._call(
                "conversations.setTopic", {"channel": channel_id, "topic": slack_topic(incident)}
            ),
        )
        if self.invite:
            answer = self._call(
                "conversations.invite", {"channel": channel_id, "users": ",".join(self.invite)}
            )
            if not answer.get("ok") and answer.get("error") not in _INVITE_OK:
                raise self._refusal("conversations.invite", answer)
        return "#" + str(channel.get("name", name))

    def _find(self, name: str) -> Mapping[str, Any]:
        types = "private_channel" if self.private else "public_channel"
        cursor = ""
        while True:
            params: dict[str, Any] = {"types": types, "limit": 200, "exclude_archived": True}
            if cursor:
                params["cursor"] = cursor
            answer = self._check("conversations.list", self._call("conversations.list", params))
            for channel in answer.get("channels") or ():
                if isinstance(channel, Mapping) and channel.get("name") == name:
                    return channel
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                raise PermanentFailure(
                    f"Slack says #{name} is taken but conversations.list does not show it"
                    " (archived, or not visible to the bot)"
                )

    def _check(self, method: str, answer: Mapping[str, Any]) -> Mapping[str, Any]:
        if not answer.get("ok"):
            raise self._refusal(method, answer)
        return answer

    def _refusal(self, method: str, answer: Mapping[str, Any]) -> Exception:
        error = str(answer.get("error") or "unknown_error")
        if error in _TRANSIENT:
            return TransientFailure(f"Slack {method}: {error}")
        return PermanentFailure(f"Slack {method} refused: {error}")

    def _call(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        request = urllib.request.Request(
            self.api_url + method,
            data=json.dumps(params).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {self._token}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout.total_seconds()) as resp:
                body = resp.read()
        except urllib.error.HTTPError as err:
            status = err.code
            if status == 429 or status >= 500 or status == 408:
                raise TransientFailure(
                    f"Slack {method} answered HTTP {status}",
                    retry_after=parse_retry_after(
                        err.headers.get("Retry-After"), now=self._clock()
                    ),
                    status=status,
                ) from None
            raise PermanentFailure(f"Slack {method} refused the request: HTTP {status}") from None
        except OSError as err:
            raise TransientFailure(
                f"Slack {method} unreachable: {getattr(err, 'reason', err)}"
            ) from None
        try:
            answer = json.loads(body)
        except ValueError:
            raise PermanentFailure(f"Slack {method} answered something other than JSON") from None
        if not isinstance(answer, dict):
            raise PermanentFailure(f"Slack {method} answered something other than a JSON object")
        return answer
