"""Who is calling, whether they may, and how much unverified work they may cost us.

``X-Forwarded-For`` is believed only from the operator's own proxies; an IPv4 client seen
through an IPv6 socket (``::ffff:10.0.0.1``) is the IPv4 client it is. Requests that fail
the signature (or are not even a message) spend a per-peer budget; past it, a peer's
requests get HTTP 429 unless they are correctly signed (one HMAC of a bounded body: behind
a proxy an attacker may share the platform's address). Failures of ours (the database)
never spend it.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=4096)  # parsing costs more than the rest of the check; a peer calls often
def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@functools.lru_cache(maxsize=4096)
def normal(address: str) -> str:
    """The address as one writes it: IPv4-mapped IPv6 as plain IPv4."""
    ip = _ip(address)
    return str(ip) if ip is not None else address


class ClientPolicy:
    """The allow-list and the trusted proxies."""

    def __init__(self, allow: list[str], proxies: list[str]) -> None:
        self.allow = [ipaddress.ip_network(a, strict=False) for a in allow]
        self.proxies = [ipaddress.ip_network(p, strict=False) for p in proxies]

    @staticmethod
    def _in(address: str, networks: list[Network]) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in networks)

    def peer(self, scope: dict[str, Any]) -> tuple[str, str]:
        """(address, as shown) of the client: the connection's, or, behind a trusted proxy,
        the last address in X-Forwarded-For (every such header, in order) that is not
        itself a trusted proxy."""
        client = scope.get("client")
        address = normal(client[0]) if client else ""
        if self.proxies and self._in(address, self.proxies):
            hops = [
                hop.strip()
                for name, value in scope["headers"]
                if name == b"x-forwarded-for"
                for hop in value.decode("latin-1").split(",")
                if hop.strip()
            ]
            for hop in reversed(hops):
                if not self._in(hop, self.proxies):
                    return normal(hop), f"{normal(hop)} via {address}"
        return address, f"{address}:{client[1]}" if client else ""

    def allowed(self, address: str) -> bool:
        return not self.allow or self._in(address, self.allow)

    def may_connect(self, address: str) -> bool:
        """At accept, before a byte is read: an allowed address, one of our proxies (whose
        clients are judged per request), or this machine (health checks, the operator)."""
        if not self.allow:
            return True
        ip = _ip(address)
        return ip is not None and (ip.is_loopback or self._in(address, self.allow) or self._in(address, self.proxies))

    def limited(self, address: str) -> bool:
        """Whether connections from ``address`` count against the per-peer limit (a
        trusted proxy carries many clients, this machine is the operator's)."""
        ip = _ip(address)
        return ip is not None and not ip.is_loopback and not self._in(address, self.proxies)


class Budget:
    """A token bucket per peer: ``per_minute`` unverified requests, refilled continuously.

    At most ``max_peers`` peers are remembered (the least recently seen is forgotten), so
    the budget itself cannot be made to grow without bound.
    """

    def __init__(self, per_minute: int, max_peers: int = 10_000) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_peers = max_peers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._warned: dict[str, float] = {}

    def _level(self, peer: str, now: float) -> float:
        tokens, since = self._buckets.get(peer, (self.capacity, now))
        return min(self.capacity, tokens + (now - since) * self.rate)

    def exhausted(self, peer: str) -> bool:
        """Whether ``peer`` has spent its budget (and is answered 429 until it refills)."""
        if not self.capacity or peer not in self._buckets:
            return False
        now = time.monotonic()
        if self._level(peer, now) >= 1.0:
            return False
        if now - self._warned.get(peer, float("-inf")) > 60:
            self._warned[peer] = now
            log.warning("peer %s spent its budget of unverified requests: answering 429", peer)
        return True

    def spend(self, peer: str) -> None:
        if not self.capacity:
            return
        now = time.monotonic()
        self._buckets[peer] = (max(0.0, self._level(peer, now) - 1.0), now)
        self._buckets.move_to_end(peer)
        while len(self._buckets) > self.max_peers:
            self._buckets.popitem(last=False)
