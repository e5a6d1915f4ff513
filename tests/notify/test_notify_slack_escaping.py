"""Slack output escapes user text: no mention, channel ping or forged link gets through."""

from __future__ import annotations

import json
from collections.abc import Iterator

import attrs
from hypothesis import given
from hypothesis import strategies as st

from incidentkit.clock import ManualClock
from incidentkit.notify import Notification, SlackWebhookNotifier, slack_payload
from incidentkit.testing import SAMPLE_TIME, sample_notification

from .http_receiver import Receiver

T0 = SAMPLE_TIME
HOSTILE = "<!channel> <!here> <@U123> <#C42> <!subteam^S1> <https://evil.example|click> R&D &amp;"


def hostile(text: str = HOSTILE, **incident: object) -> Notification:
    note = sample_notification()
    ref = attrs.evolve(
        note.incident,
        title=text,
        commander=incident.get("commander", text),
        channel=incident.get("channel", text),
        url=incident.get("url"),
    )
    return attrs.evolve(note, incident=ref, text=text)


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_hostile_text_reaches_slack_escaped(receiver: Receiver) -> None:
    SlackWebhookNotifier(receiver.url, clock=ManualClock(T0)).deliver(hostile())
    [request] = receiver.requests
    payload = json.loads(request.body)
    for text in strings(payload):
        assert "<" not in text and ">" not in text, text  # no control sequence at all
        assert "& " not in text and not text.endswith("&"), text  # every & is an entity
    assert unescape(payload["blocks"][1]["text"]["text"]) == HOSTILE
    assert payload["text"] == "[SEV1] INC-1 " + _escaped(HOSTILE) + ": " + _escaped(HOSTILE)
    fields = [f["text"] for f in payload["blocks"][2]["fields"]]
    assert fields[2] == "*Incident commander*\n" + _escaped(HOSTILE)
    assert fields[3] == "*Channel*\n" + _escaped(HOSTILE)


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_a_hostile_url_cannot_break_out_of_the_link() -> None:
    note = hostile("t", url="https://x.example/a|<!channel> b>c&d=1")
    link = slack_payload(note, link=note.incident.url)["blocks"][2]["fields"][-1]["text"]
    assert link == "*Link*\n<https://x.example/a%7C%3C!channel%3E%20b%3Ec&amp;d=1|INC-1>"


def test_mrkdwn_user_text_is_verbatim() -> None:
    payload = slack_payload(hostile("plain @channel https://evil.example"))
    mrkdwn = [b["text"] for b in payload["blocks"] if b.get("text", {}).get("type") == "mrkdwn"]
    mrkdwn += [f for f in payload["blocks"][2]["fields"]]
    mrkdwn += payload["blocks"][3]["elements"]
    assert mrkdwn and all(obj["verbatim"] is True for obj in mrkdwn)


@given(st.text(max_size=200))
def test_any_text_round_trips_and_has_no_angle_brackets(text: str) -> None:
    payload = slack_payload(hostile(text))
    section = payload["blocks"][1]["text"]["text"]
    for value in strings(payload):
        assert "<" not in value and ">" not in value
    if len(text) < 2900:  # below the section limit, nothing is clipped
        assert unescape(section) == text
