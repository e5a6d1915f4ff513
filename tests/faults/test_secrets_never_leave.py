"""Secrets never leave: run failing operations and grep everything they emit.

Each scenario holds a unique secret (a store password, a webhook signing
secret, an SMTP password), makes something fail (bad host, bad database, a
malformed DSN, an unreachable SMTP server or webhook), and then searches the
exception text, ``repr`` and formatted traceback (with its chain), the log
records captured at DEBUG, the CLI's stdout and stderr, the outbox rows and
the timeline payloads for it.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import traceback
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from incidentkit import cli
from incidentkit.clock import ManualClock
from incidentkit.errors import IncidentKitError, ValidationError
from incidentkit.kit import IncidentKit
from incidentkit.notify import EmailNotifier, SlackWebhookNotifier, WebhookNotifier
from incidentkit.store import MemoryStore, mask_url
from incidentkit.store.sqlite import SqliteStore
from incidentkit.testing import SAMPLE_TIME, sample_notification

T0 = SAMPLE_TIME
PG_SECRET = "Pg-S3cret-7f1e9"
HOOK_SECRET = "whsec-S3cret-b2c4"
SMTP_SECRET = "smtp-S3cret-a9d0"
POSTGRES_DSN_ENV = "INCIDENTKIT_TEST_POSTGRES_DSN"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def emitted(err: BaseException) -> str:
    """Everything an exception can show: text, repr, the formatted chain, every link's args."""
    parts = [str(err), repr(err), "".join(traceback.format_exception(err))]
    seen: BaseException | None = err
    for _ in range(16):
        if seen is None:
            break
        parts += [repr(seen.args), repr(vars(seen)) if hasattr(seen, "__dict__") else ""]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    caplog.set_level(logging.DEBUG)  # root and every library logger (psycopg, pool)
    yield lambda: caplog.text + "\n".join(repr(r.args) for r in caplog.records)


def run_cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


