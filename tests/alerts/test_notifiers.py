"""The senders against receivers on 127.0.0.1: a Standard Webhooks verifier, a Slack stand-in, an aiosmtpd server."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import math
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import policy
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from alerts import notifiers
from alerts.notifiers import (
    Message,
    SmtpSettings,
    new_secret,
    parse_retry_after,
    send_email,
    send_slack,
    send_webhook,
)
from store import clock
from tests.netguard import guard

LOOPBACK = ["127.0.0.1"]
SLACK_PATH = "/services/T0A1B2C3D/B0E4F5G6H/s3cr3tT0kenV4lue"
MESSAGE = Message(
    webhook_id="msg_2f9c0d1e4b5a",
    payload={
        "rule": "AAPL close above 200",
        "symbol": "AAPL",
        "value": 201.5,
        "threshold": 200,
        "observation_date": "2026-11-27",
        "as_of": "2026-11-27T21:05:00+00:00",
        "link": "https://desk.example.com/ticker?symbol=AAPL",
    },
    subject="AAPL closed above 200 (201.50)",
    text="AAPL closed at 201.50 on 2026-11-27, above your level of 200.\nhttps://desk.example.com/ticker?symbol=AAPL",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a loopback HTTP receiver ------------------------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


class Receiver:
    """Records every POST and answers what `respond(request)` says (200 by default)."""

    def __init__(self, respond: Callable[[Seen], Answer] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Seen] = []
        self.respond = respond or (lambda seen: Answer())
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                seen = Seen(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(int(self.headers.get("content-length", 0))),
                )
                receiver.requests.append(seen)
                answer = receiver.respond(seen)
                time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hooks/alerts", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(respond: Callable[[Seen], Answer] | None = None, tls: ssl.SSLContext | None = None) -> Receiver:
        started.append(Receiver(respond, tls))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


def verifying(*secrets: str) -> Callable[[Seen], Answer]:
    """A receiver that answers 204 when any of `secrets` verifies the request, 401 otherwise."""

    def respond(seen: Seen) -> Answer:
        for secret in secrets:
            try:
                Webhook(secret).verify(seen.body, seen.headers)
            except WebhookVerificationError:
                continue
            return Answer(204)
        return Answer(401, body=b"bad signature")

    return respond


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for receiver.test and 127.0.0.1 (made with the openssl command; no cryptography)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a self-signed certificate (the cryptography package is absent)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=receiver.test",
            "-addext",
            "subjectAltName=DNS:receiver.test,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if made.returncode != 0:
        pytest.skip(f"openssl could not make a self-signed certificate: {made.stderr.strip()[:200]}")
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


def resolving(monkeypatch: pytest.MonkeyPatch, names: dict[str, str]) -> None:
    """Make each name in `names` resolve to its address; numeric hosts go to the real resolver (no DNS)."""
    real = guard._real_getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002, ANN001, ANN202
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (names[host], port))]
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# --- Standard Webhooks signing ---------------------------------------------------------------------------------------


def test_new_secret_is_a_whsec_secret_of_24_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert len({new_secret() for _ in range(50)}) == 50
    Webhook(secret)  # the library accepts it


def test_the_receiver_verifies_a_genuine_delivery(receivers: Callable[..., Receiver]) -> None:
    secret = new_secret()
    receiver = receivers(verifying(secret))
    result = send_webhook(receiver.url(), [secret], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
    assert result.ok, result.error
    assert (result.status, result.error, result.retry_after, result.gone) == (204, None, None, False)
    assert result.latency_ms > 0
    seen = receiver.requests[0]
    assert seen.path == "/hooks/alerts"
    assert seen.headers["webhook-id"] == MESSAGE.webhook_id
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["user-agent"] == "market-desk-alerts/1"
    assert seen.body == json.dumps(MESSAGE.payload, separators=(",", ":")).encode()  # compact
    assert Webhook(secret).verify(seen.body, seen.headers) == MESSAGE.payload


def test_the_signature_is_the_spec_hmac_computed_independently(receivers: Callable[..., Receiver]) -> None:
    """HMAC-SHA256 of "id.timestamp.body" keyed by the base64-decoded secret, by hand, not with the library."""
    secret = new_secret()
    receiver = receivers()
    at = datetime(2026, 11, 27, 21, 5, 30, 900_000, tzinfo=UTC)
    send_webhook(receiver.url(), [secret], MESSAGE, timestamp=at, allowed_hosts=LOOPBACK)
    seen = receiver.requests[0]
    assert seen.headers["webhook-timestamp"] == str(math.floor(at.timestamp())) == "1795813530"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{MESSAGE.webhook_id}.1795813530.".encode() + seen.body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert seen.headers["webhook-signature"] == expected


def test_a_timestamp_in_another_zone_is_signed_as_the_same_instant(receivers: Callable[..., Receiver]) -> None:
    """standardwebhooks' sign() replaces the zone with UTC; we convert first, so a New York time still verifies."""
    secret = new_secret()
    receiver = receivers(verifying(secret))
    at = clock.now().astimezone(ZoneInfo("America/New_York"))
    result = send_webhook(receiver.url(), [secret], MESSAGE, timestamp=at, allowed_hosts=LOOPBACK)
    assert result.ok, result.error
    assert receiver.requests[0].headers["webhook-timestamp"] == str(math.floor(at.timestamp()))


