"""Proof bundle of one address (core layer): value, canonical CBOR / JSON forms, offline verification.

DESIGN §3 "Proof bundle": signed checkpoint, leaf + inclusion proof, state-map proof and,
for Namecoin sources, the raw name transaction, its merkle branch and the block header.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from waypost.indexer import wire
from waypost.indexer.names import find_name_output
from waypost.indexer.params import Network, name_expires_at, name_is_expired, params_for
from waypost.registry import merkle
from waypost.registry.address import AddressKind, parse_address
from waypost.registry.address import address_public_key
from waypost.registry.chain import MAX_ENTRY_BYTES, ChainState, decode_canonical, encode_canonical, parse_entry, validate_chain
from waypost.registry.errors import ErrorCode, ParseError, VerificationError, WaypostError
from waypost.registry.model import BlockHash
from waypost.tlog import note as note_mod
from waypost.tlog import smt
from waypost.tlog.leaf import ChainSource, LogLeaf, NamecoinSource, address_key
from waypost.resolve.pchain import MAX_CHAIN_ENTRIES, body_hash

__all__ = [
    "BUNDLE_VERSION",
    "SpvProof",
    "ProofBundle",
    "VerifiedResolution",
    "leaf_address_for",
    "encode_bundle",
    "parse_bundle",
    "bundle_to_json",
    "bundle_from_json",
    "verify_bundle",
    "spv_to_obj",
    "spv_from_obj",
    "spv_to_json",
    "spv_from_json",
    "parse_spv",
    "verify_spv_link",
    "check_header_chain",
    "check_header_work",
]

BUNDLE_VERSION = 1
_MAX_PROOF = 64  # hashes in an inclusion/consistency proof (tree size < 2**63)
MAX_CLOCK_SKEW_S = 300  # a cosignature this far ahead of the client's clock still counts as fresh
_MAX_BRANCH = 32  # Bitcoin merkle branch: < 2**32 transactions
_ALLOWED_KEYS = frozenset({"v", "cp", "mp", "leaf", "li", "ip", "spv", "ss", "cs", "pc"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SpvProof:
    """Namecoin evidence for a leaf: the name tx (no witness), its merkle branch and block header.

    ``header`` is the full header serialisation (80 bytes, plus the AuxPoW when flagged).
    """

    height: int
    header: bytes
    tx: bytes
    tx_index: int
    branch: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if self.height < 0 or self.tx_index < 0 or len(self.header) < 80 or not self.tx:
            raise ParseError(ErrorCode.BUNDLE_BAD, "bad SPV proof")
        if len(self.branch) > _MAX_BRANCH or any(len(b) != 32 for b in self.branch):
            raise ParseError(ErrorCode.BUNDLE_BAD, "bad SPV merkle branch")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProofBundle:
    """Everything a client needs to check one address's latest state (or its absence).

    ``leaf`` is None for an absence proof. ``consistency`` (optional) proves that the
    checkpoint extends the client's earlier tree of ``since_size`` leaves. ``chain``
    (private-chain leaves) holds the encoded entries from genesis to the leaf's entry.
    """

    checkpoint: str
    leaf: bytes | None
    leaf_index: int | None
    inclusion: tuple[bytes, ...]
    map_proof: smt.MapProof
    spv: SpvProof | None = None
    since_size: int | None = None
    consistency: tuple[bytes, ...] = ()
    chain: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.chain and (self.leaf is None or self.spv is not None):
            raise ParseError(ErrorCode.BUNDLE_BAD, "chain entries belong to a private-chain leaf")
        if len(self.chain) > MAX_CHAIN_ENTRIES or any(not e or len(e) > MAX_ENTRY_BYTES for e in self.chain):
            raise ParseError(ErrorCode.BUNDLE_BAD, "bad chain entries")
        if (self.leaf is None) != (self.leaf_index is None) or (self.leaf_index is not None and self.leaf_index < 0):
            raise ParseError(ErrorCode.BUNDLE_BAD, "leaf and leaf index go together")
        if self.leaf is None and (self.inclusion or self.spv is not None):
            raise ParseError(ErrorCode.BUNDLE_BAD, "absence bundle with leaf proofs")
        for proof in (self.inclusion, self.consistency):
            if len(proof) > _MAX_PROOF or any(len(h) != 32 for h in proof):
                raise ParseError(ErrorCode.BUNDLE_BAD, "bad proof hashes")
        if (self.since_size is None) and self.consistency:
            raise ParseError(ErrorCode.BUNDLE_BAD, "consistency proof without since_size")
        if self.since_size is not None and self.since_size < 0:
            raise ParseError(ErrorCode.BUNDLE_BAD, "bad since_size")


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedResolution:
    """What ``verify_bundle`` proved.

    ``value`` is the raw Namecoin name value (checked against the leaf's ``record_hash``
    and the transaction); None for absent addresses and private-chain leaves, whose
    validated chain (key in force, body) is ``chain``.
    """

    address: str
    present: bool
    checkpoint: note_mod.SignedCheckpoint
    leaf: LogLeaf | None = None
    leaf_index: int | None = None
    value: bytes | None = None
    height: int | None = None
    block_hash: BlockHash | None = None
    chain: ChainState | None = None
    # Namecoin leaves: the name's last operation expires at this height (namecoin-core
    # CNameData::isExpired, depth at the checkpoint's tip); ``expired`` when the signed
    # checkpoint's Namecoin tip has reached it: Namecoin no longer knows the name.
    expires_at_height: int | None = None
    expired: bool = False


@functools.lru_cache(maxsize=4096)
def leaf_address_for(address: str) -> str:
    """The log address whose leaf answers ``address``.

    ``local@name.bit`` is answered by the ``d/name`` leaf, whose address is the bare
    domain ``name.bit`` (docs/spec.md §6); every other address by its own leaf.
    A pure function of its text, so memoised (address parsing is a large part of a
    client's verification time); errors are not memoised.

    Raises:
        ParseError: an invalid address (``address.*``).
    """
    if "@" not in address and address.endswith(".bit"):
        return address
    addr = parse_address(address)
    if addr.kind is AddressKind.NAMECOIN_D:
        return addr.domain
    return f"{addr.local}@{addr.domain}"


# --- encodings ------------------------------------------------------------------------------


def spv_to_obj(spv: SpvProof) -> dict[str, object]:
    """The CBOR form of an SPV proof: ``{h, hdr, tx, ti, br}`` (branch hashes concatenated)."""
    return {"h": spv.height, "hdr": spv.header, "tx": spv.tx, "ti": spv.tx_index, "br": b"".join(spv.branch)}


def spv_from_obj(raw_spv: object) -> SpvProof:
    """Inverse of ``spv_to_obj``.

    Raises:
        ParseError: ``BUNDLE_BAD``.
    """
    if not isinstance(raw_spv, dict) or set(raw_spv) != {"h", "hdr", "tx", "ti", "br"}:
        raise ParseError(ErrorCode.BUNDLE_BAD, "bad SPV member")
    return SpvProof(
        height=_int(raw_spv["h"], "height"),
        header=_bytes(raw_spv["hdr"], "header"),
        tx=_bytes(raw_spv["tx"], "tx"),
        tx_index=_int(raw_spv["ti"], "tx index"),
        branch=_split32(raw_spv["br"], "merkle branch"),
    )


def spv_to_json(spv: SpvProof) -> dict[str, object]:
    """The JSON form of an SPV proof (bytes as base64, the branch as a list)."""
    return {
        "height": spv.height,
        "header": _b64(spv.header),
        "tx": _b64(spv.tx),
        "tx_index": spv.tx_index,
        "branch": [_b64(h) for h in spv.branch],
    }


def spv_from_json(spv: object) -> SpvProof:
    """Inverse of ``spv_to_json``.

    Raises:
        ParseError: ``BUNDLE_BAD``.
    """
    if not isinstance(spv, dict):
        raise ParseError(ErrorCode.BUNDLE_BAD, "spv must be an object")
    return spv_from_obj(_spv_json_to_obj(spv))


def _spv_json_to_obj(spv: Mapping[str, object]) -> dict[str, object]:
    return {
        "h": spv.get("height"),
        "hdr": _unb64(spv.get("header"), "header"),
        "tx": _unb64(spv.get("tx"), "tx"),
        "ti": spv.get("tx_index"),
        "br": _hash_list(spv.get("branch"), "branch"),
    }


def encode_bundle(b: ProofBundle) -> bytes:
    """Canonical CBOR: ``{v, cp, mp, [leaf, li, ip], [spv], [ss, cs], [pc]}`` with concatenated hashes."""
    obj: dict[str, object] = {"v": BUNDLE_VERSION, "cp": b.checkpoint, "mp": smt.encode_map_proof(b.map_proof)}
    if b.leaf is not None:
        obj["leaf"] = b.leaf
        obj["li"] = b.leaf_index
        obj["ip"] = b"".join(b.inclusion)
    if b.spv is not None:
        obj["spv"] = spv_to_obj(b.spv)
    if b.since_size is not None:
        obj["ss"] = b.since_size
        obj["cs"] = b"".join(b.consistency)
    if b.chain:
        obj["pc"] = list(b.chain)
    return encode_canonical(obj)  # type: ignore[arg-type]


def _split32(data: object, what: str) -> tuple[bytes, ...]:
    if not isinstance(data, bytes) or len(data) % 32:
        raise ParseError(ErrorCode.BUNDLE_BAD, f"{what} must be 32-byte hashes")
    return tuple(data[i : i + 32] for i in range(0, len(data), 32))


def _int(v: object, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ParseError(ErrorCode.BUNDLE_BAD, f"{what} must be a non-negative integer")
    return v


def _bytes(v: object, what: str) -> bytes:
    if not isinstance(v, bytes):
        raise ParseError(ErrorCode.BUNDLE_BAD, f"{what} must be bytes")
    return v


def _from_obj(obj: Mapping[str, object]) -> ProofBundle:
    if not set(obj) <= _ALLOWED_KEYS or obj.get("v") != BUNDLE_VERSION:
        raise ParseError(ErrorCode.BUNDLE_BAD, "unknown bundle version or members")
    cp = obj.get("cp")
    if not isinstance(cp, str):
        raise ParseError(ErrorCode.BUNDLE_BAD, "checkpoint must be text")
    mp = smt.parse_map_proof(_bytes(obj.get("mp"), "map proof"))
    spv: SpvProof | None = None
    raw_spv = obj.get("spv")
    if raw_spv is not None:
        spv = spv_from_obj(raw_spv)
    raw_chain = obj.get("pc", [])
    if not isinstance(raw_chain, list) or not raw_chain and "pc" in obj:
        raise ParseError(ErrorCode.BUNDLE_BAD, "chain must be a non-empty array of entries")
    has_leaf = "leaf" in obj
    if has_leaf != ("li" in obj) or has_leaf != ("ip" in obj) or ("ss" in obj) != ("cs" in obj):
        raise ParseError(ErrorCode.BUNDLE_BAD, "incomplete bundle members")
    return ProofBundle(
        checkpoint=cp,
        leaf=_bytes(obj["leaf"], "leaf") if has_leaf else None,
        leaf_index=_int(obj["li"], "leaf index") if has_leaf else None,
        inclusion=_split32(obj["ip"], "inclusion proof") if has_leaf else (),
        map_proof=mp,
        spv=spv,
        since_size=_int(obj["ss"], "since size") if "ss" in obj else None,
        consistency=_split32(obj["cs"], "consistency proof") if "cs" in obj else (),
        chain=tuple(_bytes(e, "chain entry") for e in raw_chain),
    )


def parse_bundle(data: bytes) -> ProofBundle:
    """Parse the canonical CBOR form.

    Raises:
        ParseError: ``BUNDLE_BAD``, ``CBOR_BAD``/``CBOR_NON_CANONICAL``, ``MAP_BAD_PROOF``.
    """
    value = decode_canonical(data)
    if not isinstance(value, dict):
        raise ParseError(ErrorCode.BUNDLE_BAD, "bundle must be a CBOR map")
    return _from_obj({str(k): v for k, v in value.items()})


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def bundle_to_json(b: ProofBundle) -> dict[str, object]:
    """JSON rendering for the API (bytes as base64, hashes as lists of base64)."""
    out: dict[str, object] = {"version": BUNDLE_VERSION, "checkpoint": b.checkpoint}
    out["map_proof"] = _b64(smt.encode_map_proof(b.map_proof))
    if b.leaf is not None:
        out["leaf"] = _b64(b.leaf)
        out["leaf_index"] = b.leaf_index
        out["inclusion"] = [_b64(h) for h in b.inclusion]
    if b.spv is not None:
        out["spv"] = spv_to_json(b.spv)
    if b.since_size is not None:
        out["since_size"] = b.since_size
        out["consistency"] = [_b64(h) for h in b.consistency]
    if b.chain:
        out["chain"] = [_b64(e) for e in b.chain]
    return out


def _unb64(v: object, what: str) -> bytes:
    if not isinstance(v, str):
        raise ParseError(ErrorCode.BUNDLE_BAD, f"{what} must be base64 text")
    try:
        return base64.b64decode(v.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ParseError(ErrorCode.BUNDLE_BAD, f"{what} is not base64") from exc


def _hash_list(v: object, what: str) -> bytes:
    if not isinstance(v, list):
        raise ParseError(ErrorCode.BUNDLE_BAD, f"{what} must be a list")
    return b"".join(_unb64(x, what) for x in v)


def bundle_from_json(obj: object) -> ProofBundle:
    """Inverse of ``bundle_to_json``.

    Raises:
        ParseError: ``BUNDLE_BAD`` (and the codes of ``parse_bundle``).
    """
    if not isinstance(obj, dict):
        raise ParseError(ErrorCode.BUNDLE_BAD, "bundle must be a JSON object")
    conv: dict[str, object] = {"v": obj.get("version"), "cp": obj.get("checkpoint"), "mp": _unb64(obj.get("map_proof"), "map_proof")}
    if "leaf" in obj:
        conv["leaf"] = _unb64(obj["leaf"], "leaf")
        conv["li"] = obj.get("leaf_index")
        conv["ip"] = _hash_list(obj.get("inclusion"), "inclusion")
    spv = obj.get("spv")
    if spv is not None:
        if not isinstance(spv, dict):
            raise ParseError(ErrorCode.BUNDLE_BAD, "spv must be an object")
        conv["spv"] = _spv_json_to_obj(spv)
    if "since_size" in obj:
        conv["ss"] = obj["since_size"]
        conv["cs"] = _hash_list(obj.get("consistency"), "consistency")
    if "chain" in obj:
        chain = obj["chain"]
        if not isinstance(chain, list):
            raise ParseError(ErrorCode.BUNDLE_BAD, "chain must be a list")
        conv["pc"] = [_unb64(e, "chain entry") for e in chain]
    return _from_obj(conv)


# --- verification ---------------------------------------------------------------------------


def parse_spv(spv: SpvProof) -> tuple[wire.Tx, wire.BlockHeader, wire.AuxPow | None]:
    """The proof's transaction and header, parsed.

    Raises:
        VerificationError: ``BUNDLE_BAD_SPV`` when the bytes do not parse.
    """
    try:
        tx = wire.parse_tx(spv.tx)
        header, auxpow = wire.parse_header(spv.header)
    except ParseError as exc:
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, f"SPV bytes do not parse: {exc.message}") from exc
    return tx, header, auxpow


def verify_spv_link(
    spv: SpvProof,
    tx: wire.Tx,
    header: wire.BlockHeader,
    auxpow: wire.AuxPow | None,
    *,
    network: Network,
) -> BlockHash:
    """The SPV check shared by bundles and operation chains: tx -> merkle root -> header with work.

    The merkle branch leads from the txid to the header's merkle root at ``tx_index``; the
    header's target is within the network's PoW limit and its PoW (or its AuxPoW parent's)
    meets it.

    Returns:
        The block hash.

    Raises:
        VerificationError: ``BUNDLE_BAD_SPV`` (branch), ``BUNDLE_WEAK_HEADER`` (target, PoW, AuxPoW).
    """
    if wire.root_from_branch(tx.txid, spv.branch, spv.tx_index) != header.merkle_root:
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, "merkle branch does not lead to the header's merkle root")
    if spv.tx_index >> len(spv.branch):
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, "tx index does not fit the branch")
    check_header_work(header, auxpow, height=spv.height, network=network)
    return header.hash


def check_header_work(header: wire.BlockHeader, auxpow: wire.AuxPow | None, *, height: int, network: Network) -> None:
    """A header's work: target within the network's PoW limit, PoW (or AuxPoW) meeting it.

    Raises:
        VerificationError: ``BUNDLE_WEAK_HEADER``; the AuxPoW chain-ID codes.
    """
    params = params_for(network)
    # "a header without enough work": the target must be within the network's PoW limit,
    # and the header (or its AuxPoW parent) must meet it (namecoin-core CheckProofOfWork).
    try:
        target = wire.bits_to_target(header.bits)
    except ParseError as exc:
        raise VerificationError(ErrorCode.BUNDLE_WEAK_HEADER, "header has an invalid target") from exc
    if target == 0 or target > wire.bits_to_target(params.pow_limit_bits):
        raise VerificationError(ErrorCode.BUNDLE_WEAK_HEADER, "header target is easier than the network's PoW limit")
    strict = params.strict_chain_id and height >= params.legacy_blocks_before
    try:
        wire.verify_pow(header, auxpow, chain_id=params.auxpow_chain_id, strict_chain_id=strict)
    except ParseError as exc:
        raise VerificationError(ErrorCode.BUNDLE_WEAK_HEADER, f"bad header: {exc.message}") from exc


def check_header_chain(height: int, block_hash: BlockHash, header_chain: Callable[[int], BlockHash | None] | None) -> None:
    """With the client's header chain: the header at ``height`` must be the one it holds.

    Raises:
        VerificationError: ``BUNDLE_HEADER_MISMATCH``.
    """
    if header_chain is not None:
        known = header_chain(height)
        if known is not None and known != block_hash:
            raise VerificationError(ErrorCode.BUNDLE_HEADER_MISMATCH, "header is not the one at that height", height=height)


def _verify_spv(
    spv: SpvProof,
    leaf: LogLeaf,
    source: NamecoinSource,
    *,
    address: str,
    network: Network,
    checkpoint: note_mod.Checkpoint,
    header_chain: Callable[[int], BlockHash | None] | None,
) -> tuple[bytes, BlockHash]:
    tx, header, auxpow = parse_spv(spv)
    if tx.txid != source.txid:
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, "transaction does not hash to the leaf's txid")
    if spv.height != source.height:
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, "SPV height is not the leaf's height")
    try:
        found = find_name_output(tx)
    except WaypostError as exc:
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, f"bad name transaction: {exc.message}") from exc
    if found is None or found[0] != source.vout or found[1].name is None or found[1].value is None:
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, "no name output at the leaf's vout")
    op = found[1]
    assert op.name is not None and op.value is not None
    if op.name != _namecoin_name_of_leaf(leaf.address):
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, "the name output is for another name")
    if hashlib.sha256(op.value).digest() != leaf.record_hash:
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, "name value does not match the leaf's record hash")
    block_hash = verify_spv_link(spv, tx, header, auxpow, network=network)
    if checkpoint.namecoin_height is not None and spv.height > checkpoint.namecoin_height:
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, "block is above the checkpoint's Namecoin tip")
    check_header_chain(spv.height, block_hash, header_chain)
    return op.value, block_hash


def _namecoin_name_of_leaf(leaf_address: str) -> bytes:
    if "@" not in leaf_address:
        return b"d/" + leaf_address.removesuffix(".bit").encode("ascii")
    local, _, domain = leaf_address.partition("@")
    if domain == "id.bit":
        return b"id/" + local.encode("utf-8")
    raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, "Namecoin source on a non-Namecoin address")


def verify_bundle(
    bundle: ProofBundle,
    *,
    address: str,
    log_verifiers: Sequence[note_mod.Verifier],
    network: Network | str,
    now_s: int | None = None,
    min_witnesses: int = 0,
    witness_verifiers: Sequence[note_mod.Verifier] = (),
    previous: note_mod.SignedCheckpoint | None = None,
    header_chain: Callable[[int], BlockHash | None] | None = None,
    max_cosignature_age_s: int | None = None,
    chain_entries: Sequence[bytes] | None = None,
) -> VerifiedResolution:
    """Check a proof bundle offline.

    Checks: the checkpoint note's signature (a known log key) and the witness quorum; if
    ``previous`` (the client's last checkpoint of this log) is given, that the new one is
    not smaller (rollback) and extends it (``bundle.consistency`` from ``previous`` size:
    a fork is caught); the leaf's inclusion in the checkpoint's tree; the state-map proof
    against the checkpoint's map root (so the leaf is the *latest* one, or the address is
    absent); the leaf's address; for Namecoin leaves the transaction, name output, value
    hash, merkle branch, header PoW and PoW limit, and (``header_chain``) the header at
    that height; for private-chain leaves the chain entries (``bundle.chain``, or
    ``chain_entries`` fetched from ``GET /v1/chains/{address}``) validate from genesis
    under the key in the ``.key`` address and end at the leaf's entry (hash, seq, body).

    Args:
        bundle: the bundle.
        address: canonical address the client asked for.
        log_verifiers: the log's known note verifier key(s).
        network: Namecoin network of the log's source.
        now_s: wall clock; with ``max_cosignature_age_s``, cosignatures must be this fresh.
        min_witnesses: cosignatures required from ``witness_verifiers``.
        witness_verifiers: known witness keys.
        previous: the client's last verified checkpoint of this log.
        header_chain: the client's header hash at a height, None when it does not hold it.
        max_cosignature_age_s: with ``now_s``: reject when no quorum cosigned recently.
        chain_entries: encoded entries of a private chain, genesis first, when the bundle
            does not carry them.

    Returns:
        The verified resolution.

    Raises:
        VerificationError: ``NOTE_*``, ``WITNESS_QUORUM``, ``CHECKPOINT_ROLLBACK``,
            ``CHECKPOINT_INCONSISTENT`` (with evidence), ``MERKLE_*``, ``MAP_BAD_PROOF``,
            ``BUNDLE_*`` (``bundle.missing-chain``, ``bundle.bad-chain`` with the chain
            rule's code in ``cause``), ``WIRE_BAD_POW``/``AUXPOW_*``.
        ParseError: malformed parts (``BUNDLE_BAD``, ``CHECKPOINT_BAD``, ``CBOR_*``, ``address.*``).
    """
    net = Network(network)
    signed = note_mod.open_checkpoint(bundle.checkpoint, log_verifiers)
    cp = signed.checkpoint
    if min_witnesses > 0:
        note_mod.verify_cosignatures(bundle.checkpoint, witness_verifiers, min_witnesses)
        if now_s is not None and max_cosignature_age_s is not None:
            _check_cosignature_age(bundle.checkpoint, witness_verifiers, min_witnesses, now_s, max_cosignature_age_s)
    if previous is not None:
        proof = bundle.consistency if bundle.since_size == previous.checkpoint.size else ()
        note_mod.check_consistency(previous, signed, proof)
    if cp.map_root is None:
        raise VerificationError(ErrorCode.CHECKPOINT_BAD, "checkpoint does not commit to a state map")
    leaf_addr = leaf_address_for(address)
    key = bytes(address_key(leaf_addr))
    if bundle.leaf is None or bundle.leaf_index is None:
        smt.verify_map_proof(cp.map_root, key, None, bundle.map_proof)
        return VerifiedResolution(address=address, present=False, checkpoint=signed)
    leaf = LogLeaf.parse(bundle.leaf)
    if leaf.address != leaf_addr:
        raise VerificationError(ErrorCode.BUNDLE_WRONG_ADDRESS, "the leaf is for another address", expected=leaf_addr, got=leaf.address)
    lh = merkle.leaf_hash(bundle.leaf)
    merkle.verify_inclusion(lh, bundle.leaf_index, cp.size, bundle.inclusion, cp.root_hash)
    smt.verify_map_proof(cp.map_root, key, smt.map_value_hash(bundle.leaf_index, lh), bundle.map_proof)
    value: bytes | None = None
    height: int | None = None
    block_hash: BlockHash | None = None
    expires_at: int | None = None
    expired = False
    if isinstance(leaf.source, NamecoinSource):
        if bundle.spv is None:
            raise VerificationError(ErrorCode.BUNDLE_MISSING_SPV, "Namecoin leaf without SPV proof")
        value, block_hash = _verify_spv(
            bundle.spv, leaf, leaf.source, address=address, network=net, checkpoint=cp, header_chain=header_chain
        )
        height = leaf.source.height
        if cp.namecoin_height is not None:
            expires_at = name_expires_at(net, height)
            expired = name_is_expired(net, height, cp.namecoin_height)
    elif bundle.spv is not None:
        raise VerificationError(ErrorCode.BUNDLE_BAD_SPV, "SPV proof on a private-chain leaf")
    chain: ChainState | None = None
    if isinstance(leaf.source, ChainSource):
        raw = bundle.chain or tuple(chain_entries or ())
        if not raw:
            raise VerificationError(ErrorCode.BUNDLE_MISSING_CHAIN, "private-chain leaf without its chain entries")
        chain = _verify_chain(raw, leaf, leaf.source)
    elif bundle.chain:
        raise VerificationError(ErrorCode.BUNDLE_BAD_CHAIN, "chain entries on a Namecoin leaf")
    return VerifiedResolution(
        address=address,
        present=True,
        checkpoint=signed,
        leaf=leaf,
        leaf_index=bundle.leaf_index,
        value=value,
        height=height,
        block_hash=block_hash,
        chain=chain,
        expires_at_height=expires_at,
        expired=expired,
    )


def _verify_chain(raw: Sequence[bytes], leaf: LogLeaf, source: ChainSource) -> ChainState:
    """The chain binds to the address's key, and its last entry is the leaf's (spec §6.5)."""
    try:
        key = address_public_key(parse_address(leaf.address))
    except ParseError as exc:
        raise VerificationError(ErrorCode.BUNDLE_BAD_CHAIN, "leaf address does not parse") from exc
    if key is None or not leaf.address.endswith(".key"):
        raise VerificationError(ErrorCode.BUNDLE_BAD_CHAIN, "private-chain leaf on a non-.key address")
    if len(raw) != source.seq + 1:
        raise VerificationError(ErrorCode.BUNDLE_BAD_CHAIN, "chain does not end at the leaf's entry",
                                expected=source.seq + 1, got=len(raw))
    try:
        entries = [parse_entry(e) for e in raw]
        state = validate_chain(entries, address_key=key)
    except WaypostError as exc:
        raise VerificationError(ErrorCode.BUNDLE_BAD_CHAIN, f"chain does not validate: {exc.message}",
                                cause=str(exc.code)) from exc
    if state.head != source.entry_hash or state.seq != source.seq:
        raise VerificationError(ErrorCode.BUNDLE_BAD_CHAIN, "the chain's last entry is not the leaf's entry")
    if body_hash(entries[-1]) != leaf.record_hash:
        raise VerificationError(ErrorCode.BUNDLE_BAD_CHAIN, "entry body does not match the leaf's record hash")
    return state


def _check_cosignature_age(note: str, witnesses: Sequence[note_mod.Verifier], k: int, now_s: int, max_age_s: int) -> None:
    _, sigs = note_mod.split_note(note)
    known = {(v.name, v.key_id): bytes(v.public_key) for v in witnesses}
    # Fresh: not older than max_age_s and not from the future (beyond clock skew): a
    # future-dated cosignature would keep an old checkpoint "fresh" forever. Distinct
    # witnesses are distinct keys. (Signatures were verified by verify_cosignatures.)
    fresh = {
        known[(s.name, s.key_id)]
        for s in sigs
        if (s.name, s.key_id) in known and len(s.sig) == 72
        and -MAX_CLOCK_SKEW_S <= now_s - note_mod.cosignature_time_s(s) <= max_age_s
    }
    if len(fresh) < k:
        raise VerificationError(ErrorCode.WITNESS_QUORUM, "too few recent cosignatures", got=len(fresh), expected=k)


