"""WebFinger and NIP-05 answers for the demo's identities, in the shapes existing clients parse."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from waypost.api.cli import build_app
from waypost.demo import DemoWorld, start_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    demo = start_world(tmp_path_factory.mktemp("wf"), port=0, zmq=False, chain=False)
    try:
        yield demo
    finally:
        demo.close()


def test_webfinger_links_are_uris(world: DemoWorld) -> None:
    client = build_app(str(world.db)).test_client()
    jrd = client.get("/.well-known/webfinger?resource=acct:alice@id.bit")
    assert jrd.status_code == 200 and jrd.headers["Access-Control-Allow-Origin"] == "*"
    hrefs = {link["rel"].rsplit("/", 1)[-1]: link["href"] for link in jrd.get_json()["links"]}
    assert hrefs["email"] == "mailto:alice@example.org"  # RFC 6068, not "email:"
    assert hrefs["xmpp"] == "xmpp:alice@example.org"  # RFC 5122
    assert hrefs["nostr"].startswith("nostr:npub1")  # NIP-21
    only_email = client.get("/.well-known/webfinger?resource=acct:alice@id.bit&rel=https://waypost.dev/rel/email")
    assert [lk["href"] for lk in only_email.get_json()["links"]] == ["mailto:alice@example.org"]


def test_nip05_names_the_hex_key(world: DemoWorld) -> None:
    body = build_app(str(world.db)).test_client().get("/.well-known/nostr.json?name=alice").get_json()
    assert len(body["names"]["alice"]) == 64 and int(body["names"]["alice"], 16) >= 0
