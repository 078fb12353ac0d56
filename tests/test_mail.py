"""The mailer against a real SMTP server (aiosmtpd): plain, implicit TLS, STARTTLS, login, refusals."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from paperboy.mail import Mailer, MailError, parse_smtp_url
from tests.smtp import SmtpServer, free_port, running_smtp_server, self_signed_certificate


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts only the test certificate, with hostname checks on."""
    return ssl.create_default_context(cafile=str(certificate[1]))


def test_plain_smtp_delivers_text_and_html(smtp_server: SmtpServer) -> None:
    mailer = Mailer(smtp_server.url, "paperboy <news@papers.example>")
    message = mailer.compose("ada@example.org", "Sign in", "Open this link", html="<p>Open this link</p>")
    mailer.send(message)
    (got,) = smtp_server.wait_for(1)
    assert smtp_server.received[0].rcpt_tos == ["ada@example.org"]
    assert smtp_server.received[0].mail_from == "news@papers.example"
    assert got["Subject"] == "Sign in" and got["To"] == "ada@example.org"
    assert got["Message-ID"].endswith("@papers.example>")
    assert got.get_body(("plain",)).get_content().strip() == "Open this link"  # type: ignore[union-attr]
    assert got.get_body(("html",)).get_content().strip() == "<p>Open this link</p>"  # type: ignore[union-attr]


def test_a_given_message_id_is_kept(smtp_server: SmtpServer) -> None:
    """A resend after a crash must carry the same Message-ID so receivers can drop the duplicate."""
    mailer = Mailer(smtp_server.url, "p@example.org")
    mailer.send(mailer.compose("b@example.org", "Digest", "body", headers={"Message-ID": "<fixed-1@example.org>"}))
    assert smtp_server.wait_for(1)[0]["Message-ID"] == "<fixed-1@example.org>"


def test_one_connection_sends_a_batch(smtp_server: SmtpServer) -> None:
    mailer = Mailer(smtp_server.url, "p@example.org")
    with mailer.connect() as connection:
        for n in range(3):
            connection.send(mailer.compose(f"u{n}@example.org", f"n{n}", "x"))
    assert [m["Subject"] for m in smtp_server.wait_for(3)] == ["n0", "n1", "n2"]


def test_smtps_with_login(certificate: tuple[Path, Path], trusting: ssl.SSLContext) -> None:
    with running_smtp_server("implicit", certificate, credentials=("mailer", "p@ss word")) as server:
        url = f"smtps://mailer:p%40ss%20word@127.0.0.1:{server.port}"
        mailer = Mailer(url, "p@example.org", ssl_context=trusting)
        mailer.send(mailer.compose("c@example.org", "over TLS", "secret"))
        assert server.wait_for(1)[0]["Subject"] == "over TLS"
        assert server.logins == [("mailer", "p@ss word")]


def test_starttls_with_login(certificate: tuple[Path, Path], trusting: ssl.SSLContext) -> None:
    with running_smtp_server("starttls", certificate, credentials=("u", "pw")) as server:
        mailer = Mailer(f"smtp+starttls://u:pw@127.0.0.1:{server.port}", "p@example.org", ssl_context=trusting)
        mailer.send(mailer.compose("d@example.org", "upgraded", "x"))
        assert server.wait_for(1)[0]["Subject"] == "upgraded"
        assert server.logins == [("u", "pw")]


def test_starttls_refused_when_the_server_does_not_offer_it(smtp_server: SmtpServer) -> None:
    mailer = Mailer(f"smtp+starttls://u:pw@127.0.0.1:{smtp_server.port}", "p@example.org")
    with pytest.raises(MailError, match="does not offer STARTTLS"):
        mailer.send(mailer.compose("e@example.org", "x", "x"))
    assert smtp_server.received == []


def test_an_untrusted_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    with running_smtp_server("implicit", certificate) as server:
        mailer = Mailer(f"smtps://127.0.0.1:{server.port}", "p@example.org")  # the system trust store
        with pytest.raises(MailError, match="cannot send mail"):
            mailer.send(mailer.compose("f@example.org", "x", "x"))
        assert server.received == []


def test_wrong_password_is_a_permanent_error(certificate: tuple[Path, Path], trusting: ssl.SSLContext) -> None:
    with running_smtp_server("starttls", certificate, credentials=("u", "right")) as server:
        mailer = Mailer(f"smtp+starttls://u:wrong@127.0.0.1:{server.port}", "p@example.org", ssl_context=trusting)
        with pytest.raises(MailError) as caught:
            mailer.send(mailer.compose("g@example.org", "x", "x"))
        assert caught.value.code == 535 and caught.value.permanent


@pytest.mark.parametrize(("reply", "permanent"), [("550 5.1.1 no such user", True), ("450 4.2.0 mailbox busy", False)])
def test_refused_recipients_say_whether_to_retry(smtp_server: SmtpServer, reply: str, permanent: bool) -> None:
    smtp_server.refuse["gone@example.org"] = reply
    mailer = Mailer(smtp_server.url, "p@example.org")
    with pytest.raises(MailError) as caught:
        mailer.send(mailer.compose("gone@example.org", "x", "x"))
    assert caught.value.code == int(reply[:3])
    assert caught.value.permanent is permanent
    assert smtp_server.received == []


def test_nobody_listening_is_a_temporary_error() -> None:
    mailer = Mailer(f"smtp://127.0.0.1:{free_port()}", "p@example.org", timeout=5)
    with pytest.raises(MailError) as caught:
        mailer.send(mailer.compose("h@example.org", "x", "x"))
    assert not caught.value.permanent


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", ("smtp", "127.0.0.1", 2525, None, None)),
        ("smtps://me:pw@mail.example.org", ("smtps", "mail.example.org", 465, "me", "pw")),
        (
            "smtp+starttls://me%40x.org:a%2Fb@mail.example.org",
            ("smtp+starttls", "mail.example.org", 587, "me@x.org", "a/b"),
        ),
    ],
)
def test_smtp_urls(url: str, expected: tuple[object, ...]) -> None:
    t = parse_smtp_url(url)
    assert (t.scheme, t.host, t.port, t.username, t.password) == expected


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "mail.example.org:25", "smtp://h:notaport"])
def test_bad_smtp_urls_name_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match="smtp_url"):
        parse_smtp_url(url)
