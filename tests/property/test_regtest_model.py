"""Random name operations, mining and reorgs on the simulator agree with a small model.

The model below is written from the README's regtest rules, independently of the
simulator: name_new mined in block n lets its firstupdate into block >= n+12; a name last
updated at H is expired from tip H+30 and its coin is gone once block H+29 is connected;
re-registration after expiry; a reorg returns the disconnected operations to the mempool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from waypost.regtest.chain import RpcFailure, SimChain
from waypost.regtest.rpc_methods import Dispatcher

NAMES = ["d/a", "d/b", "id/c"]
EXPIRY = 30  # README: regtest names expire 30 blocks after the last update
FIRSTUPDATE_DEPTH = 12  # README: name_new at h, first possible firstupdate block h+12


@dataclass
class Op:
    seq: int
    kind: str  # "new" | "first" | "update"
    name: str
    value: str = ""
    needs: int | None = None  # seq of the name_new a firstupdate spends


@dataclass
class Model:
    height: int
    blocks: list[list[Op]] = field(default_factory=list)  # ops per block above the start
    pending: list[Op] = field(default_factory=list)
    start: int = 0

    def history(self) -> dict[str, list[tuple[str, int]]]:
        hist: dict[str, list[tuple[str, int]]] = {}
        for i, ops in enumerate(self.blocks):
            for op in ops:
                if op.kind != "new":
                    hist.setdefault(op.name, []).append((op.value, self.start + 1 + i))
        return hist

    def mined_new_height(self, seq: int) -> int | None:
        for i, ops in enumerate(self.blocks):
            if any(o.seq == seq for o in ops):
                return self.start + 1 + i
        return None

    def mine(self) -> None:
        h = self.height + 1
        hist = self.history()
        chosen: list[Op] = []
        for op in sorted(self.pending, key=lambda o: o.seq):
            last = hist.get(op.name, [])
            if op.kind == "new":
                chosen.append(op)
                continue
            if op.kind == "first":
                n = self.mined_new_height(op.needs or -1)
                alive = bool(last) and last[-1][1] + EXPIRY > h
                if n is None or n + FIRSTUPDATE_DEPTH > h or alive:
                    continue
            elif not last or last[-1][1] + EXPIRY - 1 < h:
                continue
            hist.setdefault(op.name, []).append((op.value, h))
            chosen.append(op)
        for op in chosen:
            self.pending.remove(op)
        self.blocks.append(chosen)
        self.height = h

    def reorg(self, depth: int) -> None:
        for _ in range(depth):
            self.pending.extend(self.blocks.pop())
            self.height -= 1

    def show(self, name: str) -> tuple[str, int, int, bool] | None:
        last = self.history().get(name)
        if not last:
            return None
        value, h = last[-1]
        return value, h, h + EXPIRY - self.height, h + EXPIRY <= self.height


actions = st.lists(
    st.one_of(
        st.tuples(st.just("new"), st.sampled_from(NAMES), st.just("")),
        st.tuples(st.just("first"), st.sampled_from(NAMES), st.text("xyz", max_size=3)),
        st.tuples(st.just("first"), st.sampled_from(NAMES), st.text("xyz", max_size=3)),
        st.tuples(st.just("update"), st.sampled_from(NAMES), st.text("xyz", max_size=3)),
        st.tuples(st.just("update"), st.sampled_from(NAMES), st.text("xyz", max_size=3)),
        st.tuples(st.just("mine"), st.sampled_from(["1", "2", "6", "12", "13", "31"]), st.just("")),
        st.tuples(st.just("reorg"), st.integers(1, 3).map(str), st.just("")),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(actions)
def test_simulator_matches_model(script: list[tuple[str, str, str]]) -> None:
    note(repr(script))
    chain = SimChain(seed=1)
    d = Dispatcher(chain)
    chain.create_wallet("w")
    addr = chain.new_address("w")
    d.call("generatetoaddress", [110, addr], None)
    model = Model(height=chain.height, start=chain.height)
    news: dict[str, tuple[int, str, str]] = {}  # name -> (op seq, txid, rand) of a usable name_new
    seq = 0
    for name in NAMES:  # every name starts with a name_new in the first block
        seq += 1
        txid, rand = d.call("name_new", [name], "w")
        news[name] = (seq, txid, rand)
        model.pending.append(Op(seq, "new", name))
    d.call("generatetoaddress", [1, addr], None)
    model.mine()
    for kind, arg, value in script:
        seq += 1
        pending_names = {o.name for o in model.pending}
        if kind == "mine":
            for _ in range(int(arg)):
                d.call("generatetoaddress", [1, addr], None)
                model.mine()
        elif kind == "reorg":
            depth = min(int(arg), model.height - model.start)
            if depth == 0:
                continue
            d.call("invalidateblock", [chain.active[chain.height - depth + 1][::-1].hex()], None)
            model.reorg(depth)
            event("reorg")
            for _ in range(depth + 1):  # a longer branch wins
                d.call("generatetoaddress", [1, addr], None)
                model.mine()
        elif kind == "new" and arg not in pending_names and arg not in news:
            shown = model.show(arg)
            if shown is not None and not shown[3]:
                continue
            txid, rand = d.call("name_new", [arg, {"allowExisting": True}], "w")
            news[arg] = (seq, txid, rand)
            model.pending.append(Op(seq, "new", arg))
        elif kind == "first" and arg in news and arg not in pending_names:
            shown = model.show(arg)
            if model.mined_new_height(news[arg][0]) is None or (shown is not None and not shown[3]):
                continue
            nseq, txid, rand = news.pop(arg)
            d.call("name_firstupdate", [arg, rand, txid, value], "w")
            model.pending.append(Op(seq, "first", arg, value, needs=nseq))
        elif kind == "update" and arg not in pending_names:
            shown = model.show(arg)
            if shown is None or shown[2] < 10:
                continue
            d.call("name_update", [arg, value], "w")
            model.pending.append(Op(seq, "update", arg, value))
        check(d, model)


def check(d: Dispatcher, model: Model) -> None:
    assert d.chain.height == model.height
    hist = model.history()
    for name in NAMES:
        want = model.show(name)
        try:
            got = d.call("name_show", [name, {"allowExpired": True}], None)
        except RpcFailure as exc:
            assert want is None, (name, exc.message)
            assert exc.code == -4
            continue
        assert want is not None, name
        event("name registered")
        if want[3]:
            event("name expired")
        assert (got["value"], got["height"], got["expires_in"], got["expired"]) == want
        got_hist = d.call("name_history", [name], None)
        assert [(e["value"], e["height"]) for e in got_hist] == hist[name]
        assert all(e["expires_in"] == e["height"] + EXPIRY - model.height for e in got_hist)