def test_an_altered_body_or_id_is_rejected(receivers: Callable[..., Receiver]) -> None:
    secret = new_secret()
    receiver = receivers(verifying(secret))
    assert send_webhook(receiver.url(), [secret], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK).ok
    seen = receiver.requests[0]
    altered = seen.body.replace(b"201.5", b"2015")
    assert altered != seen.body
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(altered, seen.headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(seen.body, {**seen.headers, "webhook-id": "msg_other"})


def test_a_wrong_secret_is_rejected(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(verifying(new_secret()))
    result = send_webhook(receiver.url(), [new_secret()], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
    assert not result.ok
    assert (result.status, result.error) == (401, "receiver answered HTTP 401")


def test_a_replay_older_than_the_tolerance_is_rejected(receivers: Callable[..., Receiver]) -> None:
    secret = new_secret()
    receiver = receivers(verifying(secret))
    recent = send_webhook(
        receiver.url(), [secret], MESSAGE, timestamp=clock.now() - timedelta(minutes=4), allowed_hosts=LOOPBACK
    )
    assert recent.ok, "four minutes old is inside the verifier's five-minute tolerance"
    replay = send_webhook(
        receiver.url(), [secret], MESSAGE, timestamp=clock.now() - timedelta(minutes=6), allowed_hosts=LOOPBACK
    )
    assert (replay.ok, replay.status) == (False, 401)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(receiver.requests[1].body, receiver.requests[1].headers)


def test_during_a_rotation_either_secret_verifies(receivers: Callable[..., Receiver]) -> None:
    old, new, stranger = new_secret(), new_secret(), new_secret()
    for holder in (old, new):
        receiver = receivers(verifying(holder))
        result = send_webhook(receiver.url(), [new, old], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
        assert result.ok, result.error
        signatures = receiver.requests[0].headers["webhook-signature"].split(" ")
        assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    receiver = receivers(verifying(stranger))
    assert (
        send_webhook(receiver.url(), [new, old], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK).status == 401
    )


def test_a_retry_carries_the_same_webhook_id(receivers: Callable[..., Receiver]) -> None:
    answers = iter([Answer(500), Answer(200)])
    receiver = receivers(lambda seen: next(answers))
    secret = new_secret()
    first = send_webhook(receiver.url(), [secret], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
    second = send_webhook(receiver.url(), [secret], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
    assert (first.ok, second.ok) == (False, True)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [MESSAGE.webhook_id] * 2


def test_payload_values_and_mistakes() -> None:
    body = notifiers.webhook_body(
        {"value": Decimal("201.50"), "date": date(2026, 11, 27), "at": datetime(2026, 11, 27, 21, 5, tzinfo=UTC)}
    )
    assert body == '{"value":"201.50","date":"2026-11-27","at":"2026-11-27T21:05:00+00:00"}'
    assert notifiers.webhook_body({"name": "Société Générale"}) == '{"name":"Société Générale"}'  # UTF-8, not \\u
    with pytest.raises(ValueError):
        notifiers.webhook_body({"value": float("nan")})  # not JSON
    with pytest.raises(TypeError, match="set"):
        notifiers.webhook_body({"value": {1, 2}})
    with pytest.raises(ValueError, match="at least one signing secret"):
        send_webhook("http://127.0.0.1:9/h", [], MESSAGE, timestamp=clock.now())
    with pytest.raises(ValueError, match="timezone-aware"):
        send_webhook("http://127.0.0.1:9/h", [new_secret()], MESSAGE, timestamp=datetime(2026, 11, 27))
    with pytest.raises(ValueError, match="not a valid whsec_ secret") as bad:
        send_webhook("http://127.0.0.1:9/h", ["whsec_!!!not base64 at all=="], MESSAGE, timestamp=clock.now())
    assert "not base64 at all" not in str(bad.value)


# --- what the receiver answers ---------------------------------------------------------------------------------------


def test_429_with_retry_after_seconds(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(lambda seen: Answer(429, {"Retry-After": "7"}))
    result = send_webhook(receiver.url(), [new_secret()], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
    assert (result.ok, result.status, result.retry_after, result.gone) == (False, 429, 7.0, False)
    assert result.error == "receiver answered HTTP 429 (retry after 7 s)"


def test_503_with_retry_after_as_an_http_date(receivers: Callable[..., Receiver]) -> None:
    when = format_datetime(clock.now() + timedelta(seconds=120), usegmt=True)
    receiver = receivers(lambda seen: Answer(503, {"Retry-After": when}))
    result = send_webhook(receiver.url(), [new_secret()], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
    assert (result.ok, result.status) == (False, 503)
    assert result.retry_after is not None and 115 <= result.retry_after <= 120


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after("1.5", now) == 1.5
    assert parse_retry_after("Fri, 27 Nov 2026 21:02:30 GMT", now) == 150.0
    assert parse_retry_after("Fri, 27 Nov 2026 22:02:30 +0100", now) == 150.0
    assert parse_retry_after("Fri, 27 Nov 2026 21:02:30 -0000", now) == 150.0
    assert parse_retry_after("Fri, 27 Nov 2026 20:00:00 GMT", now) == 0.0  # in the past: now
    for unreadable in (None, "", "-5", "soon", "Fri, 99 Nov 2026"):
        assert parse_retry_after(unreadable, now) is None


def test_retry_after_on_other_statuses_is_ignored(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(lambda seen: Answer(500, {"Retry-After": "30"}))
    result = send_webhook(receiver.url(), [new_secret()], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
    assert (result.ok, result.status, result.retry_after, result.gone) == (False, 500, None, False)
    assert result.error == "receiver answered HTTP 500"


def test_410_asks_to_be_disabled(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(lambda seen: Answer(410))
    result = send_webhook(receiver.url(), [new_secret()], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
    assert (result.ok, result.status, result.gone) == (False, 410, True)
    assert "disabled" in (result.error or "")


def test_a_redirect_is_a_failed_delivery_and_is_not_followed(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(
        lambda seen: Answer(302, {"Location": "/elsewhere"}) if seen.path == "/hooks/alerts" else Answer()
    )
    result = send_webhook(receiver.url(), [new_secret()], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
    assert (result.ok, result.status) == (False, 302)
    assert "redirect" in (result.error or "")
    assert [r.path for r in receiver.requests] == ["/hooks/alerts"]


def test_a_receiver_that_does_not_answer_in_time(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(lambda seen: Answer(200, delay=3.0))
    started = time.monotonic()
    result = send_webhook(
        receiver.url(), [new_secret()], MESSAGE, timestamp=clock.now(), timeout=0.3, allowed_hosts=LOOPBACK
    )
    assert time.monotonic() - started < 2.0
    assert (result.ok, result.status) == (False, None)
    assert "timed out after 0.3 s" in (result.error or "")


def test_connection_refused_is_a_result_not_an_exception() -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/alerts"
    result = send_webhook(url, [new_secret()], MESSAGE, timestamp=clock.now(), allowed_hosts=LOOPBACK)
    assert (result.ok, result.status, result.gone) == (False, None, False)
    assert "connection refused" in (result.error or "")


def test_a_refused_destination_is_a_result_and_nothing_is_sent(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers()
    result = send_webhook(receiver.url(), [new_secret()], MESSAGE, timestamp=clock.now())
    assert (result.ok, result.status) == (False, None)
    assert "ALERT_WEBHOOK_ALLOWED_HOSTS" in (result.error or "")
    assert receiver.requests == []


def test_https_checks_the_certificate_against_the_name_while_connecting_to_the_checked_address(
    monkeypatch: pytest.MonkeyPatch, receivers: Callable[..., Receiver], certificate: tuple[Path, Path]
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test certificate (OpenSSL reads this)
    resolving(monkeypatch, {"receiver.test": "127.0.0.1", "impostor.test": "127.0.0.1"})
    secret = new_secret()
    receiver = receivers(verifying(secret), tls=server_context(certificate))
    allowed = ["receiver.test", "impostor.test"]

    good = send_webhook(
        receiver.url(host="receiver.test", scheme="https"),
        [secret],
        MESSAGE,
        timestamp=clock.now(),
        allowed_hosts=allowed,
    )
    assert good.ok, good.error
    assert receiver.requests[0].headers["host"] == f"receiver.test:{receiver.port}"

    wrong_name = send_webhook(
        receiver.url(host="impostor.test", scheme="https"),
        [secret],
        MESSAGE,
        timestamp=clock.now(),
        allowed_hosts=allowed,
    )
    assert (wrong_name.ok, wrong_name.status) == (False, None)
    assert "TLS with impostor.test failed" in (wrong_name.error or "")
    assert len(receiver.requests) == 1


# --- Slack -----------------------------------------------------------------------------------------------------------


def test_slack_gets_the_subject_in_bold_then_the_text(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(lambda seen: Answer(200, body=b"ok"))
    message = Message("msg_1", {}, "Spread <10Y-2Y> inverted & stayed", "10Y-2Y at -0.05 < 0 on 2026-11-27")
    result = send_slack(receiver.url(SLACK_PATH), message, allowed_hosts=LOOPBACK)
    assert result.ok, result.error
    seen = receiver.requests[0]
    assert seen.path == SLACK_PATH
    assert seen.headers["content-type"].startswith("application/json")
    assert json.loads(seen.body) == {
        "text": "*Spread &lt;10Y-2Y&gt; inverted &amp; stayed*\n10Y-2Y at -0.05 &lt; 0 on 2026-11-27"
    }


@pytest.mark.parametrize(
    ("answer", "error", "gone"),
    [
        (Answer(404, body=b"no_service"), "Slack answered HTTP 404: no_service", False),
        (Answer(403, body=b"invalid_token"), "Slack answered HTTP 403: invalid_token", False),
        (
            Answer(410, body=b"channel_is_archived"),
            "Slack answered HTTP 410 Gone: the endpoint asks to be disabled",
            True,
        ),
        (Answer(500, body=b"<html>" + SLACK_PATH.encode() + b"</html>"), "Slack answered HTTP 500", False),
    ],
)
def test_a_failing_slack_url_never_shows_its_secret_path(
    receivers: Callable[..., Receiver], answer: Answer, error: str, gone: bool
) -> None:
    receiver = receivers(lambda seen: answer)
    result = send_slack(receiver.url(SLACK_PATH), MESSAGE, allowed_hosts=LOOPBACK)
    assert (result.ok, result.status, result.error, result.gone) == (False, answer.status, error, gone)


def test_slack_network_failures_never_show_the_secret_path(receivers: Callable[..., Receiver]) -> None:
    slow = receivers(lambda seen: Answer(200, delay=2.0))
    failures = [
        send_slack(f"http://127.0.0.1:{free_port()}{SLACK_PATH}", MESSAGE, allowed_hosts=LOOPBACK),  # refused
        send_slack(slow.url(SLACK_PATH), MESSAGE, timeout=0.3, allowed_hosts=LOOPBACK),  # timed out
        send_slack(slow.url(SLACK_PATH), MESSAGE),  # refused destination
        send_slack(f"https://hooks.slack.com:99999{SLACK_PATH}", MESSAGE),  # invalid URL
    ]
    for result in failures:
        assert not result.ok and result.error
        for secret_part in ("s3cr3tT0kenV4lue", "B0E4F5G6H", "T0A1B2C3D"):
            assert secret_part not in result.error, result.error


# --- email -----------------------------------------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler keeping each delivered message (parsed) and whether the session used TLS."""

    def __init__(self, refuse_recipients: bool = False) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage, bool]] = []
        self.refuse_recipients = refuse_recipients

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if self.refuse_recipients:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed, session.ssl is not None))
        return "250 Message accepted for delivery"


def accept_login(user: str, password: str) -> Callable[..., AuthResult]:
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and (data.login, data.password) == (user.encode(), password.encode()):
            return AuthResult(success=True)
        # A careless server that echoes what it got: the sender must still not show the password.
        echoed = data.password.decode() if isinstance(data, LoginPassword) else ""
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad credentials {echoed}")

    return authenticator


@pytest.fixture
def smtp_servers() -> Iterator[Callable[..., tuple[Mailbox, int]]]:
    controllers: list[Controller] = []

    def start(mailbox: Mailbox | None = None, **options: Any) -> tuple[Mailbox, int]:
        mailbox = mailbox or Mailbox()
        port = free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return mailbox, port

    yield start
    for controller in controllers:
        controller.stop()


def settings(port: int, **changes: Any) -> SmtpSettings:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "username": None,
        "password": None,
        "sender": "Market Desk <alerts@desk.example.com>",
        "timeout": 5.0,
    }
    return SmtpSettings(**{**base, **changes})


def test_the_mail_arrives_with_subject_body_addresses_and_a_stable_message_id(smtp_servers) -> None:  # noqa: ANN001
    mailbox, port = smtp_servers()
    first = send_email(settings(port), "analyst@example.org", MESSAGE)
    retry = send_email(settings(port), "analyst@example.org", MESSAGE)
    assert (first.ok, first.status, first.error) == (True, 250, None)
    assert retry.ok
    (mail_from, rcpt_tos, mail, tls), (_, _, again, _) = mailbox.messages
    assert (mail_from, rcpt_tos, tls) == ("alerts@desk.example.com", ["analyst@example.org"], False)
    assert mail["Subject"] == MESSAGE.subject
    assert mail["From"] == "Market Desk <alerts@desk.example.com>"
    assert mail["To"] == "analyst@example.org"
    assert mail["Message-ID"] == "<msg_2f9c0d1e4b5a@desk.example.com>" == again["Message-ID"]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content().replace("\r\n", "\n").rstrip("\n") == MESSAGE.text


def test_a_multi_line_subject_becomes_one_line(smtp_servers) -> None:  # noqa: ANN001
    mailbox, port = smtp_servers()
    message = Message("msg_x", {}, "CPI pc1\r\nBcc: everyone@example.org", "body")
    assert send_email(settings(port), "analyst@example.org", message).ok
    mail = mailbox.messages[0][2]
    assert mail["Subject"] == "CPI pc1 Bcc: everyone@example.org"
    assert mail["Bcc"] is None and mailbox.messages[0][1] == ["analyst@example.org"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_with_credentials(smtp_servers) -> None:  # noqa: ANN001
    mailbox, port = smtp_servers(
        authenticator=accept_login("desk", "hunter2-password"), auth_required=True, auth_require_tls=False
    )
    no_login = send_email(settings(port), "analyst@example.org", MESSAGE)
    assert (no_login.ok, no_login.status) == (False, 530)  # the server requires authentication
    ok = send_email(settings(port, username="desk", password="hunter2-password"), "analyst@example.org", MESSAGE)
    assert ok.ok, ok.error
    assert len(mailbox.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_never_shows_the_password(smtp_servers) -> None:  # noqa: ANN001
    _, port = smtp_servers(
        authenticator=accept_login("desk", "right-password"), auth_required=True, auth_require_tls=False
    )
    result = send_email(settings(port, username="desk", password="wrong-Pa55word"), "analyst@example.org", MESSAGE)
    assert (result.ok, result.status) == (False, 535)
    assert "wrong-Pa55word" not in (result.error or "")
    assert base64.b64encode(b"wrong-Pa55word").decode() not in (result.error or "")
    assert "refused the login for desk" in (result.error or "")


def test_scrubbing_covers_the_forms_a_server_could_echo() -> None:
    smtp = settings(25, username="desk", password="s3cret-pw")
    plain = base64.b64encode(b"\0desk\0s3cret-pw").decode()
    text = f"535 got s3cret-pw and {base64.b64encode(b's3cret-pw').decode()} and {plain}"
    assert notifiers._scrub_password(text, smtp) == "535 got *** and *** and ***"


def test_starttls_then_login(smtp_servers, certificate, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the client trusts the test certificate
    mailbox, port = smtp_servers(
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=accept_login("desk", "tls-password"),
        auth_required=True,
    )
    plain = send_email(settings(port, username="desk", password="tls-password"), "analyst@example.org", MESSAGE)
    assert not plain.ok and "tls-password" not in (plain.error or "")  # the server insists on STARTTLS first
    result = send_email(
        settings(port, starttls=True, username="desk", password="tls-password"), "analyst@example.org", MESSAGE
    )
    assert result.ok, result.error
    assert mailbox.messages[0][3] is True  # the session was encrypted


def test_starttls_asked_of_a_server_without_it(smtp_servers) -> None:  # noqa: ANN001
    _, port = smtp_servers()
    result = send_email(settings(port, starttls=True), "analyst@example.org", MESSAGE)
    assert (result.ok, result.status) == (False, None)
    assert result.error == f"the SMTP server at 127.0.0.1:{port} does not offer STARTTLS"


def test_a_refused_recipient(smtp_servers) -> None:  # noqa: ANN001
    _, port = smtp_servers(Mailbox(refuse_recipients=True))
    result = send_email(settings(port), "nobody@example.org", MESSAGE)
    assert (result.ok, result.status) == (False, 550)
    assert "refused the recipient" in (result.error or "")


def test_an_smtp_server_that_is_down(smtp_servers) -> None:  # noqa: ANN001
    port = free_port()
    result = send_email(settings(port, username="desk", password="down-password"), "analyst@example.org", MESSAGE)
    assert (result.ok, result.status) == (False, None)
    assert result.error == f"connection refused by the SMTP server at 127.0.0.1:{port}"


def test_no_smtp_host() -> None:
    result = send_email(settings(25, host=""), "analyst@example.org", MESSAGE)
    assert (result.ok, result.status, result.error) == (False, None, "no SMTP host is configured (SMTP_HOST)")


def test_an_smtp_server_that_never_greets() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection, says nothing
        port = listener.getsockname()[1]
        result = send_email(settings(port, timeout=0.3), "analyst@example.org", MESSAGE)
    assert (result.ok, result.status) == (False, None)
    assert "timed out after 0.3 s" in (result.error or "")


@pytest.mark.parametrize("to", ["not-an-address", "a@example.org, b@example.org", "a@example.org\nBcc: c@example.org"])
def test_a_bad_recipient_is_a_result_not_an_exception(smtp_servers, to: str) -> None:  # noqa: ANN001
    mailbox, port = smtp_servers()
    result = send_email(settings(port), to, MESSAGE)
    assert (result.ok, result.status) == (False, None)
    assert result.error
    assert mailbox.messages == []
