"""The senders: one attempt to deliver an alert by Standard Webhooks POST, Slack incoming webhook or SMTP email.

Each sender makes exactly one attempt and returns a SendResult instead of raising for anything the network or the
receiver does: the outbox owns retries (so no library retries here), and the result's `error` is one line that is
safe to store and show (no secret, no password, no Slack URL path). Webhook and Slack requests go through
alerts.net, the guard that keeps them to public addresses.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets as secrets_module
import smtplib
import socket
import ssl
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr, parsedate_to_datetime
from typing import Any

import standardwebhooks

from alerts.net import NetworkError, RefusedDestination, exchange
from store import clock
from store.errors import first_line
from store.redaction import redact

USER_AGENT = "market-desk-alerts/1"
RETRY_AFTER_STATUSES = (429, 503)
_SLACK_ERROR = re.compile(r"^[a-z_]{1,64}$")  # Slack explains a refusal in one snake_case word: no_service, ...
_SECRET = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_MESSAGE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class Message:
    webhook_id: str  # the delivery's idempotency key (e.g. "msg_2f9c..."), the same on every retry
    payload: dict[str, Any]  # the JSON body (rule, symbol or series, value, threshold, observation date, as_of, link)
    subject: str  # one line, for email subject / Slack first line
    text: str  # plain text body for email and Slack


@dataclass(frozen=True)
class SendResult:
    ok: bool  # 2xx (or SMTP accepted)
    status: int | None  # HTTP status, or SMTP reply code; None when no answer (timeout, refused, DNS)
    latency_ms: float
    error: str | None  # one line, safe to store and show
    retry_after: float | None  # seconds, from a Retry-After header on 429/503
    gone: bool = False  # HTTP 410: the endpoint asks to be disabled


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    starttls: bool
    username: str | None
    password: str | None
    sender: str
    timeout: float = 15.0


def new_secret() -> str:
    """A new Standard Webhooks signing secret: "whsec_" and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets_module.token_bytes(24)).decode("ascii")


def webhook_body(payload: dict[str, Any]) -> str:
    """The JSON body exactly as it is signed and sent: compact, UTF-8, no NaN (not JSON), dates as ISO 8601."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_value)


def webhook_headers(webhook_id: str, secrets: Sequence[str], body: str, timestamp: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: one `v1,` signature per secret, space-separated (a rotation sends two)."""
    if not webhook_id or any(ch.isspace() or not ch.isprintable() for ch in webhook_id):
        raise ValueError("a webhook id must be non-empty printable text without spaces")
    if timestamp.tzinfo is None:
        raise ValueError("the webhook timestamp must be timezone-aware")
    keys = list(dict.fromkeys(s for s in secrets if s))  # the same secret twice would only repeat a signature
    if not keys:
        raise ValueError("a webhook needs at least one signing secret")
    # Whole seconds in UTC: the header carries integer seconds and the signature must cover the same value (the
    # library's sign() replaces the zone with UTC instead of converting, so it gets a UTC datetime).
    seconds = math.floor(timestamp.timestamp())
    signed_at = datetime.fromtimestamp(seconds, UTC)
    signatures = [_signer(key).sign(msg_id=webhook_id, timestamp=signed_at, data=body) for key in keys]
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": " ".join(signatures),
    }


def send_webhook(
    url: str,
    secrets: Sequence[str],
    message: Message,
    *,
    timestamp: datetime,
    timeout: float = 15.0,
    allowed_hosts: Collection[str] = (),
) -> SendResult:
    """One signed POST of `message.payload` to `url` (Standard Webhooks).

    `timestamp` is this attempt's time (clock.now()): a retry carries the same webhook-id but a fresh timestamp, so
    the receiver's replay window (5 minutes) does not reject it. A payload that cannot be JSON, or no secret, raises
    ValueError/TypeError (a bug to fix, not a delivery to retry).
    """
    body = webhook_body(message.payload)
    headers = webhook_headers(message.webhook_id, secrets, body, timestamp)
    return _send_http(url, body.encode("utf-8"), headers, timeout, allowed_hosts, what="receiver")


