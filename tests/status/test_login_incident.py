"""The guide's login incident renders its three status updates and its customer e-mail."""

from __future__ import annotations

from ._login import login_incident, make_kit

GUIDE_UPDATES = [
    """🔴 Investigating: Users may experience login failures

We are investigating reports of login failures affecting some users.
Our team is actively working on a resolution.

Last updated: 2024-11-20 14:35 PST""",
    """🟡 Identified: Database connection issues causing login failures

We have identified the root cause as database connection pool exhaustion.
Our team is implementing a fix.

Last updated: 2024-11-20 14:50 PST""",
    """🟢 Resolved: Login functionality restored

The issue has been resolved. All systems are operating normally.
We will continue to monitor closely.

Last updated: 2024-11-20 15:10 PST""",
]


def test_the_three_status_updates_render_as_in_the_guide() -> None:
    kit = make_kit()
    iid = login_incident(kit)
    ids = [u.id for u in kit.status.record(iid).updates]
    assert [kit.status.render_update(iid, u) for u in ids] == GUIDE_UPDATES
    assert kit.status.render_update(iid) == GUIDE_UPDATES[-1]


def test_the_customer_email_has_the_guides_facts() -> None:
    kit = make_kit()
    iid = login_incident(kit)
    report = kit.status.customer_report(iid)
    assert report.subject == "Incident Report - Login Service Interruption"
    text = report.text
    assert text.startswith(
        "Dear Valued Customer,\n\nOn November 20, 2024, between 14:30 and 15:10 PST, some users"
    )
    assert "identified the issue within 5 minutes" in text
    assert "deployed a fix within 40 minutes" in text
    assert "Approximately 15% of login attempts failed during this window." in text
    assert "contact support@example.com" in text
    assert text.endswith("Best regards,\nEngineering Team")
    # the same facts in another zone: the window moves, the durations do not
    berlin = kit.status.customer_report(iid, zone="Europe/Berlin").text
    assert "between 23:30 and 00:10 CET" not in berlin  # crosses midnight: the end names its day
    assert "between 23:30 and November 21, 2024 00:10 CET" in berlin
    assert "within 5 minutes" in berlin and "within 40 minutes" in berlin


def test_the_internal_channel_log() -> None:
    kit = make_kit()
    iid = login_incident(kit)
    lines = kit.status.channel_log(iid)
    assert lines[0] == "[14:30] @alice (IC): Incident declared - SEV1 - API returning 500 errors"
    assert "[14:32] @bob (TL): Checking dashboards... seeing 15% error rate" in lines
    assert "[14:35] @charlie (Comms): Status page updated" in lines
    assert "[15:10] @charlie (Comms): Status page updated to resolved" in lines
    assert "[15:10] @alice (IC): Declaring incident resolved" in lines
