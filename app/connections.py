"""What `attain serve` answers before (or instead of) the ASGI app: the connection-level refusals and the rules
for them, kept apart from the protocol class (app/server.py) that applies them.

- Open connections are capped in total and per client address (per worker process). The per-address cap holds
  for direct clients only: a trusted proxy (ATTAIN_TRUSTED_PROXIES, the same list uvicorn believes
  X-Forwarded-* headers from) carries many people's connections and is left to its own limits.
- Request heads are capped: a line of more than `max_header_line_bytes`, or more than `max_header_bytes` in all,
  is answered 431.

Each refusal is an RFC 9457 problem written as raw HTTP (no request reached the app, or none ever will), in the
service's default language: the request's Accept-Language is not known yet, or not trusted to be read whole.
"""

import ipaddress
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import orjson

from app.errors import PROBLEM, TYPE_BASE
from app.i18n import Lang, Message, _
from app.settings import Settings

# Retry-After of the 503s: a connection slot frees up as soon as another client's answer is sent.
RETRY_AFTER_SECONDS = 5

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """ATTAIN_TRUSTED_PROXIES: comma-separated addresses and networks, or `*` for every peer."""

    def __init__(self, spec: str) -> None:
        items = [p.strip() for p in spec.split(",") if p.strip()]
        self.everyone = "*" in items
        self.networks: list[Network] = [ipaddress.ip_network(p, strict=False) for p in items if p != "*"]

    def __contains__(self, host: str) -> bool:
        if self.everyone:
            return True
        try:
            address: Address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a unix socket's peer: never a proxy we were told about
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class Limits:
    """The connection-level limits of one worker, read from the settings once."""

    header_timeout: float
    max_header_line: int
    max_header_bytes: int
    max_connections: int
    max_per_client: int
    trusted: TrustedProxies
    lang: Lang

    @classmethod
    def of(cls, s: Settings) -> "Limits":
        return cls(header_timeout=s.header_timeout_seconds, max_header_line=s.max_header_line_bytes,
                   max_header_bytes=s.max_header_bytes, max_connections=s.max_connections,
                   max_per_client=s.max_connections_per_client, trusted=TrustedProxies(s.trusted_proxies),
                   lang=s.default_lang)


class ClientCounts:
    """Open connections per direct client address in this process (the event loop's thread only)."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()

    def admit(self, host: str, cap: int) -> bool:
        """Count one more connection of `host`, unless it already holds `cap`."""
        if self.open[host] >= cap:
            return False
        self.open[host] += 1
        return True

    def release(self, host: str) -> None:
        self.open[host] -= 1
        if self.open[host] <= 0:
            del self.open[host]


def raw_problem(status: int, reason: str, slug: str, code: str, title: Message, detail: Message, *, lang: Lang,
                retry_after: int | None = None) -> bytes:
    """A whole HTTP/1.1 response carrying a problem document, after which the connection is closed."""
    body = orjson.dumps({"type": TYPE_BASE + slug, "title": title.render(lang), "status": status, "code": code,
                         "detail": detail.render(lang)})
    head = [f"HTTP/1.1 {status} {reason}", f"content-type: {PROBLEM}", f"content-length: {len(body)}",
            "connection: close"]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@lru_cache
def header_timeout(lang: Lang) -> bytes:
    return raw_problem(408, "Request Timeout", "request-timeout", "header_timeout", _("Request Timeout"),
                       _("The request headers were not received in time."), lang=lang)


@lru_cache
def header_too_large(lang: Lang, line: int, total: int) -> bytes:
    return raw_problem(431, "Request Header Fields Too Large", "header-too-large", "header_too_large",
                       _("Request headers too large"),
                       _("A request line or header may be at most {line} bytes, and all of them {total} bytes "
                         "together.", line=line, total=total), lang=lang)


@lru_cache
def server_busy(lang: Lang) -> bytes:
    return raw_problem(503, "Service Unavailable", "service-unavailable", "too_many_connections",
                       _("Service Unavailable"),
                       _("The server holds as many connections as it may; retry in a few seconds."),
                       lang=lang, retry_after=RETRY_AFTER_SECONDS)


@lru_cache
def client_busy(lang: Lang, cap: int) -> bytes:
    return raw_problem(503, "Service Unavailable", "service-unavailable", "too_many_client_connections",
                       _("Too many connections"),
                       _("Your address already holds {cap} open connections, the most one client may; close one "
                         "or retry in a few seconds.", cap=cap), lang=lang, retry_after=RETRY_AFTER_SECONDS)
