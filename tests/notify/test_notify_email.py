"""The e-mail notifier against a real aiosmtpd server on 127.0.0.1 (plain and STARTTLS)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from incidentkit.errors import PermanentFailure, ValidationError
from incidentkit.notify import EmailNotifier, NotificationKind, TransientFailure
from incidentkit.testing import sample_notification
from incidentkit.testing.notifier_contract import NotifierContract


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps every message; ``refuse`` scripts RCPT replies."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    @property
    def keys(self) -> list[str]:
        return [str(m["X-Incidentkit-Key"]) for _, _, m in self.messages]


@attrs.frozen
class Smtp:
    host: str
    port: int
    mailbox: Mailbox


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield Smtp("127.0.0.1", port, mailbox)
    controller.stop()


def _notifier(smtp: Smtp, **kwargs: Any) -> EmailNotifier:
    return EmailNotifier(
        smtp.host,
        smtp.port,
        sender="incidents@example.com",
        recipients=kwargs.pop("recipients", ["oncall@example.com", "sre@example.com"]),
        **kwargs,
    )


def test_sends_one_message_with_the_subject_and_body(smtp: Smtp) -> None:
    note = sample_notification()
    _notifier(smtp).deliver(note)
    [(sender, recipients, message)] = smtp.mailbox.messages
    assert sender == "incidents@example.com"
    assert recipients == ["oncall@example.com", "sre@example.com"]
    assert message["Subject"] == "[SEV1] INC-1 API returning 500 errors"
    assert message["X-Incidentkit-Key"] == note.key
    assert message["Message-ID"].startswith("<INC-1.1.page.")
    assert message["Message-ID"].endswith("@incidentkit>")
    assert message["Importance"] == "high"  # a page is high urgency
    body = message.get_content()
    assert note.text in body
    assert "Commander: alice" in body
    assert "Severity:  SEV1" in body


def test_a_resolved_notice_says_so_in_the_subject(smtp: Smtp) -> None:
    _notifier(smtp).deliver(sample_notification(NotificationKind.RESOLVED))
    [(_, _, message)] = smtp.mailbox.messages
    assert message["Subject"] == "[SEV1] INC-1 API returning 500 errors (resolved)"
    assert message["Importance"] is None


def test_a_refused_recipient_is_permanent(smtp: Smtp) -> None:
    smtp.mailbox.refuse["oncall@example.com"] = "550 5.1.1 no such user"
    with pytest.raises(PermanentFailure, match="refused every recipient"):
        _notifier(smtp, recipients=["oncall@example.com"]).deliver(sample_notification())


def test_a_partly_refused_delivery_is_permanent(smtp: Smtp) -> None:
    smtp.mailbox.refuse["sre@example.com"] = "550 5.1.1 no such user"
    with pytest.raises(PermanentFailure, match=r"sre@example\.com"):
        _notifier(smtp).deliver(sample_notification())
    assert len(smtp.mailbox.messages) == 1  # the other recipient got it; no retry


def test_a_temporary_refusal_is_retryable(smtp: Smtp) -> None:
    smtp.mailbox.refuse["oncall@example.com"] = "451 4.3.0 try again later"
    with pytest.raises(TransientFailure) as caught:
        _notifier(smtp, recipients=["oncall@example.com"]).deliver(sample_notification())
    assert "451" in str(caught.value) or caught.value.status == 451


def test_an_unreachable_server_is_retryable() -> None:
    notifier = EmailNotifier(
        "127.0.0.1", _free_port(), sender="a@example.com", recipients=["b@example.com"]
    )
    with pytest.raises(TransientFailure):
        notifier.deliver(sample_notification())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"recipients": []}, "recipients"),
        ({"recipients": "oncall@example.com"}, "recipients"),
        ({"recipients": ["not-an-address"]}, "recipients"),
        ({"sender": "nobody"}, "sender"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"host": ""}, "host"),
        ({"username": "bot"}, "password"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any], field: str) -> None:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 25,
        "sender": "incidents@example.com",
        "recipients": ["oncall@example.com"],
    }
    settings.update(kwargs)
    host, port = settings.pop("host"), settings.pop("port")
    with pytest.raises(ValidationError) as caught:
        EmailNotifier(host, port, **settings)
    assert caught.value.field == field


class TestEmailContract(NotifierContract):
    @pytest.fixture
    def notifier_plugin(self, smtp: Smtp) -> EmailNotifier:
        return _notifier(smtp)

    @pytest.fixture
    def observed_keys(self, smtp: Smtp) -> object:
        return lambda: smtp.mailbox.keys


# -- STARTTLS with a certificate made at test time ------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, generated with ``cryptography``."""
    pytest.importorskip("cryptography", reason="cryptography is not installed")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_smtp(certificate: tuple[Path, Path]) -> Iterator[Smtp]:
    cert_path, key_path = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    logins: list[str] = []

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == b"hunter2"
        if ok:
            logins.append(data.login.decode())
        # handled=False: let aiosmtpd send the 535 itself
        return AuthResult(success=ok, handled=False)

    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield Smtp("127.0.0.1", port, mailbox)
    controller.stop()


def test_starttls_and_login(tls_smtp: Smtp, certificate: tuple[Path, Path]) -> None:
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    notifier = _notifier(
        tls_smtp, starttls=True, username="bot", password="hunter2", ssl_context=trust
    )
    notifier.deliver(sample_notification())
    assert len(tls_smtp.mailbox.messages) == 1


def test_a_wrong_password_is_permanent(tls_smtp: Smtp, certificate: tuple[Path, Path]) -> None:
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    notifier = _notifier(tls_smtp, starttls=True, username="bot", password="x", ssl_context=trust)
    with pytest.raises(PermanentFailure, match="535"):
        notifier.deliver(sample_notification())
    assert tls_smtp.mailbox.messages == []


def test_an_untrusted_certificate_is_permanent(tls_smtp: Smtp) -> None:
    notifier = _notifier(tls_smtp, starttls=True)  # the system trust store
    with pytest.raises(PermanentFailure, match="certificate not trusted"):
        notifier.deliver(sample_notification())


def test_the_server_requires_starttls(tls_smtp: Smtp) -> None:
    with pytest.raises(PermanentFailure, match="530"):
        _notifier(tls_smtp).deliver(sample_notification())


# -- hostile user text: no header injection ------------------------------------------------------


def _hostile_title(title: str) -> Any:
    note = sample_notification()
    return attrs.evolve(note, incident=attrs.evolve(note.incident, title=title, commander=title))


@pytest.mark.parametrize(
    "title",
    [
        "Outage\r\nBcc: victim@example.com",
        "Outage\nX-Injected: yes\n\nforged body",
        "Outage\rX-Injected: yes",
        "Outage\u2028X-Injected: yes\x00\x1b[31m",
    ],
)
def test_crlf_in_a_title_cannot_inject_headers(smtp: Smtp, title: str) -> None:
    _notifier(smtp).deliver(_hostile_title(title))
    [(_, rcpt, message)] = smtp.mailbox.messages
    assert rcpt == ["oncall@example.com", "sre@example.com"]  # no Bcc added
    assert "X-Injected" not in message and "Bcc" not in message
    subject = str(message["Subject"])
    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("[SEV1] INC-1 Outage ")
    body = message.get_content()
    assert not any(line.startswith(("X-Injected", "forged body")) for line in body.splitlines())