def slack_text(message: Message) -> str:
    """The Slack message: the subject in bold on the first line, then the text; &, < and > escaped as Slack asks."""
    subject = _one_line(message.subject)
    return f"*{_slack_escape(subject)}*\n{_slack_escape(message.text)}" if subject else _slack_escape(message.text)


def send_slack(url: str, message: Message, *, timeout: float = 15.0, allowed_hosts: Collection[str] = ()) -> SendResult:
    """One POST of {"text": ...} to a Slack incoming webhook; errors never show the URL's path (its credential)."""
    body = json.dumps({"text": slack_text(message)}, ensure_ascii=False).encode("utf-8")
    headers = {"content-type": "application/json; charset=utf-8", "user-agent": USER_AGENT}
    return _send_http(url, body, headers, timeout, allowed_hosts, what="Slack")


def send_email(smtp: SmtpSettings, to: str, message: Message) -> SendResult:
    """One SMTP transaction delivering `message` to `to`: STARTTLS when asked, login when credentials are given.

    The Message-ID comes from the webhook id, so a retried mail is recognisably the same one. Never raises for
    what the server or the network does; the password never appears in the error.
    """
    started = time.perf_counter()
    if not smtp.host.strip():
        return _failed(started, None, "no SMTP host is configured (SMTP_HOST)")
    try:
        mail = email_message(smtp.sender, to, message)
    except ValueError as exc:
        return _failed(started, None, first_line(exc))
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as conn:
            conn.ehlo()
            if smtp.starttls:
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if smtp.username or smtp.password:
                if not (smtp.username and smtp.password):
                    return _failed(started, None, "SMTP credentials need both a user name and a password")
                conn.login(smtp.username, smtp.password)
            conn.send_message(mail, from_addr=_address_of(smtp.sender), to_addrs=[_address_of(to)])
    except Exception as exc:  # noqa: BLE001 - one attempt, one result: the outbox decides what happens next
        status, text = _smtp_failure(exc, smtp)
        return _failed(started, status, _scrub_password(text, smtp))
    # sendmail raises unless the server accepted the message with 250 after DATA.
    return SendResult(ok=True, status=250, latency_ms=_elapsed(started), error=None, retry_after=None)


def email_message(sender: str, to: str, message: Message) -> EmailMessage:
    """The email for `message`: subject, plain-text body, From/To, a Message-ID derived from the webhook id."""
    recipient = _address_of(to)
    if not recipient or "@" not in recipient or "," in to:
        raise ValueError(f"{_one_line(to)[:100]!r} is not one email address")
    if "@" not in _address_of(sender):
        raise ValueError(f"the sender {_one_line(sender)[:100]!r} is not an email address")
    mail = EmailMessage()
    mail["Subject"] = _one_line(message.subject)
    mail["From"] = sender
    mail["To"] = to
    mail["Date"] = format_datetime(clock.now())
    mail["Message-ID"] = message_id(message.webhook_id, sender)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to an alert
    mail.set_content(message.text)
    return mail


def message_id(webhook_id: str, sender: str) -> str:
    """`<webhook-id@sender's domain>`: the same on every retry of one delivery."""
    local = _MESSAGE_ID_UNSAFE.sub("-", webhook_id) or "alert"
    domain = _address_of(sender).rpartition("@")[2]
    if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", domain):
        domain = "market-desk.invalid"
    return f"<{local}@{domain}>"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (past dates give 0); None if absent
    or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" zone: RFC 5322 says UTC with no information about the local zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or clock.now())).total_seconds())


