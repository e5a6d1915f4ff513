"""The chat-command parser (pure) and its executor against a real kit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import incidentkit as ik
from incidentkit import chatops
from incidentkit.chatops import (
    Acknowledge,
    Assign,
    Declare,
    Help,
    Note,
    Resolve,
    SetSeverity,
    SetStatus,
    parse,
)
from incidentkit.errors import ValidationError
from incidentkit.serialization import converter

from ._helpers import RESOLUTION, make_kit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '/incident declare severity=1 "API returning 500 errors"',
            Declare("API returning 500 errors", ik.Severity.SEV1),
        ),
        (
            "declare sev=2 Checkout slow service=api,web",
            Declare("Checkout slow", ik.Severity.SEV2, ("api", "web")),
        ),
        ("ack", Acknowledge()),
        ("/incident ack INC-42", Acknowledge("INC-42")),
        ("assign @bob tl", Assign("bob", "technical_lead")),
        ("assign @carol comms INC-7", Assign("carol", "communications_lead", "INC-7")),
        ("assign dave incident_commander", Assign("dave", "incident_commander")),
        ("sev 2", SetSeverity(ik.Severity.SEV2)),
        (
            'sev SEV1 "customers affected" INC-9',
            SetSeverity(ik.Severity.SEV1, "customers affected", "INC-9"),
        ),
        (
            'status identified "Root cause: DB pool"',
            SetStatus(ik.PublicStatus.IDENTIFIED, "Root cause: DB pool"),
        ),
        ("note seeing 15% error rate", Note("seeing 15% error rate")),
        ('note "quoted \\"inner\\" text"', Note('quoted "inner" text')),
        ("note \u201ccurly quotes\u201d", Note("curly quotes")),
        ('resolve "pool size raised to 20"', Resolve("pool size raised to 20")),
        ("resolve", Resolve()),
        ("help", Help()),
        ("help assign", Help("assign")),
        ("", Help()),
        ("/incident", Help()),
        ("ACK", Acknowledge()),
    ],
)
def test_the_guides_commands_parse(text: str, expected: chatops.ChatCommand) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('declare "no severity"', "severity"),
        ("declare severity=9 x", "severity"),
        ("declare severity=1", "title"),
        ("declare severity=1 severity=2 x", "severity"),
        ("declare severity=1 x service=", "service"),
        ("assign @bob", "arguments"),
        ("assign @bob pilot", "role"),
        ("assign @ tl", "person"),
        ("sev", "severity"),
        ("sev high", "severity"),
        ("status", "status"),
        ('status fixed "x"', "status"),
        ('status resolved "x"', "status"),
        ("status identified", "message"),
        ("note", "text"),
        ('note "unterminated', "text"),
        ("ack now", "arguments"),
        ("frobnicate", "command"),
        ("help frobnicate", "command"),
        ("help a b", "arguments"),
        ("x" * 4001, "text"),
        ("note a\x00b", "text"),
    ],
)
def test_bad_commands_are_refused_naming_the_part(text: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(text)
    assert caught.value.field == field


def test_a_non_string_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        parse(42)  # type: ignore[arg-type]
    assert caught.value.field == "text"


WORDS = st.sampled_from(
    [
        "declare",
        "ack",
        "assign",
        "sev",
        "status",
        "note",
        "resolve",
        "help",
        "/incident",
        "severity=1",
        "sev=x",
        "service=",
        "@bob",
        "tl",
        "INC-1",
        '"',
        '\\"',
        "identified",
        "=",
        " ",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(WORDS, max_size=8).map(" ".join)))
def test_parse_never_raises_anything_but_a_validation_error(text: str) -> None:
    try:
        command = parse(text)
    except ValidationError as err:
        assert err.field
        return
    assert isinstance(
        command, Declare | Acknowledge | Assign | SetSeverity | SetStatus | Note | Resolve | Help
    )
    conv = converter()
    assert conv.structure(conv.unstructure(command), type(command)) == command


SAFE = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(
    lambda s: (
        s.strip() == s
        and s
        and '"' not in s
        and "\\" not in s
        and "\u201c" not in s
        and "\u201d" not in s
    )
)


def _quote(text: str) -> str:
    return '"' + text + '"'


@settings(max_examples=200, deadline=None)
@given(SAFE, st.sampled_from(list(ik.Severity)))
def test_a_quoted_title_comes_back_whole(title: str, severity: ik.Severity) -> None:
    parsed = parse(f"declare severity={severity.value[-1]} {_quote(title)}")
    assert parsed == Declare(" ".join([title]), severity)


@settings(max_examples=200, deadline=None)
@given(SAFE)
def test_a_quoted_note_comes_back_whole(text: str) -> None:
    assert parse(f"note {_quote(text)}") == Note(text)


def test_help_lists_every_command() -> None:
    lines = chatops.help_text()
    assert len(lines) == len(chatops.COMMANDS)
    assert all(line.startswith("/incident ") for line in lines)


def test_the_login_incident_runs_through_chat_commands() -> None:
    kit = make_kit()
    reply = chatops.execute(
        kit, parse('declare severity=1 "Login API returning 500 errors"'), by="alice"
    )
    assert reply.style is chatops.ReplyStyle.OK and reply.public
    iid = reply.incident_id
    assert iid is not None
    for text in ("ack", "assign @alice ic", "assign @bob tl", "note seeing 15% error rate"):
        assert chatops.execute(kit, parse(text), by="alice", incident_id=iid).style == "ok", text
    reply = chatops.execute(
        kit, parse('status identified "DB pool exhausted"'), by="alice", incident_id=iid
    )
    assert reply.style == "ok"
    state = kit.get(iid)
    assert (
        state.status is ik.Status.IDENTIFIED and state.public_status is ik.PublicStatus.IDENTIFIED
    )
    reply = chatops.execute(kit, parse('resolve "pool raised"'), by="alice", incident_id=iid)
    assert reply.style == "error" and reply.lines  # the resolution criteria are still open
    for item in RESOLUTION:
        kit.check(iid, "resolution", item, by="alice")
    reply = chatops.execute(kit, parse("sev 2"), by="alice", incident_id=iid)
    assert kit.get(iid).severity is ik.Severity.SEV2
    reply = chatops.execute(kit, parse('resolve "pool raised"'), by="alice", incident_id=iid)
    assert reply.style == "ok"
    assert kit.get(iid).status is ik.Status.RESOLVED
    assert kit.get(iid).resolution_summary == "pool raised"


def test_a_refused_command_is_an_error_reply_and_appends_nothing() -> None:
    kit = make_kit()
    iid = kit.declare("x", severity="SEV3", by="alice").id
    kit.assign_role(iid, "incident_commander", "alice", by="alice")
    before = kit.store.version(iid)
    # only the commander may assign roles once there is one
    reply = chatops.execute(kit, parse("assign @bob tl"), by="mallory", incident_id=iid)
    assert reply.style == "error" and "mallory" in reply.lines[0]
    reply = chatops.execute(kit, Assign("bob", "nonsense"), by="alice", incident_id=iid)
    assert reply.style == "error"
    assert chatops.execute(kit, parse("ack"), by="alice").style == "error"  # no incident
    assert chatops.execute(kit, parse("ack INC-missing"), by="alice").style == "error"
    assert kit.store.version(iid) == before


def test_help_needs_no_kit_state() -> None:
    kit = make_kit()
    reply = chatops.execute(kit, parse("help note"), by="alice")
    assert reply.style == "info" and reply.lines == (f"/incident {chatops.COMMANDS['note']}",)


def test_a_quoted_text_that_looks_like_an_id_stays_text() -> None:
    assert parse('note "INC-"') == Note("INC-")
    assert parse('note "INC-42"') == Note("INC-42")
    assert parse("note see INC-41 INC-42") == Note("see INC-41", "INC-42")
