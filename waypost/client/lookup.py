"""``Client``: resolve an address against one or more servers and verify everything offline (shell).

Fetches over HTTP, verifies each proof bundle (``resolve.bundle.verify_bundle``), then lets
the pure core decide: rollback/fork per server, split view across servers, pins, freshness.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests

from waypost.client import core
from waypost.client import header_sync
from waypost.client import headers as hc
from waypost.client.http import fetch, fetch_json, quote_address, server_url
from waypost.client.state import ClientState, save_evidence
from waypost.indexer import wire
from waypost.indexer.params import Network, params_for
from waypost.registry.address import format_address, parse_address
from waypost.registry.errors import ErrorCode, ParseError, UpstreamError, VerificationError, WaypostError
from waypost.registry.profile import encode_profile
from waypost.resolve.bundle import ProofBundle, VerifiedResolution, bundle_from_json, parse_bundle, verify_bundle
from waypost.resolve.bundle import SpvProof, check_header_work, leaf_address_for
from waypost.resolve.opchain import MAX_OPERATIONS, VerifiedOp, operations_from_json, verify_operation_chain
from waypost.resolve.pipeline import domain_names, name_of_address
from waypost.registry.model import BlockHash
from waypost.tlog.leaf import NamecoinSource
from waypost.tlog import note as note_mod

__all__ = ["Client", "ServerAnswer", "LOG_KEY_PATH"]

LOG_KEY_PATH = "/v1/log/key"  # optional: the server's log verifier key, for trust on first use


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerAnswer:
    """One server's verified answer: the checkpoint and the verified hops (first = asked address)."""

    server: str
    checkpoint: note_mod.SignedCheckpoint
    hops: tuple[core.Hop, ...]
    results: tuple[VerifiedResolution, ...]


def _b64list(obj: object) -> tuple[bytes, ...]:
    if not isinstance(obj, dict) or not isinstance(obj.get("proof"), list):
        raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "consistency answer has no proof list")
    try:
        return tuple(base64.b64decode(str(h), validate=True) for h in obj["proof"])
    except ValueError as exc:
        raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "consistency proof is not base64") from exc


def _hop(address: str, r: VerifiedResolution, reason: str | None) -> core.Hop:
    """A verified hop; a private chain's record is the profile its validated chain states."""
    leaf = r.leaf
    value = r.value
    hashes: tuple[bytes, ...] = ()
    if r.chain is not None:
        try:
            value = encode_profile(core.chain_profile(r.chain, address=address))
        except ParseError as exc:
            raise VerificationError(ErrorCode.BUNDLE_BAD_CHAIN, f"chain body: {exc.message}", cause=str(exc.code)) from exc
        hashes = tuple(bytes(v.entry_hash) for v in r.chain.verdicts)
    return core.Hop(
        address=address, value=value, epoch=None if leaf is None else leaf.epoch, leaf_index=r.leaf_index,
        verdict=None if leaf is None else leaf.verdict, reason=reason, chain_hashes=hashes,
    )