# -- the one masking helper ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://app:s3@cr:et@db:5432/x", "postgresql://app:***@db:5432/x"),
        ("postgres://app:s%40c@db/x?sslmode=require", "postgres://app:***@db/x?sslmode=require"),
        ("postgresql://db/x?user=a&password=s3&x=1", "postgresql://db/x?user=a&password=***&x=1"),
        ("postgresql://db/x?sslpassword=s3", "postgresql://db/x?sslpassword=***"),
        ("host=db password='a b\\' c' user=u", "host=db password=*** user=u"),
        ("host=db PASSWORD = s3 user=u", "host=db PASSWORD = *** user=u"),
        ("memory://u:s3@x", "memory://u:***@x"),
        ("acme://tok:s3@api/x?token=s3", "acme://tok:***@api/x?token=***"),
        ("postgresql://app@db/x", "postgresql://app@db/x"),
        ("sqlite:///var/lib/a.db", "sqlite:///var/lib/a.db"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_every_store_shows_its_url_masked() -> None:
    store = MemoryStore(f"memory://ops:{PG_SECRET}@here")
    assert PG_SECRET not in repr(store) + store.url


# -- PostgreSQL: failing connections ---------------------------------------------------------------


@pytest.fixture
def server() -> str:
    """host:port of the test PostgreSQL server (trust auth: any password is accepted)."""
    dsn = os.environ.get(POSTGRES_DSN_ENV, "").strip()
    if not dsn:
        pytest.skip(f"{POSTGRES_DSN_ENV} is not set")
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    return f"{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}"


def failing_dsns(server: str) -> list[str]:
    return [
        f"postgresql://postgres:{PG_SECRET}@{server}/no_such_db_x1",  # bad database
        f"postgresql://no_such_role_x1:{PG_SECRET}@{server}/test",  # bad user
        f"postgresql://postgres:{PG_SECRET}@no-such-host.invalid:5432/test",  # bad host
        f"postgresql://postgres:{PG_SECRET}@127.0.0.1:{_closed_port()}/test",  # nothing listens
        f"postgresql://postgres:{PG_SECRET}%zz@{server}/test",  # malformed: the driver quotes it
        f"postgresql://{server}/no_such_db_x1?user=postgres&password={PG_SECRET}",
        f"host=127.0.0.1 port={_closed_port()} password={PG_SECRET} dbname=test",
        f"host=127.0.0.1 password='{PG_SECRET} x' dbname=test bogus=1",
    ]


def test_postgres_connection_failures_never_show_the_password(
    server: str, everything_logged: Callable[[], str]
) -> None:
    from incidentkit.store.postgres import PostgresStore

    for dsn in failing_dsns(server):
        for opener in (
            lambda d: PostgresStore(d),
            lambda d: IncidentKit.open(d, autoload_plugins=False),
        ):
            with pytest.raises(IncidentKitError) as caught:
                opener(dsn)
            text = emitted(caught.value)
            assert PG_SECRET not in text, (dsn, text)
            assert "***" in str(caught.value) or "cannot" in str(caught.value), text
    assert PG_SECRET not in everything_logged()


def test_postgres_pool_failure_never_shows_the_password(
    server: str, everything_logged: Callable[[], str]
) -> None:
    from incidentkit.store.postgres import PostgresStore

    dsn = f"postgresql://postgres:{PG_SECRET}@{server}/no_such_db_x1?connect_timeout=2"
    with pytest.raises(IncidentKitError) as caught:
        PostgresStore(dsn, pool=True, min_size=1)
    assert PG_SECRET not in emitted(caught.value)
    assert PG_SECRET not in everything_logged()


def test_a_working_postgres_store_masks_its_password(server: str) -> None:
    from incidentkit.store.postgres import PostgresStore

    store = PostgresStore(f"postgresql://postgres:{PG_SECRET}@{server}/test")
    try:
        assert PG_SECRET not in repr(store) + store.url
        assert store.url == f"postgresql://postgres:***@{server}/test"
    finally:
        store.close()


def test_the_cli_never_prints_the_password(server: str) -> None:
    for dsn in failing_dsns(server):
        code, output = run_cli("--db", dsn, "list")
        assert code in (1, 2), output
        assert PG_SECRET not in output, output
        assert output.startswith("incidentkit: error:") and "Traceback" not in output


# -- store URLs every store and the plugin manager see -------------------------------------------


class QuotingStorePlugin:
    """A third-party store plugin whose errors quote the URL (as many would)."""

    from incidentkit import hookimpl

    @hookimpl
    def incidentkit_store(self, url: str) -> None:
        if url.startswith("acme://"):
            raise ValueError(f"cannot reach {url}")


@pytest.mark.parametrize(
    "url",
    [
        f"acme://ops:{PG_SECRET}@api.example/incidents",
        f"acme://api.example/incidents?token={PG_SECRET}",
        f"sqlite://ops:{PG_SECRET}@host/x.db",
        f"host=db password={PG_SECRET}",
        f"nosuch://ops:{PG_SECRET}@x",
    ],
)
def test_open_store_errors_never_show_the_password(
    url: str, everything_logged: Callable[[], str]
) -> None:
    with pytest.raises(IncidentKitError) as caught:
        IncidentKit.open(url, plugins=[QuotingStorePlugin()], autoload_plugins=False)
    assert PG_SECRET not in emitted(caught.value)
    assert PG_SECRET not in everything_logged()
    code, output = run_cli("--db", url, "list")
    assert code in (1, 2) and PG_SECRET not in output


def test_sqlite_url_errors_are_masked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        SqliteStore(f"sqlite://ops:{PG_SECRET}@nowhere")
    assert PG_SECRET not in emitted(caught.value)


# -- notifier secrets: never in repr, errors, outbox rows or the timeline ------------------------


def _kit(tmp_path: Path, clock: ManualClock, *plugins: object) -> IncidentKit:
    kit = IncidentKit(
        store=SqliteStore(tmp_path / "leak.db"),
        clock=clock,
        plugins=list(plugins),
        autoload_plugins=False,
    )
    kit.store.migrate()
    return kit


def _everything_stored(kit: IncidentKit, incident_id: str) -> str:
    rows = kit.store.outbox()
    timeline = kit.timeline(incident_id)
    return "\n".join(
        [repr(row) for row in rows]
        + [row.payload + (row.last_error or "") for row in rows]
        + [repr(record) for record in timeline]
        + [stored.payload for stored in kit.store.load(incident_id)]
        + [repr(kit.summary(incident_id)), repr(kit.get(incident_id))]
    )


def test_an_unreachable_smtp_server_never_shows_the_password(
    tmp_path: Path, everything_logged: Callable[[], str]
) -> None:
    mail = EmailNotifier(
        "127.0.0.1",
        _closed_port(),
        sender="incidents@example.com",
        recipients=["oncall@example.com"],
        username="incidentkit",
        password=SMTP_SECRET,
        timeout=timedelta(seconds=5),
        max_attempts=2,
    )
    assert SMTP_SECRET not in repr(mail) + str(vars(mail).get("username"))
    clock = ManualClock(T0)
    kit = _kit(tmp_path, clock, mail)
    with kit:
        inc = kit.declare("API 500s", severity="SEV1", by="alice", incident_id="INC-1")
        for _ in range(3):
            kit.deliver()
            clock.advance(timedelta(minutes=15))
        assert any(r.event.tag == "notification_failed" for r in kit.timeline(inc.id))
        stored = _everything_stored(kit, inc.id)
        assert "SMTP 127.0.0.1" in stored  # the failure is recorded, with its reason
        assert SMTP_SECRET not in stored
        with pytest.raises(Exception) as caught:
            mail.deliver(sample_notification())
        assert SMTP_SECRET not in emitted(caught.value)
    assert SMTP_SECRET not in everything_logged()


def test_an_unreachable_webhook_never_shows_the_signing_secret(
    tmp_path: Path, everything_logged: Callable[[], str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    hook = WebhookNotifier(url, secret=HOOK_SECRET, max_attempts=2, clock=ManualClock(T0))
    assert HOOK_SECRET not in repr(hook) + repr(hook.spec())
    clock = ManualClock(T0)
    kit = _kit(tmp_path, clock, hook)
    with kit:
        inc = kit.declare("API 500s", severity="SEV1", by="alice", incident_id="INC-1")
        for _ in range(3):
            kit.deliver()
            clock.advance(timedelta(minutes=15))
        stored = _everything_stored(kit, inc.id)
        assert "unreachable" in stored
        assert HOOK_SECRET not in stored
        with pytest.raises(Exception) as caught:
            hook.deliver(sample_notification())
        assert HOOK_SECRET not in emitted(caught.value)
    assert HOOK_SECRET not in everything_logged()


@pytest.mark.parametrize("notifier", [WebhookNotifier, SlackWebhookNotifier])
def test_a_webhook_url_with_credentials_is_refused_without_quoting_it(notifier: type) -> None:
    with pytest.raises(ValidationError) as caught:
        notifier(f"https://ops:{HOOK_SECRET}@hooks.example.com/x")
    assert caught.value.field == "url"
    assert HOOK_SECRET not in emitted(caught.value)
    with pytest.raises(ValidationError) as caught:
        notifier(f"ftp://hooks.example.com/services/{HOOK_SECRET}")
    assert HOOK_SECRET not in emitted(caught.value)
