"""Name rules against namecoin-core on mainnet/testnet: expiry schedule, historic bugs, sanity checks."""

from __future__ import annotations

import hashlib

import pytest

from waypost.api.names import record_json
from waypost.indexer import state as st
from waypost.indexer.params import (
    BUG_FULLY_APPLY,
    BUG_FULLY_IGNORE,
    BUG_IN_UTXO,
    Network,
    historic_bug,
    name_expiration_depth,
    name_expires_at,
    name_is_expired,
)
from waypost.registry.errors import ChainError, ErrorCode
from waypost.registry.model import BlockHash, Hash160, Txid


def _txid(n: int) -> Txid:
    return Txid(n.to_bytes(32, "little"))


def _bh(n: int) -> BlockHash:
    return BlockHash(hashlib.sha256(b"block%d" % n).digest())


def _commit(rand: bytes, name: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(rand + name).digest()).digest()


def _connect(view: st.DictStateView, height: int, ops: list[st.TxNameOp], network: str = "mainnet") -> st.NameDelta:
    delta, _ = st.connect_summary(view, _summary(height, ops), height, network)
    st.apply_delta_to_dicts(view, delta)
    return delta


def _summary(height: int, ops: list[st.TxNameOp]) -> st.BlockSummary:
    return st.BlockSummary(
        hash=_bh(height), prev_hash=_bh(height - 1), time_s=0, n_tx=1, size=0, header=b"", ops=tuple(ops), name_txs=()
    )


def _new(txid: Txid, name: bytes, rand: bytes = b"r" * 20) -> st.TxNameOp:
    return st.TxNameOp(tx_index=1, txid=txid, vout=0, kind=st.OP_NEW, commitment=_commit(rand, name))


def _first(txid: Txid, name: bytes, new_txid: Txid, value: bytes = b"v", rand: bytes = b"r" * 20) -> st.TxNameOp:
    return st.TxNameOp(
        tx_index=1, txid=txid, vout=0, kind=st.OP_FIRSTUPDATE, name=name, value=value, rand=rand,
        address="a", spent=(st.Outpoint(txid=new_txid, vout=0),),
    )


def _upd(txid: Txid, name: bytes, prev: Txid, value: bytes, spent_extra: tuple[st.Outpoint, ...] = ()) -> st.TxNameOp:
    return st.TxNameOp(
        tx_index=1, txid=txid, vout=0, kind=st.OP_UPDATE, name=name, value=value, address="b",
        spent=(st.Outpoint(txid=prev, vout=0), *spent_extra),
    )


def _display(txid_hex: str) -> Txid:
    return Txid(bytes.fromhex(txid_hex)[::-1])


# --- expiry schedule (namecoin-core consensus/params.h, names/main.cpp isExpired, rpc/names.cpp) -----


@pytest.mark.parametrize("network", [Network.MAINNET, Network.TESTNET])
def test_testnet_and_mainnet_share_the_ramp(network: Network) -> None:
    # TestNetConsensus derives from MainNetConsensus and does not override NameExpirationDepth.
    assert [name_expiration_depth(network, h) for h in (0, 23_999, 24_000, 30_000, 47_999, 48_000, 10**6)] == [
        12_000, 12_000, 12_000, 18_000, 35_999, 36_000, 36_000,
    ]
    assert name_expiration_depth(Network.REGTEST, 10**6) == 30


@pytest.mark.parametrize("network", list(Network))
def test_expires_at_is_the_first_expired_height(network: Network) -> None:
    # isExpired(prev, n) = prev + depth(n) <= n; once expired, expired for every later n.
    heights = [0, 1, 5, 100, 11_999, 12_000, 12_001, 20_000, 23_999, 24_000, 30_000, 47_999, 48_000, 60_000]
    for h in heights:
        at = name_expires_at(network, h)
        assert name_is_expired(network, h, at), (h, at)
        assert not name_is_expired(network, h, at - 1), (h, at)
        for n in range(at, at + 50):
            assert name_is_expired(network, h, n)
        if network != Network.REGTEST:
            for n in range(h, at, 997):
                assert not name_is_expired(network, h, n), (h, n)