class Client:
    """A light client over ``servers`` (base URLs).

    Args:
        servers: server base URLs (``http://127.0.0.1:8335``).
        state: remembered checkpoints, trusted log keys and pins (saved after each resolve).
        log_verifiers: log keys trusted for every server (``--log-key``); added to the state.
        witnesses: witness cosignature keys.
        min_witnesses: cosignatures required from ``witnesses`` on every checkpoint.
        network: Namecoin network of the servers' logs.
        session: a ``requests.Session`` (tests inject one).
        max_age_s: refuse answers older than this (witness time, else the checkpoint's Namecoin tip time).
        accept_change: accept a downgrade or key change against the pins (and re-pin).
        clock: "now" in seconds.
        tofu: trust a server's advertised log key (``/v1/log/key``) on first use.
        header_chain: hold the verified Namecoin header chain (``client.headers``), synced from
            ``/v1/headers`` and kept next to the state file: a bundle's header must be the
            chain's header at its height.
        header_anchor: ``(height, block hash)`` the chain starts from (default: genesis).
    """

    def __init__(
        self,
        servers: Sequence[str],
        *,
        state: ClientState,
        log_verifiers: Sequence[note_mod.Verifier] = (),
        witnesses: Sequence[note_mod.Verifier] = (),
        min_witnesses: int = 0,
        network: Network | str = Network.MAINNET,
        session: requests.Session | None = None,
        max_age_s: int | None = None,
        accept_change: bool = False,
        clock: Callable[[], float] = time.time,
        tofu: bool = True,
        header_chain: bool = False,
        header_anchor: tuple[int, BlockHash] | None = None,
    ) -> None:
        if not servers:
            raise ParseError(ErrorCode.BAD_REQUEST, "at least one server is needed")
        if min_witnesses > len(witnesses):
            raise ParseError(ErrorCode.BAD_REQUEST, "--min-witnesses is larger than the number of --witness keys")
        self.servers = tuple(s.rstrip("/") for s in servers)
        self.state = state
        self.log_verifiers = tuple(log_verifiers)
        self.witnesses = tuple(witnesses)
        self.min_witnesses = min_witnesses
        self.network = Network(network)
        self.session = session or requests.Session()
        self.max_age_s = max_age_s
        self.accept_change = accept_change
        self.clock = clock
        self.tofu = tofu
        self.use_header_chain = header_chain
        self.header_anchor = header_anchor
        self._chain: hc.HeaderChain | None = None

    # --- public -------------------------------------------------------------------------

    def resolve(self, address: str) -> core.Resolution:
        """Resolve ``address`` on every server and verify every answer.

        Returns:
            The verified resolution (from the server with the largest tree).

        Raises:
            ParseError: a bad address.
            UpstreamError: ``CLIENT_HTTP`` / ``CLIENT_BAD_ANSWER`` (a server could not answer).
            VerificationError: a proof does not verify (``bundle.*``, ``merkle.*``, ``map.*``,
                ``note.*``), ``CHECKPOINT_ROLLBACK``/``CHECKPOINT_INCONSISTENT``/``CHECKPOINT_SPLIT_VIEW``
                (with ``fields["evidence_path"]``), ``WITNESS_QUORUM``, ``CLIENT_STALE``.
            ValidationError: ``POLICY_DOWNGRADE``, ``KEY_UNCOMMITTED``, redirect errors.
            StoreError: the state file cannot be written.
        """
        canonical = format_address(parse_address(address))
        answers = [self._resolve_on(server, canonical) for server in self.servers]
        self._compare_servers(answers)
        best = max(answers, key=lambda a: a.checkpoint.checkpoint.size)
        for hop in best.hops:
            pin = self.state.pin(hop.address)
            core.verify_pin(pin, hop, accept_change=self.accept_change)
        for hop in best.hops:
            new_pin = core.pin_of(hop)
            if new_pin is not None:
                self.state.set_pin(new_pin)
        for a in answers:
            self.state.set_checkpoint_note(a.server, a.checkpoint.note)
        self.state.save()
        final_hop, final = best.hops[-1], best.results[-1]
        leaf = final.leaf
        return core.Resolution(
            address=canonical,
            resolved_address=final_hop.address,
            present=final.present,
            value=final_hop.value,
            profile=core.profile_of(final_hop.value),
            verdict=None if leaf is None else leaf.verdict,
            codes=() if leaf is None else leaf.codes,
            leaf_index=final.leaf_index,
            height=final.height,
            checkpoint_origin=best.checkpoint.checkpoint.origin,
            checkpoint_size=best.checkpoint.checkpoint.size,
            servers=tuple(a.server for a in answers),
            hops=best.hops,
            witnesses=self.min_witnesses,
            namecoin_height=best.checkpoint.checkpoint.namecoin_height,
            chain_seq=None if final.chain is None else final.chain.seq,
            expired=final.expired,
        )

    def operations(self, address: str) -> tuple[VerifiedOp, ...]:
        """The proven operations of ``address``'s Namecoin name since its registration, oldest first.

        The first server's resolve bundle is verified first (its latest operation); then the
        operation chain (``GET /v1/resolve/{address}/operations``, paged) is verified offline
        and must end at that operation. ``local@name.bit`` addresses give the ``d/`` name's chain.

        Raises:
            ParseError: a bad address.
            UpstreamError: ``NOT_FOUND`` (absence verified, or not Namecoin-backed),
                ``CLIENT_HTTP`` / ``CLIENT_BAD_ANSWER``.
            VerificationError: the bundle (``bundle.*``, ...) or the chain (``opchain.*``,
                ``bundle.bad-spv``, ``bundle.weak-header``) does not verify.
        """
        canonical = format_address(parse_address(address))
        leaf_addr = leaf_address_for(canonical)
        name = name_of_address(leaf_addr)
        if name is None:
            raise UpstreamError(ErrorCode.NOT_FOUND, f"{canonical} is not a Namecoin-backed address")
        server = self.servers[0]
        latest = self._resolve_on(server, canonical).results[0]
        if latest.leaf is None or not isinstance(latest.leaf.source, NamecoinSource):
            raise UpstreamError(ErrorCode.NOT_FOUND, f"{canonical} is not registered (absence verified)")
        proofs: list[SpvProof] = []
        while True:
            _, obj = fetch_json(self.session, server_url(server, "/v1/resolve/" + quote_address(canonical) + "/operations"),
                                params={"start": str(len(proofs))} if proofs else None)
            try:
                page = operations_from_json(obj)
            except ParseError as exc:
                raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, f"malformed operations answer: {exc.message}",
                                    server=server) from exc
            if page.start != len(proofs) or page.total > MAX_OPERATIONS or (not page.proofs and len(proofs) < page.total):
                raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "operations pages do not line up", server=server)
            proofs.extend(page.proofs)
            if len(proofs) >= page.total:
                break
        return verify_operation_chain(proofs, name=name, network=self.network, latest_txid=latest.leaf.source.txid,
                                      header_chain=self._header_lookup(server))

    # --- per server ---------------------------------------------------------------------

    def _keys_for(self, server: str) -> tuple[note_mod.Verifier, ...]:
        keys = list(self.log_verifiers) + [k for k in self.state.log_keys(server) if k not in self.log_verifiers]
        if keys:
            return tuple(keys)
        if self.tofu:
            try:
                resp = fetch(self.session, server_url(server, LOG_KEY_PATH), accept="text/plain", max_bytes=4096)
            except UpstreamError:
                resp = None
            if resp is not None and resp.status == 200:
                try:
                    return (note_mod.parse_vkey(resp.body.decode("ascii")),)
                except (WaypostError, UnicodeDecodeError):
                    pass
        # a usage error (exit 2): nothing was verified yet
        raise ParseError(
            ErrorCode.CLIENT_NO_LOG_KEY,
            f"no trusted log key for {server}: pass --log-key (the server's <db>.logkey.vkey)",
            server=server,
        )

    def _consistency(self, server: str, size1: int, size2: int) -> tuple[bytes, ...]:
        if size1 == 0 or size1 >= size2:
            return ()
        _, obj = fetch_json(self.session, server_url(server, "/v1/log/proof/consistency"),
                            params={"from": str(size1), "to": str(size2)})
        return _b64list(obj)

    def _evidence_error(self, exc: VerificationError, server: str, other: str | None = None) -> VerificationError:
        ev = exc.fields.get("evidence")
        directory = self.state.evidence_dir()
        if isinstance(ev, note_mod.Evidence) and directory is not None:
            path = save_evidence(directory, ev, server=server, other_server=other, now_s=int(self.clock()))
            exc.fields["evidence_path"] = str(path)
            exc.message = f"{exc.message} (server {server}{' vs ' + other if other else ''}; evidence: {path})"
        else:
            exc.message = f"{exc.message} (server {server}{' vs ' + other if other else ''})"
        return exc

    def _fetch_bundles(self, server: str, address: str, since: int | None) -> list[tuple[str, ProofBundle, str | None]]:
        params = {"since": str(since)} if since else None
        status, body = fetch_json(self.session, server_url(server, "/v1/resolve/" + quote_address(address)),
                                  params=params, ok=(200, 404))
        if not isinstance(body, dict):
            raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "resolve answer is not an object", server=server)
        try:
            if status == 404:
                cbor = body.get("bundle_cbor")
                if not isinstance(cbor, str):
                    raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "'not found' without an absence proof", server=server)
                return [(address, parse_bundle(base64.b64decode(cbor, validate=True)), None)]
            hop_bundles, hops_meta = body.get("hop_bundles", []), body.get("hops", [])
            resolved = body.get("resolved_address")
            if not isinstance(hop_bundles, list) or not isinstance(hops_meta, list) or not isinstance(resolved, str):
                raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "resolve answer lacks hops", server=server)
            addrs = [str(h["address"]) for h in hop_bundles] + [resolved]
            reasons: list[str | None] = [None]
            reasons += [None if h.get("reason") is None else str(h["reason"]) for h in hops_meta]
            bundles = [bundle_from_json(h["bundle"]) for h in hop_bundles] + [bundle_from_json(body.get("bundle"))]
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, f"malformed resolve answer: {exc}", server=server) from exc
        if len(reasons) != len(addrs) or not addrs or addrs[0] != address:
            raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "resolve answer's hops do not line up", server=server)
        return list(zip(addrs, bundles, reasons, strict=True))

    def _resolve_on(self, server: str, address: str) -> ServerAnswer:
        keys = self._keys_for(server)
        prev_note = self.state.checkpoint_note(server)
        previous = note_mod.open_checkpoint(prev_note, keys) if prev_note is not None else None
        fetched = self._fetch_bundles(server, address, previous.checkpoint.size if previous else None)
        now_s = int(self.clock())
        results: list[VerifiedResolution] = []
        lookup = self._header_lookup(server)
        if lookup is not None:
            self._sync_to_checkpoint(server, fetched[0][1].checkpoint, keys)
        for addr, bundle, _ in fetched:
            try:
                try:
                    results.append(self._verify(bundle, addr, keys, now_s, None, lookup))
                except VerificationError as exc:
                    if exc.code != ErrorCode.BUNDLE_MISSING_CHAIN:
                        raise
                    # a long private chain rides separately: GET /v1/chains, checked the same way
                    results.append(self._verify(bundle, addr, keys, now_s, self._chain_entries(server, addr), lookup))
            except VerificationError as exc:
                if exc.code == ErrorCode.NOTE_UNKNOWN_KEY and previous is not None and not self.log_verifiers:
                    raise VerificationError(
                        ErrorCode.CLIENT_LOG_KEY_CHANGED,
                        f"{server} now signs with a log key other than the one trusted before "
                        "(pass --log-key to trust a new key)", server=server,
                    ) from exc
                raise
        checkpoint = results[0].checkpoint
        if any(r.checkpoint.checkpoint != checkpoint.checkpoint for r in results):
            raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "hops proven against different checkpoints", server=server)
        # demand that the log extends what this server showed us before (rollback / fork)
        if previous is not None:
            b0 = fetched[-1][1]
            size1, size2 = previous.checkpoint.size, checkpoint.checkpoint.size
            if b0.since_size == size1 and size1 <= size2:
                proof = b0.consistency
            elif size2 > size1 > 0:
                proof = self._consistency(server, size1, size2)
            else:
                proof = ()
            try:
                core.verify_progress(previous, checkpoint, proof)
            except VerificationError as exc:
                raise self._evidence_error(exc, server) from None
        if self.max_age_s is not None and self.min_witnesses == 0:
            core.verify_fresh(self._tip_time(server, checkpoint), now_s, self.max_age_s,
                              what="time of the checkpoint's Namecoin tip block")
        hops = tuple(_hop(addr, r, reason) for (addr, _, reason), r in zip(fetched, results, strict=True))
        dn = {h.address: domain_names(h.value) for h in hops if h.value is not None and "@" in h.address}
        core.verify_hops(hops, domain_names=dn)
        for k in keys:
            if any(s.key_id == k.key_id and s.name == k.name for s in note_mod.split_note(checkpoint.note)[1]):
                self.state.trust_log_key(server, k)
        return ServerAnswer(server=server, checkpoint=checkpoint, hops=hops, results=tuple(results))

    def _verify(self, bundle: ProofBundle, address: str, keys: Sequence[note_mod.Verifier], now_s: int,
                chain_entries: Sequence[bytes] | None,
                header_chain: Callable[[int], BlockHash | None] | None = None) -> VerifiedResolution:
        return verify_bundle(
            bundle, address=address, log_verifiers=keys, network=self.network,
            now_s=now_s, min_witnesses=self.min_witnesses, witness_verifiers=self.witnesses,
            max_cosignature_age_s=self.max_age_s if self.min_witnesses > 0 else None,
            chain_entries=chain_entries, header_chain=header_chain,
        )

    # --- header chain -------------------------------------------------------------------

    def _chain_file(self) -> Path | None:
        return None if self.state.path is None else header_sync.chain_path(self.state.path, self.network)

    def _load_chain(self, server: str) -> hc.HeaderChain:
        if self._chain is None:
            path = self._chain_file()
            stored = header_sync.load_chain(path) if path is not None else None
            want = self.header_anchor
            if stored is not None and (stored.network != self.network or (
                    want is not None and hc.hash_at(stored, want[0]) != want[1]) or (
                    want is None and hc.hash_at(stored, 0) != params_for(self.network).genesis_hash)):
                stored = None  # another anchor: start over from the configured one
            self._chain = stored or header_sync.start_chain(self.session, server, self.network, want)
        return self._chain

    def _sync(self, server: str, height: int) -> hc.HeaderChain:
        chain = self._load_chain(server)
        if hc.tip_height(chain) < height:
            chain = header_sync.sync(self.session, server, chain, height)
            self._chain = chain
            path = self._chain_file()
            if path is not None:
                header_sync.save_chain(path, chain)
        return chain

    def _header_lookup(self, server: str) -> Callable[[int], BlockHash | None] | None:
        """The header hash the client holds at a height (synced on demand), or None when off."""
        if not self.use_header_chain:
            return None

        def lookup(height: int) -> BlockHash | None:
            return hc.hash_at(self._sync(server, height), height)

        return lookup

    def _sync_to_checkpoint(self, server: str, note: str, keys: Sequence[note_mod.Verifier]) -> None:
        """Sync to the checkpoint's Namecoin tip; its block hash must be the chain's (a reorg is followed once)."""
        try:
            c = note_mod.open_checkpoint(note, keys).checkpoint
        except VerificationError:
            return  # verify_bundle reports the bad checkpoint
        if c.namecoin_height is None or c.namecoin_block_hash is None:
            return
        chain = self._sync(server, c.namecoin_height)
        held = hc.hash_at(chain, c.namecoin_height)
        if held is not None and held != c.namecoin_block_hash:
            # the server's chain moved under ours: walk back (bounded), sync again, compare again
            chain = header_sync.sync(self.session, server, header_sync.walk_back(self.session, server, chain),
                                     c.namecoin_height)
            self._chain = chain
            path = self._chain_file()
            if path is not None:
                header_sync.save_chain(path, chain)
            held = hc.hash_at(chain, c.namecoin_height)
            if held is not None and held != c.namecoin_block_hash:
                raise VerificationError(ErrorCode.BUNDLE_HEADER_MISMATCH,
                                        "the checkpoint's Namecoin block is not in the client's header chain",
                                        height=c.namecoin_height, server=server)

    def _chain_entries(self, server: str, address: str) -> tuple[bytes, ...]:
        """A private chain's encoded entries from ``GET /v1/chains/{address}`` (verified by ``verify_bundle``)."""
        _, obj = fetch_json(self.session, server_url(server, "/v1/chains/" + quote_address(address)))
        items = obj.get("entries") if isinstance(obj, dict) else None
        if not isinstance(items, list) or not all(isinstance(e, str) for e in items):
            raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "chain answer has no entry list", server=server)
        try:
            return tuple(base64.urlsafe_b64decode(e + "=" * (-len(e) % 4)) for e in items)
        except ValueError as exc:
            raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "chain entries are not base64url", server=server) from exc

    def _tip_time(self, server: str, cp: note_mod.SignedCheckpoint) -> int | None:
        """Time of the Namecoin block the checkpoint commits to (header checked against its hash and PoW)."""
        c = cp.checkpoint
        if c.namecoin_height is None or c.namecoin_block_hash is None:
            return None
        _, obj = fetch_json(self.session, server_url(server, "/v1/headers"),
                            params={"start": str(c.namecoin_height), "count": "1"})
        try:
            raw = bytes.fromhex(str(obj["headers"][0]["header"]))  # type: ignore[index]
            header, auxpow = wire.parse_header(raw)
        except (KeyError, IndexError, TypeError, ValueError, ParseError) as exc:
            raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "no usable header at the checkpoint's tip", server=server) from exc
        if header.hash != c.namecoin_block_hash:
            raise VerificationError(ErrorCode.BUNDLE_HEADER_MISMATCH, "tip header does not match the checkpoint",
                                    height=c.namecoin_height)
        # the same work check as a bundle's header: PoW and a target within the network's limit
        # (else an easy self-made header would prove any "fresh" time)
        check_header_work(header, auxpow, height=c.namecoin_height, network=self.network)
        return header.time_s

    def _compare_servers(self, answers: Sequence[ServerAnswer]) -> None:
        cps = [a.checkpoint for a in answers]
        proofs: dict[tuple[int, int], tuple[bytes, ...]] = {}
        for i, j in core.split_view_pairs(cps):
            proofs[(i, j)] = self._consistency(answers[j].server, cps[i].checkpoint.size, cps[j].checkpoint.size)
        try:
            core.verify_no_split_view(cps, proofs)
        except VerificationError as exc:
            ev = exc.fields.get("evidence")
            servers = [a.server for a in answers]
            small = large = servers[0]
            if isinstance(ev, note_mod.Evidence):
                small = next((a.server for a in answers if a.checkpoint.note == ev.old_note), small)
                large = next((a.server for a in answers if a.checkpoint.note == ev.new_note), large)
            raise self._evidence_error(exc, small, large) from None

