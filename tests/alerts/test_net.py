"""The outbound guard: only http(s) to public addresses, every resolved address checked, the checked one connected."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerts import net
from alerts.net import NetworkError, RefusedDestination, check_url, post, redact_url, resolve_public
from tests.netguard import guard

NON_PUBLIC = [
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.20",
    "169.254.169.254",  # the cloud metadata service
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "100.64.0.1",  # carrier-grade NAT
    "192.0.2.1",  # documentation
    "224.0.0.1",  # multicast: ipaddress calls it global
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",  # site-local (deprecated; ipaddress calls it global)
    "ff02::1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2001:db8::1",  # documentation
]
PUBLIC = ["93.184.215.14", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]


def fake_resolver(answers: dict[str, list[str]]):  # noqa: ANN201 - a getaddrinfo stand-in
    """A getaddrinfo that answers `answers[host]` and passes numeric hosts to the real resolver (no DNS)."""
    real = guard._real_getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002, ANN001, ANN202
        if host in answers:
            result = []
            for address in answers[host]:
                fam = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, port, 0, 0) if fam == socket.AF_INET6 else (address, port)
                result.append((fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
            return result
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    return getaddrinfo


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request it gets and answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


# --- check_url -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("example.com/hook", "only http and https"),
        ("http:///hook", "no host"),
        ("https://user:pass@example.com/hook", "user name or password"),
        ("https://token@example.com/hook", "user name or password"),
        ("https://example.com:99999/hook", "not valid"),
        ("https://example.com:0/hook", "port"),
        ("https://exa mple.com/hook", "spaces"),
        ("https://example.com/hook\r\nX-Injected: 1", "control characters"),
        ("", "empty"),
    ],
)
def test_check_url_refuses_what_is_not_a_plain_http_url(url: str, why: str) -> None:
    with pytest.raises(RefusedDestination, match=why):
        check_url(url)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.0.0.8", "[::1]", "169.254.169.254", "[::ffff:127.0.0.1]", "[fe80::1]"]
)
def test_check_url_refuses_non_public_ip_literals_with_a_way_out(host: str) -> None:
    with pytest.raises(RefusedDestination) as refused:
        check_url(f"http://{host}:8080/secret-path?token=abc")
    message = str(refused.value)
    assert "ALERT_WEBHOOK_ALLOWED_HOSTS" in message
    assert "secret-path" not in message and "abc" not in message


def test_check_url_accepts_public_urls_and_allowed_literals() -> None:
    check_url("https://hooks.slack.com/services/T000/B000/XXXX")
    check_url("HTTP://Example.COM./hook?x=1")
    check_url("https://8.8.8.8/hook")
    check_url("http://127.0.0.1:9999/hook", allowed_hosts=["127.0.0.1"])
    check_url("http://[::1]:9999/hook", allowed_hosts=["::1"])
    check_url("http://10.1.2.3/hook", allowed_hosts=["10.0.0.0/8"])


def test_loopback_message_names_the_setting() -> None:
    with pytest.raises(RefusedDestination) as refused:
        check_url("http://127.0.0.1/hook")
    assert str(refused.value) == (
        "127.0.0.1 is a loopback address; list the host in ALERT_WEBHOOK_ALLOWED_HOSTS to allow it"
    )


# --- resolve_public --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_a_name_resolving_to_a_non_public_address_is_refused(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({"hooks.example.com": [address]}))
    with pytest.raises(RefusedDestination) as refused:
        resolve_public("hooks.example.com", 443)
    assert f"hooks.example.com resolves to {address}, which is " in str(refused.value)
    assert "ALERT_WEBHOOK_ALLOWED_HOSTS" in str(refused.value)


@pytest.mark.parametrize("address", PUBLIC)
def test_a_name_resolving_to_public_addresses_is_accepted(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({"hooks.example.com": [address, address]}))
    assert resolve_public("hooks.example.com", 443) == [address]  # duplicates (one per socket type) collapse


def test_one_private_answer_among_public_ones_refuses_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({"mixed.example.com": ["8.8.8.8", "10.0.0.5"]}))
    with pytest.raises(RefusedDestination, match="10.0.0.5, which is a private address"):
        resolve_public("mixed.example.com", 443)


def test_the_words_say_what_kind_of_address(monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = {
        "169.254.169.254": "a link-local address",
        "::ffff:127.0.0.1": "an IPv4-mapped form of 127.0.0.1, a loopback address",
        "2002:a00:1::1": "a 6to4 form of 10.0.0.1, a private address",
        "224.0.0.1": "a multicast address",
        "0.0.0.0": "an unspecified address",  # noqa: S104 - refused, not bound
        "100.64.0.1": "a shared (carrier-grade NAT) address",
    }
    for address, kind in kinds.items():
        monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({"h.example": [address]}))
        with pytest.raises(RefusedDestination, match=re.escape(f"which is {kind};")):
            resolve_public("h.example", 80)


def test_a_name_resolving_to_loopback_is_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({"receiver.test": ["127.0.0.1"]}))
    with pytest.raises(RefusedDestination, match="receiver.test resolves to 127.0.0.1, which is a loopback address"):
        resolve_public("receiver.test", 80)
    with pytest.raises(RefusedDestination):
        resolve_public("receiver.test", 80, allowed_hosts=["other.test", "10.0.0.0/8"])
    # Allowed by name (whatever it resolves to), by its address, or by a network holding its address.
    assert resolve_public("receiver.test", 80, allowed_hosts=["Receiver.Test."]) == ["127.0.0.1"]
    assert resolve_public("receiver.test", 80, allowed_hosts=["127.0.0.1"]) == ["127.0.0.1"]
    assert resolve_public("receiver.test", 80, allowed_hosts=["127.0.0.0/8"]) == ["127.0.0.1"]


def test_an_allowed_address_does_not_allow_the_others_of_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({"two.test": ["127.0.0.1", "10.0.0.1"]}))
    with pytest.raises(RefusedDestination, match="10.0.0.1"):
        resolve_public("two.test", 80, allowed_hosts=["127.0.0.1"])


@pytest.mark.parametrize("spelling", ["2130706433", "0x7f000001", "127.1", "017700000001"])
def test_odd_spellings_of_loopback_are_judged_by_what_they_resolve_to(
    monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({}))  # the real resolver, numeric only
    check_url(f"http://{spelling}/hook")  # not an IP literal to ipaddress, so it passes the syntax check...
    with pytest.raises(RefusedDestination, match="127.0.0.1, which is a loopback address"):
        resolve_public(spelling, 80)  # ...and is refused once resolved
    with pytest.raises(RefusedDestination):
        post(f"http://{spelling}/hook", b"{}", {}, timeout=1.0, allowed_hosts=())


def test_a_name_that_does_not_resolve_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(NetworkError, match="could not resolve nowhere.example"):
        resolve_public("nowhere.example", 443)


# --- post: the loopback receiver, pinning, redirects, caps -----------------------------------------------------------


def test_the_loopback_receiver_is_reached_only_when_allowed(receiver: Receiver) -> None:
    url = f"http://127.0.0.1:{receiver.port}/hook?x=1"
    with pytest.raises(RefusedDestination, match="loopback"):
        post(url, b'{"a":1}', {"content-type": "application/json"}, timeout=5.0, allowed_hosts=())
    assert receiver.requests == []

    status, headers, latency = post(
        url, b'{"a":1}', {"content-type": "application/json"}, timeout=5.0, allowed_hosts=["127.0.0.1"]
    )
    assert status == 200
    assert headers["content-length"] == "2"  # names lower-cased
    assert latency > 0
    path, seen, body = receiver.requests[0]
    assert (path, body) == ("/hook?x=1", b'{"a":1}')
    assert seen["Host"] == f"127.0.0.1:{receiver.port}"


def test_a_name_connects_to_the_address_checked_and_sends_its_own_host_header(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver({"receiver.test": ["127.0.0.1"]}))
    status, _, _ = post(
        f"http://receiver.test:{receiver.port}/h", b"{}", {}, timeout=5.0, allowed_hosts=["receiver.test"]
    )
    assert status == 200
    assert receiver.requests[0][1]["Host"] == f"receiver.test:{receiver.port}"


def test_a_rebinding_resolver_never_reaches_the_loopback_receiver(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    """First answer public (checked, then connected to), every later answer 127.0.0.1: the name is looked up once."""
    lookups: list[str] = []
    public, loopback = fake_resolver({"rebind.test": ["1.1.1.1"]}), fake_resolver({"rebind.test": ["127.0.0.1"]})

    def rebinding(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if host == "rebind.test":
            lookups.append(host)
            return (public if len(lookups) == 1 else loopback)(host, *args, **kwargs)
        return public(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    # The connection goes to 1.1.1.1, which the test network guard blocks: nothing leaves the machine.
    with pytest.raises(NetworkError, match="could not connect to rebind.test"):
        post(f"http://rebind.test:{receiver.port}/hook", b"{}", {}, timeout=2.0, allowed_hosts=())
    assert lookups == ["rebind.test"]
    assert receiver.requests == []


def test_the_peer_is_checked_again_after_connecting(receiver: Receiver) -> None:
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=2.0) as sock:
        with pytest.raises(RefusedDestination, match="instead of the checked address 1.1.1.1"):
            net.check_peer(sock, "1.1.1.1", "rebind.test", ())
        with pytest.raises(RefusedDestination, match="127.0.0.1 is a loopback address"):
            net.check_peer(sock, "127.0.0.1", "rebind.test", ())
        net.check_peer(sock, "127.0.0.1", "rebind.test", ["127.0.0.1"])
        net.check_peer(sock, "127.0.0.1", "rebind.test", ["rebind.test"])


def test_a_redirect_is_returned_not_followed() -> None:
    hits: list[str] = []

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(307)
            self.send_header("location", "/internal")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        status, headers, _ = post(url, b"{}", {}, timeout=5.0, allowed_hosts=["127.0.0.1"])
    finally:
        server.shutdown()
        server.server_close()
    assert (status, headers["location"]) == (307, "/internal")
    assert hits == ["/hook"]


def test_the_answer_body_is_read_up_to_the_cap() -> None:
    big = b"x" * (net.MAX_BODY_BYTES * 4)

    class Chatty(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.send_response(500)
            self.send_header("content-length", str(len(big)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client stops reading: that is the point
                self.wfile.write(big)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chatty)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        response = net.exchange(url, b"{}", {}, timeout=5.0, allowed_hosts=["127.0.0.1"])
    finally:
        server.shutdown()
        server.server_close()
    assert response.status == 500
    assert len(response.body) == net.MAX_BODY_BYTES


def test_connection_refused_is_a_network_error_naming_only_the_host() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request: nothing listens there
    with pytest.raises(NetworkError) as failed:
        post(f"http://127.0.0.1:{port}/secret-path", b"{}", {}, timeout=2.0, allowed_hosts=["127.0.0.1"])
    assert str(failed.value) == f"connection refused by 127.0.0.1:{port}"
    assert not failed.value.timed_out


def test_redact_url_keeps_only_scheme_host_and_port() -> None:
    assert redact_url("https://hooks.slack.com/services/T0/B0/XyZ") == "https://hooks.slack.com/***"
    assert redact_url("http://[::1]:8080/a?token=1") == "http://[::1]:8080/***"
    assert redact_url("https://example.com") == "https://example.com"
    assert redact_url("https://example.com:99999/x") == "(an invalid URL)"
