"""The outbound-network guard: alert requests go only to http(s) URLs on public addresses (no SSRF), pinned at connect.

A rule's owner chooses the URL, so a webhook could otherwise probe services on our private network or the cloud
metadata address. The host is resolved once; every address it resolves to must be public (or allowed by the
operator in ALERT_WEBHOOK_ALLOWED_HOSTS); the connection then goes to the exact address that was checked (the
HTTP library never resolves the name again, so DNS rebinding cannot swap in another address), and the socket's
peer is checked once more after connecting. Redirects are not followed. Error messages name the host, never the
URL's path or query (a Slack URL's path is its credential).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import connection as urllib3_connection

from store.errors import first_line
from store.redaction import redact

ALLOWED_HOSTS_SETTING = "ALERT_WEBHOOK_ALLOWED_HOSTS"
MAX_BODY_BYTES = 64 * 1024  # what we read of a receiver's answer: we need its status, not its page
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix: the last 32 bits are an IPv4 address
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT space, not reachable from the internet
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RefusedDestination(ValueError):
    """An alert URL or address that the guard will not send to; the message says why and how to allow it."""


class NetworkError(OSError):
    """A request that got no HTTP answer (name not found, refused, timed out, TLS); a one-line, path-free message."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    latency_ms: float
    body: bytes  # at most MAX_BODY_BYTES


def redact_url(url: str) -> str:
    """`url` as it may be shown or stored in an error: scheme, host and port, the path and query masked."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc += f":{parts.port}"
    except ValueError:
        return "(an invalid URL)"
    masked = "/***" if (parts.path not in ("", "/") or parts.query) else parts.path
    return f"{parts.scheme}://{netloc}{masked}"


def check_url(url: str, allowed_hosts: Collection[str] = ()) -> None:
    """Refuse a URL that is not http(s), has no host, carries credentials, or names a non-public IP literal."""
    _parts(url, allowed_hosts)


def resolve_public(host: str, port: int, allowed_hosts: Collection[str] = ()) -> list[str]:
    """The addresses `host` resolves to, if every one of them is public or allowed; RefusedDestination otherwise.

    All answers are checked, not only the first: a name that also resolves to a private address is refused, so it
    cannot win on a later connection attempt. A name listed in `allowed_hosts` is trusted whatever it resolves
    to; an IP or network (CIDR) listed there allows those addresses under any name.
    """
    name = _normal_host(host)
    allowance = _Allowance.of(allowed_hosts)
    try:
        answers = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise NetworkError(f"could not resolve {name}: {first_line(exc)}") from None
    addresses: list[str] = []
    for *_, sockaddr in answers:
        text = str(sockaddr[0])
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise NetworkError(f"could not resolve {name}: no address")
    if allowance.allows_name(name):
        return addresses
    for text in addresses:
        reason = _refusal(_address(text), allowance)
        if reason is not None:
            subject = text if _is_ip_literal(name) else f"{name} resolves to {text}, which"
            raise RefusedDestination(_refusal_message(subject, reason))
    return addresses


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allowed_hosts: Collection[str]
) -> tuple[int, dict[str, str], float]:
    """POST `body` to `url` through the guard: (status, headers lower-cased, latency in ms).

    Raises RefusedDestination for a URL or address the guard refuses, NetworkError when no answer came.
    """
    response = exchange(url, body, headers, timeout=timeout, allowed_hosts=allowed_hosts)
    return response.status, response.headers, response.latency_ms


def exchange(
    url: str, body: bytes, headers: Mapping[str, str], *, timeout: float, allowed_hosts: Collection[str]
) -> Response:
    """`post`, also returning the first MAX_BODY_BYTES of the answer (Slack explains a failure in its body)."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    parts, host = _parts(url, allowed_hosts)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve_public(host, port, allowed_hosts)
    except NetworkError as exc:
        raise NetworkError(_clean(str(exc), url)) from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last_error: NetworkError | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        pool = _pool(parts.scheme, host, port, address, remaining, allowed_hosts)
        try:
            answer = pool.urlopen(
                "POST", target, body=body, headers=dict(headers), redirect=False, retries=False, preload_content=False
            )
        except (NewConnectionError, ConnectTimeoutError) as exc:
            # Nothing was sent: the next address of the same name may answer.
            last_error = _network_error(exc, host, port, timeout, url)
            pool.close()
            continue
        except (HTTPError, OSError) as exc:
            pool.close()
            raise _network_error(exc, host, port, timeout, url) from None
        try:
            content = _read_capped(answer, deadline)
            return Response(
                status=answer.status,
                headers={k.lower(): v for k, v in answer.headers.items()},
                latency_ms=(time.perf_counter() - started) * 1000.0,
                body=content,
            )
        finally:
            answer.close()
            pool.close()
    raise last_error or NetworkError(f"timed out after {timeout:g} s connecting to {host}", timed_out=True)