def test_mainnet_ramp_keeps_names_alive_past_update_plus_depth_at_update() -> None:
    # updated at 30000: depth(30000) = 18000, but at 48000 namecoind checks depth(48000) = 36000
    assert not name_is_expired(Network.MAINNET, 30_000, 48_000)
    assert name_expires_at(Network.MAINNET, 30_000) == 66_000
    assert name_expires_at(Network.MAINNET, 5_000) == 17_000
    assert name_expires_at(Network.MAINNET, 12_000) == 24_000


def test_state_stores_consensus_expiry_height_on_mainnet() -> None:
    view = st.DictStateView()
    _connect(view, 29_988, [_new(_txid(1), b"d/ramp")])
    _connect(view, 30_000, [_first(_txid(2), b"d/ramp", _txid(1))])
    assert view.names[b"d/ramp"].expires_at_height == 66_000
    # still updatable at 50000 (namecoind: 30000 + depth(50000) = 66000 > 50000)
    _connect(view, 50_000, [_upd(_txid(3), b"d/ramp", _txid(2), b"two")])
    assert view.names[b"d/ramp"].value == b"two"


def test_update_is_checked_against_the_current_output_only() -> None:
    # An expired name's coin leaves namecoind's UTXO set (ExpireNames), so a valid chain never
    # updates it; the indexer does not re-check expiry on updates (chains generated with a
    # constant depth rely on that) but still requires the name's current output.
    view = st.DictStateView()
    _connect(view, 100, [_new(_txid(1), b"d/x")], "regtest")
    _connect(view, 112, [_first(_txid(2), b"d/x", _txid(1))], "regtest")
    _connect(view, 171, [_upd(_txid(3), b"d/x", _txid(2), b"late")], "regtest")
    assert view.names[b"d/x"].epoch == 1
    with pytest.raises(ChainError) as exc:
        _connect(view, 172, [_upd(_txid(4), b"d/x", _txid(2), b"stale")], "regtest")
    assert exc.value.code == ErrorCode.CHAIN_BAD_NAME_OP


def test_firstupdate_rand_over_20_bytes_is_refused() -> None:
    # CheckNameTransaction: "NAME_FIRSTUPDATE rand value is too large"
    view = st.DictStateView()
    rand = b"x" * 21
    _connect(view, 100, [_new(_txid(1), b"d/x", rand)], "regtest")
    with pytest.raises(ChainError) as exc:
        _connect(view, 112, [_first(_txid(2), b"d/x", _txid(1), rand=rand)], "regtest")
    assert exc.value.code == ErrorCode.CHAIN_BAD_NAME_OP


def test_short_rand_of_old_blocks_is_accepted() -> None:
    view = st.DictStateView()
    _connect(view, 100, [_new(_txid(1), b"d/old", b"\x01\x02")])
    _connect(view, 112, [_first(_txid(2), b"d/old", _txid(1), rand=b"\x01\x02")])
    assert view.names[b"d/old"].op == st.OP_FIRSTUPDATE


# --- name_show / name_history expires_in: depth at the *tip* (rpc/names.cpp addExpirationInfo) -------


def _record(height: int, expires_at: int) -> st.NameRecord:
    return st.NameRecord(
        name=b"d/x", value=b"v", txid=_txid(1), vout=0, height=height, block_hash=_bh(height), tx_index=1,
        op=st.OP_UPDATE, address=None, expires_at_height=expires_at, epoch=1,
    )


@pytest.mark.parametrize(
    ("height", "tip", "expires_in"),
    [
        (5_000, 800_000, 5_000 + 36_000 - 800_000),  # old history entry: depth(tip) = 36000, not 12000
        (30_000, 40_000, 30_000 + 28_000 - 40_000),  # on the ramp: depth(40000) = 28000
        (100_000, 120_000, 16_000),
        (5_000, 16_999, 1),
        (5_000, 17_000, 0),
    ],
)
def test_record_json_expires_in_uses_depth_at_tip(height: int, tip: int, expires_in: int) -> None:
    rec = _record(height, name_expires_at(Network.MAINNET, height))
    body = record_json(rec, tip, network="mainnet")
    assert (body["expires_in"], body["expired"]) == (expires_in, expires_in <= 0)


