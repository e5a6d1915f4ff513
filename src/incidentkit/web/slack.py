"""Slack slash commands: request signature verification and Block Kit replies.

Slack signs each request with the app's signing secret: the header
``X-Slack-Signature`` is ``v0=`` plus the hex HMAC-SHA256 of
``v0:<X-Slack-Request-Timestamp>:<raw body>``. A request older (or newer)
than :data:`SLACK_TOLERANCE` is refused as a replay. Both functions are pure.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from incidentkit._time import ensure_aware
from incidentkit.chatops import Reply, ReplyStyle
from incidentkit.errors import SignatureInvalid, ValidationError

__all__ = ["SLACK_TOLERANCE", "blocks_for", "slack_signature", "verify_slack_signature"]

SLACK_TOLERANCE = timedelta(minutes=5)
"""How far a request's timestamp may be from now (Slack's documented window)."""


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value for ``body`` sent at ``timestamp``."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def verify_slack_signature(
    signing_secret: str,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    tolerance: timedelta = SLACK_TOLERANCE,
) -> None:
    """Refuse a request Slack did not sign, or one outside the timestamp window.

    The comparison is constant-time (:func:`hmac.compare_digest`).

    :raises SignatureInvalid: naming ``X-Slack-Request-Timestamp`` (missing,
        not a number, outside the window) or ``X-Slack-Signature`` (missing,
        not ``v0=…``, wrong).
    :raises ValidationError: naming ``signing_secret`` when it is empty, or
        ``now`` when it is naive.
    """
    if not signing_secret:
        raise ValidationError("signing_secret", "is empty")
    now = ensure_aware(now, "now")
    if not timestamp:
        raise SignatureInvalid("X-Slack-Request-Timestamp", "missing")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureInvalid("X-Slack-Request-Timestamp", "not a Unix time in seconds")
    skew = abs(now.timestamp() - int(timestamp))
    if skew > tolerance.total_seconds():
        raise SignatureInvalid(
            "X-Slack-Request-Timestamp",
            f"{int(skew)} s from now, outside the {int(tolerance.total_seconds())} s window",
        )
    if not signature:
        raise SignatureInvalid("X-Slack-Signature", "missing")
    if not signature.startswith("v0="):
        raise SignatureInvalid("X-Slack-Signature", "expected 'v0=<hex>'")
    expected = slack_signature(signing_secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise SignatureInvalid("X-Slack-Signature", "does not match the body")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARK = {
    ReplyStyle.OK: ":white_check_mark:",
    ReplyStyle.ERROR: ":x:",
    ReplyStyle.INFO: ":information_source:",
}
_WORD = {ReplyStyle.OK: "Done", ReplyStyle.ERROR: "Refused", ReplyStyle.INFO: "Help"}


def blocks_for(reply: Reply) -> dict[str, Any]:
    """The slash-command response body: ``response_type``, fallback ``text`` and ``blocks``.

    Public replies go ``in_channel``, others are ``ephemeral``. The outcome is
    said in words as well as by the emoji.
    """
    title = f"{_MARK[reply.style]} *{_WORD[reply.style]}:* {_escape(reply.title)}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": title}}]
    if reply.lines:
        body = "\n".join(_escape(line) for line in reply.lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}})
    fallback = f"{_WORD[reply.style]}: {reply.title}"
    return {
        "response_type": "in_channel" if reply.public else "ephemeral",
        "text": fallback,
        "blocks": blocks,
    }