def check_peer(sock: socket.socket, expected: str, host: str, allowed_hosts: Collection[str] = ()) -> None:
    """After connecting: the socket's peer must be the address that was checked, and still pass the rule."""
    peer = str(sock.getpeername()[0])
    peer_address = _address(peer)
    if peer_address != _address(expected):
        raise RefusedDestination(f"connected to {peer} instead of the checked address {expected}; not sending")
    allowance = _Allowance.of(allowed_hosts)
    if allowance.allows_name(_normal_host(host)):
        return
    reason = _refusal(peer_address, allowance)
    if reason is not None:
        raise RefusedDestination(_refusal_message(peer, reason))


def _parts(url: str, allowed_hosts: Collection[str]) -> tuple[SplitResult, str]:
    if not isinstance(url, str) or not url.strip():
        raise RefusedDestination("the URL is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise RefusedDestination("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedDestination("the URL is not valid (check the host and the port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise RefusedDestination(f"only http and https URLs are allowed (got {scheme or 'no scheme'!r})")
    if "@" in parts.netloc:
        raise RefusedDestination("the URL must not contain a user name or password")
    host = _normal_host(parts.hostname or "")
    if not host:
        raise RefusedDestination("the URL has no host")
    if port == 0:
        raise RefusedDestination("the URL's port must be between 1 and 65535")
    if _is_ip_literal(host):
        reason = _refusal(_address(host), _Allowance.of(allowed_hosts))
        if reason is not None:
            raise RefusedDestination(_refusal_message(host, reason))
    return parts._replace(scheme=scheme), host


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _is_ip_literal(host: str) -> bool:
    try:
        _address(host)
    except ValueError:
        return False
    return True


def _address(text: str) -> _Address:
    return ipaddress.ip_address(text.split("%", 1)[0])  # a link-local IPv6 answer carries a zone: fe80::1%eth0


@dataclass(frozen=True)
class _Allowance:
    names: frozenset[str]
    networks: tuple[_Network, ...]

    @classmethod
    def of(cls, allowed_hosts: Collection[str]) -> _Allowance:
        names: set[str] = set()
        networks: list[_Network] = []
        for entry in allowed_hosts:
            item = _normal_host(str(entry))
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.split("%", 1)[0], strict=False))
            except ValueError:
                names.add(item)
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return host in self.names

    def allows_address(self, address: _Address) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


def _refusal(address: _Address, allowance: _Allowance) -> str | None:
    """Why `address` may not be a destination ("a loopback address", ...), or None when it may."""
    if allowance.allows_address(address):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        form, inner = embedded
        if allowance.allows_address(inner):
            return None
        reason = _kind(inner)
        return None if reason is None else f"{form} of {inner}, {reason}"
    return _kind(address)


