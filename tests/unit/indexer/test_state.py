"""Unit tests for indexer/state.py on small hand-made name operations."""

from __future__ import annotations

import hashlib

import pytest

from waypost.indexer import state as st
from waypost.registry.errors import ChainError, ErrorCode, ParseError
from waypost.registry.model import BlockHash, Txid


def _txid(n: int) -> Txid:
    return Txid(n.to_bytes(32, "little"))


def _bh(n: int) -> BlockHash:
    return BlockHash(hashlib.sha256(b"block%d" % n).digest())


def _commit(rand: bytes, name: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(rand + name).digest()).digest()


def _depth(height: int) -> int:
    return 30  # regtest


def _connect(view: st.DictStateView, height: int, ops: list[st.TxNameOp]) -> tuple[st.NameDelta, st.Undo]:
    delta, undo = st.connect_ops(
        view, block_hash=_bh(height), height=height, ops=ops, expiration_depth=_depth, commitment_of=_commit
    )
    st.apply_delta_to_dicts(view, delta)
    return delta, undo


def _new(txn: int, name: bytes, rand: bytes = b"r" * 20) -> st.TxNameOp:
    return st.TxNameOp(tx_index=1, txid=_txid(txn), vout=0, kind=st.OP_NEW, commitment=_commit(rand, name))


def _first(txn: int, name: bytes, new_txn: int, value: bytes = b"v", rand: bytes = b"r" * 20, idx: int = 1) -> st.TxNameOp:
    return st.TxNameOp(
        tx_index=idx,
        txid=_txid(txn),
        vout=0,
        kind=st.OP_FIRSTUPDATE,
        name=name,
        value=value,
        rand=rand,
        address="addr1",
        spent=(st.Outpoint(txid=_txid(new_txn), vout=0),),
    )


def _upd(txn: int, name: bytes, prev_txn: int, value: bytes, idx: int = 1, prev_vout: int = 0) -> st.TxNameOp:
    return st.TxNameOp(
        tx_index=idx,
        txid=_txid(txn),
        vout=0,
        kind=st.OP_UPDATE,
        name=name,
        value=value,
        address="addr2",
        spent=(st.Outpoint(txid=_txid(999), vout=3), st.Outpoint(txid=_txid(prev_txn), vout=prev_vout)),
    )


def _registered(view: st.DictStateView, name: bytes = b"d/x") -> None:
    _connect(view, 100, [_new(1, name)])
    _connect(view, 112, [_first(2, name, 1, b"one")])


def test_firstupdate_registers_and_consumes_name_new() -> None:
    view = st.DictStateView()
    d1, _ = _connect(view, 100, [_new(1, b"d/x")])
    assert len(d1.news_added) == 1 and not d1.events
    d2, undo = _connect(view, 112, [_first(2, b"d/x", 1, b"one")])
    rec = view.names[b"d/x"]
    assert (rec.value, rec.height, rec.op, rec.epoch, rec.expires_at_height) == (b"one", 112, st.OP_FIRSTUPDATE, 1, 142)
    assert d2.events[0].is_new_registration and d2.events[0].previous is None
    assert view.news == {}
    assert undo.news_spent == d1.news_added


def test_firstupdate_too_early_is_rejected() -> None:
    view = st.DictStateView()
    _connect(view, 100, [_new(1, b"d/x")])
    with pytest.raises(ChainError) as exc:
        _connect(view, 111, [_first(2, b"d/x", 1)])
    assert exc.value.code == ErrorCode.CHAIN_BAD_NAME_OP


def test_firstupdate_wrong_commitment_or_missing_new_is_rejected() -> None:
    view = st.DictStateView()
    _connect(view, 100, [_new(1, b"d/x")])
    with pytest.raises(ChainError) as exc:
        _connect(view, 112, [_first(2, b"d/x", 1, rand=b"s" * 20)])
    assert exc.value.code == ErrorCode.CHAIN_BAD_NAME_OP
    with pytest.raises(ChainError) as exc:
        _connect(view, 112, [_first(2, b"d/x", 77)])
    assert exc.value.code == ErrorCode.CHAIN_BAD_NAME_OP


def test_update_must_spend_current_output() -> None:
    view = st.DictStateView()
    _registered(view)
    with pytest.raises(ChainError) as exc:
        _connect(view, 113, [_upd(3, b"d/x", 42, b"two")])
    assert exc.value.code == ErrorCode.CHAIN_BAD_NAME_OP
    with pytest.raises(ChainError):
        _connect(view, 113, [_upd(3, b"d/unknown", 2, b"two")])