def _send_http(
    url: str, body: bytes, headers: dict[str, str], timeout: float, allowed_hosts: Collection[str], *, what: str
) -> SendResult:
    started = time.perf_counter()
    try:
        response = exchange(url, body, headers, timeout=timeout, allowed_hosts=allowed_hosts)
    except (RefusedDestination, NetworkError) as exc:
        return _failed(started, None, redact(str(exc)))
    status = response.status
    retry_after = parse_retry_after(response.headers.get("retry-after")) if status in RETRY_AFTER_STATUSES else None
    if 200 <= status < 300:
        return SendResult(True, status, response.latency_ms, None, None)
    if 300 <= status < 400:
        error = f"{what} answered HTTP {status}, a redirect; redirects are not followed (use the final URL)"
    elif status == 410:
        error = f"{what} answered HTTP 410 Gone: the endpoint asks to be disabled"
    else:
        error = f"{what} answered HTTP {status}"
        reason = response.body.decode("utf-8", "replace").strip()
        if what == "Slack" and _SLACK_ERROR.match(reason):
            error += f": {reason}"
        if retry_after is not None:
            error += f" (retry after {retry_after:g} s)"
    return SendResult(False, status, response.latency_ms, error, retry_after, gone=status == 410)


def _failed(started: float, status: int | None, error: str) -> SendResult:
    return SendResult(ok=False, status=status, latency_ms=_elapsed(started), error=error, retry_after=None)


def _elapsed(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _signer(secret: str) -> standardwebhooks.Webhook:
    # The library skips characters that are not base64; a mangled secret would then sign with another key.
    if not _SECRET.fullmatch(secret.removeprefix("whsec_")):
        raise ValueError("a webhook secret is not a valid whsec_ secret (base64 after the prefix)")
    try:
        return standardwebhooks.Webhook(secret)
    except Exception:  # noqa: BLE001 - binascii.Error, EmptyWebhookSecretError: never echo the secret itself
        raise ValueError("a webhook secret is not a valid whsec_ secret (base64 after the prefix)") from None


def _json_value(value: object) -> object:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact: a price as the database holds it, not a binary float
    raise TypeError(f"alert payload value of type {type(value).__name__} is not JSON")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _address_of(value: str) -> str:
    return parseaddr(value)[1]


def _smtp_failure(exc: BaseException, smtp: SmtpSettings) -> tuple[int | None, str]:
    """(SMTP reply code or None, one line) for an exception of an SMTP attempt."""
    where = f"{smtp.host}:{smtp.port}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (None, b""))
        return code, f"the SMTP server refused the recipient: {code} {_reply_text(reply)}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return exc.smtp_code, f"the SMTP server refused the login for {smtp.username}: {exc.smtp_code}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return exc.smtp_code, f"the SMTP server refused the sender: {exc.smtp_code} {_reply_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, f"the SMTP server answered {exc.smtp_code} {_reply_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        wanted = "STARTTLS" if smtp.starttls and "STARTTLS" in str(exc).upper() else "AUTH (login)"
        return None, f"the SMTP server at {where} does not offer {wanted}"
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        # smtplib turns a read that timed out into SMTPServerDisconnected; the timeout is the useful word.
        return None, f"timed out after {smtp.timeout:g} s talking to the SMTP server at {where}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return None, f"the SMTP server at {where} closed the connection"
    if isinstance(exc, ssl.SSLError):
        return None, f"TLS with the SMTP server at {where} failed: {first_line(exc)}"
    if isinstance(exc, ConnectionRefusedError):
        return None, f"connection refused by the SMTP server at {where}"
    if isinstance(exc, socket.gaierror):
        return None, f"could not resolve the SMTP host {smtp.host}"
    return None, f"could not send by SMTP via {where}: {first_line(exc)}"


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return _one_line(text)[:200]


def _scrub_password(text: str, smtp: SmtpSettings) -> str:
    """`text` without the password in any form a server could echo (plain, base64, AUTH PLAIN's base64)."""
    password = smtp.password
    if password:
        forms: list[str] = [password, base64.b64encode(password.encode()).decode("ascii")]
        if smtp.username:
            forms.append(base64.b64encode(f"\0{smtp.username}\0{password}".encode()).decode("ascii"))
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
    return redact(_one_line(text))