def _embedded_ipv4(address: _Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), judged by the IPv4 rule."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return "an IPv4-mapped form", address.ipv4_mapped
    if address.sixtofour is not None:
        return "a 6to4 form", address.sixtofour
    if address in _NAT64:
        return "a NAT64 form", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: _Address) -> str | None:
    # Order matters: 169.254.169.254 is private too, but "link-local" is the useful word (the metadata address).
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),  # ipaddress calls 224.0.0.0/4 global
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local address"),
        (address.is_private, "a private address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "a shared (carrier-grade NAT) address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for hit, reason in checks if hit), None)


def _refusal_message(subject: str, reason: str) -> str:
    return f"{subject} is {reason}; list the host in {ALLOWED_HOSTS_SETTING} to allow it"


class _PinnedHTTPConnection(HTTPConnection):
    """Connects to the address the guard checked (never resolving the name again), then checks the peer."""

    def __init__(self, *args: Any, pinned_address: str, allowed_hosts: Collection[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pinned_address = pinned_address
        self.allowed_hosts = tuple(allowed_hosts)

    def _new_conn(self) -> socket.socket:
        try:
            sock = urllib3_connection.create_connection(
                (self.pinned_address, self.port),
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"connecting to {self.host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"failed to connect: {exc}") from exc
        try:
            check_peer(sock, self.pinned_address, self.host, self.allowed_hosts)
        except (RefusedDestination, OSError):
            sock.close()
            raise
        return sock


class _PinnedHTTPSConnection(_PinnedHTTPConnection, HTTPSConnection):
    """HTTPS to the checked address; the certificate is verified against the URL's host name (self.host)."""


class _PinnedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


def _pool(
    scheme: str, host: str, port: int, address: str, timeout: float, allowed_hosts: Collection[str]
) -> urllib3.HTTPConnectionPool:
    limits = urllib3.Timeout(total=timeout)
    allowed = tuple(allowed_hosts)
    if scheme == "https":
        return _PinnedHTTPSPool(
            host,
            port,
            timeout=limits,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            pinned_address=address,
            allowed_hosts=allowed,
        )
    return _PinnedHTTPPool(
        host, port, timeout=limits, maxsize=1, retries=False, pinned_address=address, allowed_hosts=allowed
    )


def _read_capped(answer: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
    """Up to MAX_BODY_BYTES of the answer, stopping at the deadline; a body cut short still leaves the status."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < MAX_BODY_BYTES and time.monotonic() < deadline:
            chunk = answer.read1(min(16 * 1024, MAX_BODY_BYTES - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (HTTPError, OSError):
        pass  # the receiver answered: its status is what counts
    return b"".join(chunks)[:MAX_BODY_BYTES]


def _network_error(exc: BaseException, host: str, port: int, timeout: float, url: str) -> NetworkError:
    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, ConnectionRefusedError):
        return NetworkError(f"connection refused by {host}:{port}")
    if isinstance(exc, NewConnectionError):  # a subclass of ConnectTimeoutError in urllib3 2, but not a timeout
        return NetworkError(_clean(f"could not connect to {host}:{port}: {first_line(cause)}", url))
    if isinstance(exc, (Urllib3Timeout, TimeoutError)):
        return NetworkError(f"timed out after {timeout:g} s waiting for {host}", timed_out=True)
    if isinstance(exc, SSLError) or cause.__class__.__module__ == "ssl":
        return NetworkError(_clean(f"TLS with {host} failed: {first_line(cause)}", url))
    if isinstance(exc, ProtocolError):
        return NetworkError(_clean(f"{host} closed the connection: {first_line(cause)}", url))
    return NetworkError(_clean(f"could not reach {host}:{port}: {first_line(cause)}", url))


def _clean(text: str, url: str) -> str:
    """One line with the URL's path and query masked and every registered secret redacted."""
    parts = urlsplit(url)
    for piece in (url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.query, parts.path):
        if piece and piece != "/":
            text = text.replace(piece, "/***")
    return redact(" ".join(text.split()))