def test_two_updates_in_one_block_later_wins() -> None:
    view = st.DictStateView()
    _registered(view)
    delta, undo = _connect(view, 120, [_upd(3, b"d/x", 2, b"two", idx=1), _upd(4, b"d/x", 3, b"three", idx=2)])
    assert view.names[b"d/x"].value == b"three"
    assert [e.record.value for e in delta.events] == [b"two", b"three"]
    assert delta.events[1].previous is not None and delta.events[1].previous.value == b"two"
    assert len(delta.current) == 1
    # undo restores the record before the block, not the intermediate one
    assert undo.prior[0][1] is not None and undo.prior[0][1].value == b"one"


def test_reregistration_after_expiry_starts_new_epoch() -> None:
    view = st.DictStateView()
    _registered(view)  # at 112, expires at 142
    _connect(view, 120, [_new(5, b"d/x", rand=b"q" * 20)])
    with pytest.raises(ChainError):  # still active at 141
        _connect(view, 141, [_first(6, b"d/x", 5, b"bob", rand=b"q" * 20)])
    delta, _ = _connect(view, 142, [_first(6, b"d/x", 5, b"bob", rand=b"q" * 20)])
    rec = view.names[b"d/x"]
    assert rec.epoch == 2 and rec.value == b"bob"
    assert delta.events[0].is_new_registration and delta.events[0].previous is not None


def test_oversize_value_rejected() -> None:
    view = st.DictStateView()
    _registered(view)
    with pytest.raises(ChainError):
        _connect(view, 113, [_upd(3, b"d/x", 2, b"v" * 1024)])


def test_connect_then_disconnect_restores_state() -> None:
    view = st.DictStateView()
    _registered(view)
    _connect(view, 113, [_new(9, b"d/y")])
    before_names, before_news = dict(view.names), dict(view.news)
    delta, undo = _connect(view, 125, [_upd(3, b"d/x", 2, b"two"), _first(10, b"d/y", 9, b"y", idx=2), _new(11, b"d/z")])
    back = st.disconnect_block(view, _bh(125), st.decode_undo(st.encode_undo(undo)))
    st.apply_delta_to_dicts(view, back)
    assert view.names == before_names and view.news == before_news
    assert {k.name for k in back.ops_removed} == {b"d/x", b"d/y"}


def test_disconnect_with_wrong_undo() -> None:
    view = st.DictStateView()
    _, undo = _connect(view, 100, [_new(1, b"d/x")])
    with pytest.raises(ChainError) as exc:
        st.disconnect_block(view, _bh(101), undo)
    assert exc.value.code == ErrorCode.CHAIN_BAD_UNDO


def test_record_and_undo_encoding_round_trip_and_truncation() -> None:
    view = st.DictStateView()
    _registered(view)
    rec = view.names[b"d/x"]
    assert st.decode_record(st.encode_record(rec)) == rec
    rec2 = st.NameRecord(**{**{f: getattr(rec, f) for f in rec.__dataclass_fields__}, "address": None})
    assert st.decode_record(st.encode_record(rec2)) == rec2
    _, undo = _connect(view, 113, [_upd(3, b"d/x", 2, b"two")])
    raw = st.encode_undo(undo)
    assert st.decode_undo(raw) == undo
    with pytest.raises(ParseError) as exc:
        st.decode_undo(raw[:-1])
    assert exc.value.code == ErrorCode.WIRE_TRUNCATED
    with pytest.raises(ParseError) as exc:
        st.decode_undo(raw + b"\x00")
    assert exc.value.code == ErrorCode.WIRE_TRAILING


def test_state_root_chains_and_depends_on_ops() -> None:
    view = st.DictStateView()
    d1, _ = _connect(view, 100, [_new(1, b"d/x")])
    r1 = st.compute_state_root(st.GENESIS_STATE_ROOT, d1)
    view2 = st.DictStateView()
    d1b, _ = st.connect_ops(
        view2, block_hash=_bh(100), height=100, ops=[_new(1, b"d/y")], expiration_depth=_depth
    )
    assert st.compute_state_root(st.GENESIS_STATE_ROOT, d1b) != r1
    assert st.compute_state_root(r1, d1) != r1
    assert len(r1) == 32
