"""The client's IP address: the socket peer, or on Render the X-Forwarded-For entry Render's edge vouches for.

Render puts Cloudflare in front of every service and its own proxy behind it; each appends to
X-Forwarded-For the address it received the connection from. So the header reaching the app ends with
`…, <client as Cloudflare saw it>, <Cloudflare edge as Render's proxy saw it>`, and anything to the left
of those two entries was written by the client and can be forged. With `hops` trusted proxies the client
is the entry `hops` places from the right (the one the outermost trusted proxy appended). Elsewhere
(hops = 0) the header is ignored and the socket peer is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from store.settings import Settings

RENDER_HOPS = 2


def trusted_hops(settings: Settings) -> int:
    if settings.forwarded_for_hops is not None:
        return settings.forwarded_for_hops
    return RENDER_HOPS if settings.render else 0


def shown_address(address: str | None) -> str | None:
    """An address as people read it: an IPv4-mapped IPv6 address (`::ffff:7f00:1`, what a dual-stack socket reports
    for an IPv4 client) as its IPv4 form (`127.0.0.1`); anything else unchanged."""
    if not address:
        return address
    try:
        parsed = ipaddress.ip_address(str(address).strip())
    except ValueError:
        return address
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped) if mapped is not None else str(parsed)


def _valid(address: str) -> str | None:
    try:
        ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    return shown_address(address)


def resolve_client_ip(forwarded_for: Iterable[str], peer: str | None, hops: int) -> str | None:
    """The client address from the X-Forwarded-For header values (in order received), the peer and `hops`."""
    if hops <= 0:
        return _valid(peer) if peer else None
    entries = [part.strip() for value in forwarded_for for part in value.split(",") if part.strip()]
    if not entries:
        return _valid(peer) if peer else None
    # Fewer entries than trusted proxies: the leftmost was still written by a trusted proxy.
    return _valid(entries[-min(hops, len(entries))])
