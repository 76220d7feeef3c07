"""Webhook URL policy (core) plus resolution and an IP-pinned HTTP connection (shell).

The policy refuses private, loopback, link-local, metadata, multicast, reserved and
unspecified targets unless the operator allow-list permits them; the connection then
goes to the very IP that was checked (no second DNS lookup, so no DNS rebinding).
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from waypost.registry.errors import ErrorCode, ParseError, ValidationError

__all__ = [
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "UrlPolicy",
    "WebhookUrl",
    "Target",
    "METADATA_HOSTS",
    "METADATA_IPS",
    "parse_allow_list",
    "parse_webhook_url",
    "validate_ip",
    "validate_url",
    "resolve_target",
    "system_resolver",
    "PinnedHTTPConnection",
    "PinnedHTTPSConnection",
    "open_pinned_connection",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the IP addresses the name resolves to (text); injected so tests stay offline.
Resolver = Callable[[str, int], Sequence[str]]

# Cloud metadata services: GCP names, AWS/GCP/Azure 169.254.169.254, AWS IPv6 fd00:ec2::254,
# Alibaba 100.100.100.200, Oracle 192.0.0.192. All are also non-global, refused twice over.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data"})
METADATA_IPS = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_MAX_URL_CHARS = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A host that an inet_aton-style parser would read as an IPv4 address: 1-4 parts of
# decimal, octal (leading 0) or hex (0x) numbers (e.g. 2130706433, 0x7f.1, 0177.0.0.1).
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)
_CANONICAL_V4 = re.compile(r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class UrlPolicy:
    """Operator allow-list: networks and exact ``host:port`` pairs exempt from the refusals.

    Attributes:
        allow_networks: CIDRs whose addresses may be targets (e.g. ``127.0.0.1/32`` in tests).
        allow_hostports: ``(host, port)`` pairs allowed whatever they resolve to.
        allow_http: allow plain ``http`` targets (``https`` is always allowed).
    """

    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hostports: tuple[tuple[str, int], ...] = ()
    allow_http: bool = True

    def allows_ip(self, ip: IPAddress) -> bool:
        """True when ``ip`` lies in an allow-listed network."""
        return any(ip.version == net.version and ip in net for net in self.allow_networks)

    def allows_hostport(self, host: str, port: int) -> bool:
        """True when ``host:port`` is allow-listed exactly."""
        return (host, port) in self.allow_hostports


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookUrl:
    """A parsed webhook URL: ``host`` is lowercase (IPv6 without brackets), ``target`` is path+query."""

    scheme: str
    host: str
    port: int
    target: str
    text: str

    @property
    def host_header(self) -> str:
        """The ``Host`` header value (RFC 9110 §7.2: port only when not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where to connect: the checked IP, and the URL it stands for."""

    url: WebhookUrl
    ip: IPAddress


def _ssrf(message: str, **fields: object) -> ValidationError:
    return ValidationError(ErrorCode.WEBHOOK_SSRF, message, **fields)


def _bad_url(message: str, **fields: object) -> ParseError:
    return ParseError(ErrorCode.WEBHOOK_BAD_URL, message, **fields)


def parse_allow_list(entries: Sequence[str]) -> UrlPolicy:
    """Build a policy from operator entries: CIDRs (``10.0.0.0/8``, ``::1/128``) or ``host:port``.

    Raises:
        ParseError: ``webhook.bad-url`` for an entry that is neither.
    """
    nets: list[IPNetwork] = []
    pairs: list[tuple[str, int]] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        host, sep, port_text = entry.rpartition(":")
        host = host.strip("[]").lower()
        if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _bad_url(f"allow-list entry {entry!r} is neither a CIDR nor host:port", entry=entry)
        pairs.append((host, int(port_text)))
    return UrlPolicy(allow_networks=tuple(nets), allow_hostports=tuple(pairs))


def parse_webhook_url(text: str) -> WebhookUrl:
    """Parse a webhook URL and refuse what is never acceptable (whatever the allow-list).

    Args:
        text: an absolute ``http``/``https`` URL.

    Returns:
        The parsed URL.

    Raises:
        ParseError: ``webhook.bad-url`` for a malformed URL, another scheme, user info
            (``user:pass@``), a fragment-only oddity, bad port or host characters.
    """
    if not text or len(text) > _MAX_URL_CHARS or not text.isascii() or any(c.isspace() or ord(c) < 0x21 for c in text):
        raise _bad_url("the URL must be 1..2048 printable ASCII characters without spaces")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise _bad_url(f"malformed URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _bad_url(f"scheme {scheme!r} is not http or https", scheme=scheme)
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise _bad_url("user info in the URL is refused (credentials leak, host confusion)")
    if "\\" in text:
        raise _bad_url("backslashes are refused (parsers disagree on them)")
    host = (parts.hostname or "").lower()
    if not host:
        raise _bad_url("the URL has no host")
    if port == 0:
        raise _bad_url("port 0 is not a port")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return WebhookUrl(scheme=scheme, host=host, port=port or _DEFAULT_PORTS[scheme], target=target, text=text)


def _literal_ip(host: str) -> IPAddress | None:
    """The IP address a host literally is, or None for a DNS name.

    Raises:
        ValidationError: ``webhook.ssrf`` for a non-canonical numeric spelling (decimal,
            octal or hex forms that inet_aton accepts and others read differently).
    """
    if ":" in host:
        if "%" in host:
            raise _bad_url(f"IPv6 zone ids are refused: {host!r}")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise _bad_url(f"bad IPv6 literal {host!r}") from exc
    if _CANONICAL_V4.match(host):
        return ipaddress.IPv4Address(host)
    if _NUMERIC_HOST.match(host):
        raise _ssrf(f"host {host!r} is a non-canonical IPv4 spelling; write dotted decimal", host=host)
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    packed = ip.packed
    # IPv4-compatible ::a.b.c.d (deprecated, RFC 4291 §2.5.5.1) and NAT64 64:ff9b::/96 (RFC 6052).
    if packed[:12] == bytes(12) or packed[:12] == bytes.fromhex("0064ff9b0000000000000000"):
        return ipaddress.IPv4Address(packed[12:])
    return None


def _refusal(ip: IPAddress) -> str | None:
    if ip in METADATA_IPS:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            why = _refusal(inner)
            return None if why is None else f"an IPv6 form of {inner}, {why}"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a globally routable address"  # shared 100.64/10, documentation ranges...
    return None


def validate_ip(ip: IPAddress, policy: UrlPolicy) -> None:
    """Refuse a target IP the policy does not allow.

    Raises:
        ValidationError: ``webhook.ssrf`` naming why (loopback, private, link-local, metadata...).
    """
    if policy.allows_ip(ip):
        return
    why = _refusal(ip)
    if why is not None:
        raise _ssrf(f"{ip} is {why}", ip=str(ip))


def _validate_hostname(host: str) -> None:
    name = host.rstrip(".")
    if name in METADATA_HOSTS:
        raise _ssrf(f"{host} is a cloud metadata host", host=host)
    if name == "localhost" or name.endswith(".localhost"):
        raise _ssrf(f"{host} is loopback by definition (RFC 6761 §6.3)", host=host)
    labels = name.split(".")
    if not name or not all(_HOST_LABEL.match(label) for label in labels):
        raise _bad_url(f"host {host!r} is not a DNS name (use A-labels)", host=host)


def validate_url(url: WebhookUrl, policy: UrlPolicy) -> IPAddress | None:
    """Apply the policy to what the URL itself says (before any DNS lookup).

    Returns:
        The literal IP when the host is one (already checked), else None (a DNS name).

    Raises:
        ParseError: ``webhook.bad-url``.
        ValidationError: ``webhook.ssrf``.
    """
    if url.scheme == "http" and not policy.allow_http:
        raise _bad_url("plain http webhooks are disabled; use https")
    allowed = policy.allows_hostport(url.host, url.port)
    ip = _literal_ip(url.host)
    if ip is None:
        if not allowed:
            _validate_hostname(url.host)
        return None
    if not allowed:
        validate_ip(ip, policy)
    return ip


def resolve_target(url: WebhookUrl, policy: UrlPolicy, resolver: Resolver) -> Target:
    """Check the URL, resolve its host once, check every address, and pin the first.

    Every resolved address must pass: a name with one private address among public ones
    is refused (the attacker controls which one a later lookup returns).

    Args:
        url: a parsed webhook URL.
        policy: the operator allow-list.
        resolver: ``(host, port) -> IP texts`` (``system_resolver`` in production).

    Returns:
        The target to connect to.

    Raises:
        ParseError: ``webhook.bad-url``.
        ValidationError: ``webhook.ssrf``; ``webhook.unreachable`` when the name does not resolve.
    """
    literal = validate_url(url, policy)
    if literal is not None:
        return Target(url=url, ip=literal)
    allowed = policy.allows_hostport(url.host, url.port)
    answers = list(resolver(url.host, url.port))
    if not answers:
        raise ValidationError(ErrorCode.WEBHOOK_UNREACHABLE, f"{url.host} does not resolve", host=url.host)
    ips: list[IPAddress] = []
    for text in answers:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError as exc:
            raise ValidationError(ErrorCode.WEBHOOK_UNREACHABLE, f"{url.host} resolved to garbage") from exc
        if not allowed:
            try:
                validate_ip(ip, policy)
            except ValidationError as exc:
                raise _ssrf(f"{url.host} resolves to {exc.message}", host=url.host, ip=str(ip)) from exc
        ips.append(ip)
    return Target(url=url, ip=ips[0])


# --- shell: resolution and the pinned connection ----------------------------------------


def system_resolver(host: str, port: int) -> Sequence[str]:
    """Resolve with the system resolver (``getaddrinfo``); failures give an empty answer."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return ()
    out: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in out:
            out.append(addr)
    return out


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a fixed IP; ``Host`` still names the URL's host (http.client sends ``self.host``)."""

    def __init__(self, target: Target, *, timeout_s: float) -> None:
        super().__init__(target.url.host, target.url.port, timeout=timeout_s)
        self._pinned_ip = str(target.ip)

    def connect(self) -> None:
        """Connect to the checked IP, never to a fresh lookup of the name."""
        self.sock = socket.create_connection((self._pinned_ip, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed IP with SNI and certificate checks for the URL's host name."""

    def __init__(self, target: Target, *, timeout_s: float, context: ssl.SSLContext | None = None) -> None:
        ctx = context or ssl.create_default_context()
        super().__init__(target.url.host, target.url.port, timeout=timeout_s, context=ctx)
        self._pinned_ip = str(target.ip)
        self._ctx = ctx

    def connect(self) -> None:
        """TCP to the checked IP, then TLS with ``server_hostname`` = the URL host (SNI + name check)."""
        raw = socket.create_connection((self._pinned_ip, self.port), self.timeout)
        try:
            self.sock = self._ctx.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def open_pinned_connection(
    target: Target, *, timeout_s: float, context: ssl.SSLContext | None = None
) -> http.client.HTTPConnection:
    """A connection to ``target.ip`` for ``target.url`` (http or https). Redirects are never followed."""
    if target.url.scheme == "https":
        return PinnedHTTPSConnection(target, timeout_s=timeout_s, context=context)
    return PinnedHTTPConnection(target, timeout_s=timeout_s)
