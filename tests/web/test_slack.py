"""Slack's request signature (v0, timestamp window, constant time) and the slash commands."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest

import incidentkit as ik
from incidentkit.chatops import Reply, ReplyStyle
from incidentkit.errors import SignatureInvalid, ValidationError
from incidentkit.web.slack import blocks_for, slack_signature, verify_slack_signature

from ._helpers import RESOLUTION, T0, Gate, client, make_kit

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW_TS = str(int(T0.timestamp()))


def test_slacks_documented_example_verifies() -> None:
    # The example of Slack's "Verifying requests from Slack" page.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert slack_signature(SECRET, "1531420618", body) == signature
    at = ik.ManualClock(T0).now().replace(year=2018, month=7, day=12, hour=18, minute=36, second=58)
    verify_slack_signature(SECRET, timestamp="1531420618", signature=signature, body=body, now=at)


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "field"),
    [
        (None, "v0=00", b"x", "X-Slack-Request-Timestamp"),
        ("abc", "v0=00", b"x", "X-Slack-Request-Timestamp"),
        (str(int(T0.timestamp()) - 301), None, b"x", "X-Slack-Request-Timestamp"),
        (str(int(T0.timestamp()) + 301), None, b"x", "X-Slack-Request-Timestamp"),
        (NOW_TS, None, b"x", "X-Slack-Signature"),
        (NOW_TS, "sha256=abc", b"x", "X-Slack-Signature"),
        (NOW_TS, slack_signature(SECRET, NOW_TS, b"x"), b"y", "X-Slack-Signature"),
        (NOW_TS, slack_signature("other", NOW_TS, b"x"), b"x", "X-Slack-Signature"),
        (NOW_TS, "v0=\u00e9", b"x", "X-Slack-Signature"),
    ],
)
def test_forged_replayed_or_malformed_requests_are_refused(
    timestamp: str | None, signature: str | None, body: bytes, field: str
) -> None:
    with pytest.raises(SignatureInvalid) as caught:
        verify_slack_signature(SECRET, timestamp=timestamp, signature=signature, body=body, now=T0)
    assert caught.value.field == field


def test_the_window_is_inclusive_and_naive_now_is_refused() -> None:
    ts = str(int(T0.timestamp()) - 300)
    verify_slack_signature(
        SECRET, timestamp=ts, signature=slack_signature(SECRET, ts, b""), body=b"", now=T0
    )
    with pytest.raises(ValidationError) as caught:
        verify_slack_signature(
            SECRET, timestamp=ts, signature="v0=1", body=b"", now=T0.replace(tzinfo=None)
        )
    assert caught.value.field == "now"
    with pytest.raises(ValidationError):
        verify_slack_signature("", timestamp=ts, signature="v0=1", body=b"", now=T0)


def test_block_kit_replies_say_the_outcome_in_words() -> None:
    ok = blocks_for(Reply(ReplyStyle.OK, "INC-1 <resolved>", ("a & b",), public=True))
    assert ok["response_type"] == "in_channel"
    assert ok["text"] == "Done: INC-1 <resolved>"
    assert ok["blocks"][0]["type"] == "section"
    assert "&lt;resolved&gt;" in ok["blocks"][0]["text"]["text"]
    assert ok["blocks"][1]["text"]["text"] == "a &amp; b"
    err = blocks_for(Reply(ReplyStyle.ERROR, "nope"))
    assert err["response_type"] == "ephemeral" and err["text"].startswith("Refused")


def _send(c, fields: dict[str, str], *, at: int | None = None, secret: str = SECRET):  # type: ignore[no-untyped-def]
    body = urlencode(fields).encode()
    ts = str(at if at is not None else int(T0.timestamp()))
    return c.post(
        "/slack/commands",
        content=body,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": slack_signature(secret, ts, body),
        },
    )


def test_the_slash_command_endpoint_runs_the_login_incident() -> None:
    kit = make_kit()
    c = client(kit, slack_signing_secret=SECRET)
    reply = _send(
        c,
        {
            "command": "/incident",
            "user_name": "alice",
            "channel_name": "general",
            "text": 'declare severity=1 "Login API returning 500 errors"',
        },
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["response_type"] == "in_channel" and "declared" in body["text"]
    [summary] = kit.incidents()
    channel = kit.get(summary.incident_id).channel.lstrip("#")
    for text in ("ack", "assign @alice ic", "note seeing 15% errors"):
        answer = _send(c, {"user_name": "alice", "channel_name": channel, "text": text}).json()
        assert answer["text"].startswith("Done"), answer
    for item in RESOLUTION:
        kit.check(summary.incident_id, "resolution", item, by="alice")
    answer = _send(
        c, {"user_name": "alice", "channel_name": channel, "text": 'resolve "pool raised"'}
    )
    assert answer.json()["text"].startswith("Done")
    assert kit.get(summary.incident_id).status is ik.Status.RESOLVED


def test_bad_commands_answer_help_ephemerally() -> None:
    c = client(make_kit(), slack_signing_secret=SECRET)
    answer = _send(c, {"user_name": "alice", "text": "frobnicate"}).json()
    assert answer["response_type"] == "ephemeral" and "unknown command" in answer["text"]
    assert "/incident declare" in answer["blocks"][1]["text"]["text"]


def test_the_endpoint_refuses_unsigned_stale_and_unauthorized_requests() -> None:
    kit = make_kit()
    c = client(kit, slack_signing_secret=SECRET)
    fields = {"user_name": "alice", "text": 'declare severity=1 "x"'}
    assert _send(c, fields, secret="wrong").status_code == 401
    assert _send(c, fields, at=int((T0 - timedelta(minutes=6)).timestamp())).status_code == 401
    assert c.post("/slack/commands", content=b"text=ack").status_code == 401
    assert _send(c, {"text": "ack"}).status_code == 400  # no user
    denied = client(kit, Gate(refuse={"chatops"}), slack_signing_secret=SECRET)
    assert _send(denied, fields).status_code == 403
    assert kit.incidents() == []
    assert client(kit).post("/slack/commands", content=b"").status_code == 404  # not enabled