def test_record_json_regtest_off_by_one_as_name_show() -> None:
    # regtest README: updated at H, at tip H+29 name_show says expires_in 1, at H+30 expired.
    rec = _record(124, 154)
    assert (record_json(rec, 153, network="regtest")["expires_in"], record_json(rec, 153, network="regtest")["expired"]) == (1, False)
    assert record_json(rec, 154, network="regtest")["expired"] is True


# --- historic bugs (namecoin-core kernel/chainparams.cpp addBug, names/main.cpp) ----------------------

_IGNORED = "c3e76d5384139228221cce60250397d1b87adf7366086bc8d6b5e6eee03c55c7"  # 139936 BUG_FULLY_IGNORE
_IN_UTXO = "2f034f2499c136a2c5a922ca4be65c1292815c753bbb100a2a26d5ad532c3919"  # 139872 BUG_IN_UTXO
_APPLY = "774d4c446cecfc40b1c02fdc5a13be6d2007233f9d91daefab6b3c2e70042f05"  # 99381 BUG_FULLY_APPLY


def test_historic_bug_lookup_is_keyed_by_height_and_txid() -> None:
    assert historic_bug(Network.MAINNET, 139_936, _IGNORED) == BUG_FULLY_IGNORE
    assert historic_bug(Network.MAINNET, 139_872, _IN_UTXO) == BUG_IN_UTXO
    assert historic_bug(Network.MAINNET, 99_381, _APPLY) == BUG_FULLY_APPLY
    assert historic_bug(Network.MAINNET, 139_937, _IGNORED) is None
    assert historic_bug(Network.TESTNET, 139_936, _IGNORED) is None


@pytest.mark.parametrize(("height", "txid_hex"), [(139_936, _IGNORED), (139_872, _IN_UTXO)])
def test_ignored_historic_bug_tx_leaves_name_state_alone(height: int, txid_hex: str) -> None:
    # ApplyNameTransaction returns early for every bug type but BUG_FULLY_APPLY, and
    # CheckNameTransaction accepts the tx without checks: an update that would fail every
    # check (unknown input, wrong name) changes nothing.
    view = st.DictStateView()
    _connect(view, height - 20, [_new(_txid(1), b"d/victim")])
    _connect(view, height - 5, [_first(_txid(2), b"d/victim", _txid(1), b"owner")])
    delta = _connect(view, height, [_upd(_display(txid_hex), b"d/victim", _txid(77), b"stolen")])
    assert view.names[b"d/victim"].value == b"owner"
    assert not delta.events and not delta.ops_added
    # the same txid at another height is an ordinary (here invalid) update
    with pytest.raises(ChainError):
        _connect(view, height + 1, [_upd(_display(txid_hex), b"d/victim", _txid(77), b"stolen")])


def test_fully_apply_bug_is_applied_without_checks() -> None:
    # 99381: name_new and name_firstupdate both as inputs, a name_update output: applied.
    view = st.DictStateView()
    _connect(view, 99_000, [_new(_txid(1), b"d/concat")])
    _connect(view, 99_100, [_first(_txid(2), b"d/concat", _txid(1), b"one")])
    _connect(view, 99_200, [_new(_txid(3), b"d/other")])
    op = _upd(_display(_APPLY), b"d/concat", _txid(2), b"two", spent_extra=(st.Outpoint(txid=_txid(3), vout=0),))
    delta = _connect(view, 99_381, [op])
    assert view.names[b"d/concat"].value == b"two"
    assert [e.record.value for e in delta.events] == [b"two"]
    # the name_new it spent is gone, as the coin is in namecoind
    assert st.Outpoint(txid=_txid(3), vout=0) not in view.news


# --- name_news in non-Namecoin transactions (mainnet, before the end of LenientVersionCheck) ---------

from waypost.indexer.names import NameOp, NameOpKind, encode_name_script  # noqa: E402
from waypost.indexer.wire import Block, BlockHeader, OutPoint, Tx, TxIn, TxOut  # noqa: E402

