"""SSRF policy: every refused target (table-driven), the allow-list, and the IP-pinned connection."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator, Sequence

import pytest

from waypost.notify.ssrf import (
    UrlPolicy,
    open_pinned_connection,
    parse_allow_list,
    parse_webhook_url,
    resolve_target,
)
from waypost.registry.errors import ErrorCode, ParseError, ValidationError

# Offline DNS: names used by the table.
DNS: dict[str, tuple[str, ...]] = {
    "hooks.example.net": ("93.184.216.34",),
    "v6.example.net": ("2606:2800:220:1:248:1893:25c8:1946",),
    "internal.example.net": ("10.1.2.3",),
    "rebind.example.net": ("93.184.216.34", "127.0.0.1"),  # one bad answer among good ones
    "meta-alias.example.net": ("169.254.169.254",),
    "v6-loop.example.net": ("::1",),
    "mapped.example.net": ("::ffff:192.168.1.1",),
    "ula.example.net": ("fd12:3456::1",),
}


def resolver(host: str, port: int) -> Sequence[str]:
    del port
    return DNS.get(host, ())


NO_ALLOW = UrlPolicy()

REFUSED_SSRF = [
    # loopback
    "http://127.0.0.1/hook",
    "http://127.255.255.254/",
    "http://[::1]/",
    "http://localhost/",
    "http://api.localhost/",
    # private
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.0.10:8080/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    # link-local
    "http://169.254.1.1/",
    "http://[fe80::1]/",
    # metadata
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata.google.internal./",
    "http://100.100.100.200/",
    # unspecified, multicast, reserved, shared, documentation, broadcast
    "http://0.0.0.0/",
    "http://[::]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://100.64.0.1/",
    "http://192.0.2.1/",
    # IPv4-mapped / compatible / 6to4 / NAT64 IPv6 forms
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    # decimal / octal / hex / short spellings
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://127.0.0.1./",
    "http://017700000001/",
    "http://0/",
    "http://3232235777/",  # 192.168.1.1
    "http://0x08080808/",  # even a public IP: non-canonical spellings are ambiguous
    # DNS names resolving to refused addresses
    "http://internal.example.net/",
    "https://rebind.example.net/",
    "http://meta-alias.example.net/",
    "http://v6-loop.example.net/",
    "http://mapped.example.net/",
    "http://ula.example.net/",
]

REFUSED_URL = [
    "ftp://hooks.example.net/",
    "file:///etc/passwd",
    "gopher://hooks.example.net/",
    "javascript:alert(1)",
    "http://user:pass@hooks.example.net/",
    "http://user@hooks.example.net/",
    "http://hooks.example.net@127.0.0.1/",
    "http:///nohost",
    "http://hooks.example.net:0/",
    "http://hooks.example.net:99999/",
    "http://hooks example.net/",
    "http://hooks.example.net\\@127.0.0.1/",
    "http://[fe80::1%25eth0]/",
    "http://under_score.example.net/",
    "",
    "hooks.example.net/hook",
]


@pytest.mark.parametrize("url", REFUSED_SSRF)
def test_refused_as_ssrf(url: str) -> None:
    with pytest.raises(ValidationError) as exc:
        resolve_target(parse_webhook_url(url), NO_ALLOW, resolver)
    assert exc.value.code == ErrorCode.WEBHOOK_SSRF


@pytest.mark.parametrize("url", REFUSED_URL)
def test_refused_as_bad_url(url: str) -> None:
    with pytest.raises(ParseError) as exc:
        resolve_target(parse_webhook_url(url), NO_ALLOW, resolver)
    assert exc.value.code == ErrorCode.WEBHOOK_BAD_URL


def test_unresolvable_name() -> None:
    with pytest.raises(ValidationError) as exc:
        resolve_target(parse_webhook_url("https://nx.example.net/"), NO_ALLOW, resolver)
    assert exc.value.code == ErrorCode.WEBHOOK_UNREACHABLE


@pytest.mark.parametrize(
    ("url", "ip", "host_header"),
    [
        ("https://hooks.example.net/h?x=1", "93.184.216.34", "hooks.example.net"),
        ("http://hooks.example.net:8080/h", "93.184.216.34", "hooks.example.net:8080"),
        ("https://v6.example.net/", "2606:2800:220:1:248:1893:25c8:1946", "v6.example.net"),
        ("https://93.184.216.34/", "93.184.216.34", "93.184.216.34"),
        ("https://[2606:4700::1111]/", "2606:4700::1111", "[2606:4700::1111]"),
        ("HTTPS://HOOKS.Example.NET/", "93.184.216.34", "hooks.example.net"),
    ],
)
def test_public_targets_pass(url: str, ip: str, host_header: str) -> None:
    target = resolve_target(parse_webhook_url(url), NO_ALLOW, resolver)
    assert str(target.ip) == ip
    assert target.url.host_header == host_header


def test_allow_list_lets_loopback_and_named_targets_through() -> None:
    policy = parse_allow_list(["127.0.0.1/32", "internal.example.net:8443", "fd12:3456::/32"])
    assert str(resolve_target(parse_webhook_url("http://127.0.0.1:9000/h"), policy, resolver).ip) == "127.0.0.1"
    assert str(resolve_target(parse_webhook_url("https://internal.example.net:8443/"), policy, resolver).ip) == "10.1.2.3"
    assert str(resolve_target(parse_webhook_url("http://ula.example.net/"), policy, resolver).ip) == "fd12:3456::1"
    # only what is listed: another loopback address, another port, other private ranges stay refused
    for url in ("http://127.0.0.2/", "https://internal.example.net/", "http://10.0.0.1/", "http://[::1]/"):
        with pytest.raises(ValidationError) as exc:
            resolve_target(parse_webhook_url(url), policy, resolver)
        assert exc.value.code == ErrorCode.WEBHOOK_SSRF, url


def test_https_only_policy_refuses_http() -> None:
    with pytest.raises(ParseError) as exc:
        resolve_target(parse_webhook_url("http://hooks.example.net/"), UrlPolicy(allow_http=False), resolver)
    assert exc.value.code == ErrorCode.WEBHOOK_BAD_URL


@pytest.mark.parametrize("entry", ["not-a-cidr", "host:", "host:0", "10.0.0.0/33"])
def test_bad_allow_list_entries(entry: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse_allow_list([entry])
    assert exc.value.code == ErrorCode.WEBHOOK_BAD_URL


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        _Recorder.seen.append((self.headers.get("Host", ""), self.client_address[0], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        del format, args


@pytest.fixture
def loopback_server() -> Iterator[int]:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_connection_goes_to_the_checked_ip_with_the_names_host_header(loopback_server: int) -> None:
    port = loopback_server
    answers = ["127.0.0.1"]
    calls: list[str] = []

    def rebinding_resolver(host: str, p: int) -> Sequence[str]:
        # A rebinding attacker answers differently on every lookup; only one lookup happens.
        calls.append(host)
        out = list(answers)
        answers[0] = "10.9.9.9"
        return out

    policy = parse_allow_list(["127.0.0.1/32"])
    target = resolve_target(parse_webhook_url(f"http://hook.test.example:{port}/in"), policy, rebinding_resolver)
    conn = open_pinned_connection(target, timeout_s=5)
    try:
        conn.request("POST", target.url.target, body=b"hi", headers={"content-type": "text/plain"})
        assert conn.getresponse().status == 204
    finally:
        conn.close()
    assert calls == ["hook.test.example"]
    assert _Recorder.seen == [(f"hook.test.example:{port}", "127.0.0.1", "hi")]
