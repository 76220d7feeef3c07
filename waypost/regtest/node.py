"""``SimNode``: the simulator as one in-process object (shell: datadir, cookie, servers).

Starts the chain (reloaded from the datadir journal), the JSON-RPC server on 127.0.0.1
and optionally the ZMQ publisher; offers test conveniences (``generate``, ``register_name``,
``update_name``) and the bulk chain builder used by benchmarks.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from waypost.indexer.wire import hash_to_hex
from waypost.regtest.bulk import BulkStats, bulk_generate
from waypost.regtest.chain import SimChain
from waypost.regtest.persist import Journal
from waypost.regtest.rpc_methods import Dispatcher
from waypost.regtest.rpc_server import RpcServer

__all__ = ["SimNode"]

log = logging.getLogger(__name__)


class SimNode:
    """A running simulator. Use ``SimNode.start(...)`` (also a context manager)."""

    def __init__(
        self,
        chain: SimChain,
        datadir: Path,
        rpc: RpcServer,
        journal: Journal,
        zmq_pub: object | None,
        cookie_path: Path,
    ) -> None:
        self.chain = chain
        self.datadir = datadir
        self._rpc = rpc
        self._journal = journal
        self._zmq = zmq_pub
        self.cookie_path = cookie_path
        self.dispatcher = rpc.dispatcher

    @classmethod
    def start(
        cls,
        datadir: Path,
        *,
        rpc_port: int = 0,
        zmq_port: int | None = None,
        rpc_user: str | None = None,
        rpc_password: str | None = None,
        seed: int = 0,
        clock: Callable[[], int] | None = None,
        fsync_every: int = 1,
    ) -> SimNode:
        """Start a node on ``datadir`` (created if missing; an existing chain is reloaded).

        Args:
            datadir: node directory; files go to ``<datadir>/regtest/``.
            rpc_port: JSON-RPC port on 127.0.0.1 (0: ephemeral).
            zmq_port: ZMQ PUB port (None: no ZMQ; 0: ephemeral).
            rpc_user: extra basic-auth user (with ``rpc_password``); the cookie always works.
            rpc_password: its password.
            seed: makes keys, salts and change positions reproducible.
            clock: "now" in seconds; default: a fake clock advancing one second per call.
            fsync_every: journal fsync batching (1: every event).
        """
        netdir = Path(datadir) / "regtest"
        netdir.mkdir(parents=True, exist_ok=True)
        chain = SimChain(seed=seed, clock=clock)
        journal = Journal(netdir / "journal.jsonl", fsync_every=fsync_every)
        n = journal.load_into(chain)
        if n:
            log.info("reloaded %d journal events, height %d", n, chain.height)
        journal.open()
        chain.on_event.append(journal.append)
        zmq_pub = None
        zmq_url = None
        if zmq_port is not None:
            from waypost.regtest.zmq_pub import ZmqPublisher

            zmq_pub = ZmqPublisher(chain, port=zmq_port)
            zmq_url = zmq_pub.url
        cookie_path = netdir / ".cookie"
        cookie = f"__cookie__:{secrets.token_hex(32)}"
        tmp = cookie_path.with_suffix(".tmp")
        tmp.write_text(cookie)
        os.chmod(tmp, 0o600)
        os.replace(tmp, cookie_path)
        creds = [cookie]
        if rpc_user is not None and rpc_password is not None:
            creds.append(f"{rpc_user}:{rpc_password}")
        server = RpcServer(Dispatcher(chain, zmq_url=zmq_url), port=rpc_port, credentials=creds)
        server.start()
        return cls(chain, Path(datadir), server, journal, zmq_pub, cookie_path)

    # ------------------------------------------------------------------ lifecycle

    @property
    def rpc_url(self) -> str:
        return self._rpc.url

    @property
    def rpc_port(self) -> int:
        return self._rpc.port

    @property
    def zmq_url(self) -> str | None:
        return getattr(self._zmq, "url", None)

    def stop(self) -> None:
        """Stop the servers and close the journal; removes the cookie like bitcoind."""
        self._rpc.stop()
        if self._zmq is not None:
            self._zmq.close()  # type: ignore[attr-defined]
        self._journal.close()
        try:
            self.cookie_path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> SimNode:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ conveniences

    def call(self, method: str, *params: object, wallet: str | None = None) -> object:
        """Run an RPC method in-process (same code path as HTTP, minus transport)."""
        return self.dispatcher.call(method, list(params), wallet)

    def _ensure_wallet(self, wallet: str) -> None:
        if wallet not in self.chain.wallets:
            self.chain.create_wallet(wallet)

    def address(self, wallet: str = "alice") -> str:
        self._ensure_wallet(wallet)
        return self.chain.new_address(wallet)

    def generate(self, n: int, wallet: str = "alice") -> list[str]:
        """Mine ``n`` blocks paying ``wallet``; returns their hashes (display hex)."""
        self._ensure_wallet(wallet)
        with self.chain.lock:
            script = self.chain._new_script(self.chain.wallets[wallet])
            return [hash_to_hex(h) for h in self.chain.generate(n, script)]

    def _fund(self, wallet: str) -> None:
        w = self.chain.wallets[wallet]
        if not self.chain.wallet_coins(w):
            self.generate(101, wallet)

    def register_name(self, name: bytes, value: bytes, wallet: str = "alice") -> str:
        """name_new, 12 blocks, name_firstupdate, 1 block; returns the firstupdate txid."""
        self._ensure_wallet(wallet)
        self._fund(wallet)
        res = self.call("name_new", name.hex(), {"nameEncoding": "hex"}, wallet=wallet)
        assert isinstance(res, list)
        txid, rand = res
        self.generate(12, wallet)
        fu = self.call("name_firstupdate", name.hex(), rand, txid, value.hex(),
                       {"nameEncoding": "hex", "valueEncoding": "hex"}, wallet=wallet)
        self.generate(1, wallet)
        return str(fu)

    def bulk_generate(self, n_blocks: int, **kwargs: Any) -> BulkStats:
        """Append a bulk-built chain (see ``waypost.regtest.bulk.bulk_generate``); the
        blocks are journaled (one fsync at the end) and served over RPC like any other."""
        old = self._journal.fsync_every
        self._journal.fsync_every = 1 << 30
        try:
            with self.chain.lock:
                return bulk_generate(self.chain, n_blocks, **kwargs)
        finally:
            self._journal.sync()
            self._journal.fsync_every = old

    def update_name(self, name: bytes, value: bytes, dest_address: str | None = None, wallet: str = "alice") -> str:
        """name_update (optionally transferring to ``dest_address``) and 1 block; returns the txid."""
        self._ensure_wallet(wallet)
        self._fund(wallet)
        opts: dict[str, object] = {"nameEncoding": "hex", "valueEncoding": "hex"}
        if dest_address is not None:
            opts["destAddress"] = dest_address
        txid = self.call("name_update", name.hex(), value.hex(), opts, wallet=wallet)
        self.generate(1, wallet)
        return str(txid)