_P2PKH = b"\x76\xa9\x14" + bytes(20) + b"\x88\xac"


def _block(txs: list[Tx], time_s: int, n: int) -> Block:
    header = BlockHeader(version=1, prev_hash=_bh(n - 1), merkle_root=bytes(32), time_s=time_s, bits=0x1D00FFFF, nonce=n)
    return Block(header=header, auxpow=None, txs=tuple(txs))


def _tx(version: int, script: bytes, spend: Txid | None = None, n: int = 0) -> Tx:
    prev = OutPoint(txid=spend if spend is not None else _txid(5000 + n), vout=0)
    return Tx.create(
        version=version,
        inputs=[TxIn(prevout=prev, script_sig=b"", sequence=0xFFFFFFFF)],
        outputs=[TxOut(value_sat=1_000_000, script=script)],
    )


def test_name_new_in_old_non_namecoin_tx_can_be_firstupdated_on_mainnet() -> None:
    # namecoin-core addBug(98318, ..., BUG_FULLY_IGNORE): "non-Namecoin txs with just NAME_NEWs".
    # The name_new coin stays in the UTXO set and a later NAME_FIRSTUPDATE may spend it
    # (CheckNameTransaction only looks at the input's script).
    rand = b"\x05" * 8
    new_script = encode_name_script(
        NameOp(kind=NameOpKind.NEW, name=None, value=None, rand=None, commitment=Hash160(_commit(rand, b"d/legacy")), address_script=_P2PKH)
    )
    legacy = _tx(1, new_script)
    first_script = encode_name_script(
        NameOp(kind=NameOpKind.FIRSTUPDATE, name=b"d/legacy", value=b"v", rand=rand, commitment=None, address_script=_P2PKH)
    )
    first = _tx(0x7100, first_script, spend=legacy.txid)
    view = st.DictStateView()
    old_time = 1_300_000_000  # 2011
    d1, _ = st.connect_block(view, _block([_tx(1, b"\x51", n=1), legacy], old_time, 98_318), 98_318, "mainnet")
    st.apply_delta_to_dicts(view, d1)
    assert [e.txid for e in d1.news_added] == [legacy.txid]
    d2, _ = st.connect_block(view, _block([_tx(1, b"\x51", n=2), first], old_time + 7200, 98_330), 98_330, "mainnet")
    st.apply_delta_to_dicts(view, d2)
    assert view.names[b"d/legacy"].value == b"v" and view.news == {}
    # regtest/testnet (and mainnet blocks after the lenient era) never carry them: not scanned
    assert st.extract_name_ops(_block([legacy], old_time, 5), "regtest") == ()
    assert st.extract_name_ops(_block([legacy], 1_700_000_000, 5), "mainnet") == ()


def test_api_routes_compute_expires_in_with_the_network_depth_at_tip() -> None:
    # GET /v1/names/{name} (fast path and Flask) and /history on a mainnet index at tip 40000:
    # name_show's expires_in = height + depth(40000) - 40000 with depth(40000) = 28000.
    from tests.fakereader import FakeReader, make_record
    from waypost.api.app import ApiConfig, create_app

    reader = FakeReader()
    reader.add(make_record(b"d/old", b"a", 5_000, expiry=12_000)).add(make_record(b"d/old", b"b", 30_000, expiry=36_000))
    reader.at_tip(40_000, network="mainnet")
    app = create_app(reader_factory=lambda: reader, network="mainnet", now=lambda: 1_700_000_000.0, config=ApiConfig(status_cache_s=0))
    client = app.test_client()
    for url in ("/v1/names/d/old", "/v1/names/d/old?name_encoding=utf8"):
        body = client.get(url).get_json()
        assert (body["expires_in"], body["expired"]) == (30_000 + 28_000 - 40_000, False), url
    hist = client.get("/v1/names/d/old/history").get_json()["history"]
    assert [(h["expires_in"], h["expired"]) for h in hist] == [(5_000 + 28_000 - 40_000, True), (18_000, False)]
