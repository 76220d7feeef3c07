"""Operation chain of a Namecoin name (core layer): SPV proofs from its registration to its latest operation.

``verify_operation_chain`` proves, offline, an unbroken chain of custody of the name's
current epoch; ``timeline_of`` turns the verified operations into the address's key timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from waypost.indexer.names import NameOpKind, find_name_output, script_address
from waypost.indexer.params import Network, name_expires_at
from waypost.indexer.view import NameRecord
from waypost.registry.chain import decode_canonical, encode_canonical
from waypost.registry.errors import ErrorCode, ParseError, VerificationError, WaypostError
from waypost.registry.keys import KeySpan
from waypost.registry.model import BlockHash, Txid
from waypost.resolve import pipeline
from waypost.resolve.bundle import (
    SpvProof,
    check_header_chain,
    parse_spv,
    spv_from_json,
    spv_from_obj,
    spv_to_json,
    spv_to_obj,
    verify_spv_link,
)

__all__ = [
    "MAX_OPERATIONS_PAGE",
    "MAX_OPERATIONS",
    "VerifiedOp",
    "OperationsPage",
    "encode_operations",
    "parse_operations",
    "operations_to_json",
    "operations_from_json",
    "verify_operation_chain",
    "records_of",
    "timeline_of",
]

MAX_OPERATIONS_PAGE = 1000  # proofs per answer of GET /v1/resolve/{address}/operations
MAX_OPERATIONS = 100_000  # operations the verifier accepts in one chain (≈ 100 MB of proofs)


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedOp:
    """One name operation proven by SPV: its transaction is in the block ``block_hash`` at ``height``."""

    height: int
    tx_index: int
    block_hash: BlockHash
    txid: Txid
    vout: int
    kind: NameOpKind
    name: bytes
    value: bytes
    address_script: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationsPage:
    """One answer of the operations endpoint: proofs ``start .. start+len(proofs)-1`` of ``total``."""

    address: str
    total: int
    start: int
    proofs: tuple[SpvProof, ...]

    def __post_init__(self) -> None:
        if self.total < 0 or self.start < 0 or self.start + len(self.proofs) > self.total:
            raise ParseError(ErrorCode.BUNDLE_BAD, "operations page does not fit its total")
        if len(self.proofs) > MAX_OPERATIONS_PAGE:
            raise ParseError(ErrorCode.BUNDLE_BAD, "operations page too long", limit=MAX_OPERATIONS_PAGE)


# --- encodings ------------------------------------------------------------------------------


def encode_operations(page: OperationsPage) -> bytes:
    """Canonical CBOR ``{address, total, start, ops: [spv...]}``; each spv as in the bundle (``{h, hdr, tx, ti, br}``)."""
    obj: dict[str, object] = {"address": page.address, "total": page.total, "start": page.start,
                              "ops": [spv_to_obj(p) for p in page.proofs]}
    return encode_canonical(obj)  # type: ignore[arg-type]


def _page(address: object, total: object, start: object, proofs: tuple[SpvProof, ...]) -> OperationsPage:
    if not isinstance(address, str):
        raise ParseError(ErrorCode.BUNDLE_BAD, "operations answer lacks its address")
    for v, what in ((total, "total"), (start, "start")):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ParseError(ErrorCode.BUNDLE_BAD, f"{what} must be a non-negative integer")
    assert isinstance(total, int) and isinstance(start, int)
    return OperationsPage(address=address, total=total, start=start, proofs=proofs)


def parse_operations(data: bytes) -> OperationsPage:
    """Inverse of ``encode_operations``.

    Raises:
        ParseError: ``BUNDLE_BAD``, ``CBOR_*``.
    """
    obj = decode_canonical(data)
    if not isinstance(obj, dict) or set(obj) != {"address", "total", "start", "ops"} or not isinstance(obj["ops"], list):
        raise ParseError(ErrorCode.BUNDLE_BAD, "operations answer must be a map {address, total, start, ops}")
    if len(obj["ops"]) > MAX_OPERATIONS_PAGE:
        raise ParseError(ErrorCode.BUNDLE_BAD, "operations page too long", limit=MAX_OPERATIONS_PAGE)
    return _page(obj["address"], obj["total"], obj["start"], tuple(spv_from_obj(o) for o in obj["ops"]))


def operations_to_json(page: OperationsPage) -> dict[str, object]:
    """JSON form: ``{address, total, start, operations: [spv JSON as in the bundle]}``."""
    return {"address": page.address, "total": page.total, "start": page.start,
            "operations": [spv_to_json(p) for p in page.proofs]}


def operations_from_json(obj: object) -> OperationsPage:
    """Inverse of ``operations_to_json``.

    Raises:
        ParseError: ``BUNDLE_BAD``.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("operations"), list):
        raise ParseError(ErrorCode.BUNDLE_BAD, "operations answer must be an object with an operations list")
    ops = obj["operations"]
    if len(ops) > MAX_OPERATIONS_PAGE:
        raise ParseError(ErrorCode.BUNDLE_BAD, "operations page too long", limit=MAX_OPERATIONS_PAGE)
    return _page(obj.get("address"), obj.get("total"), obj.get("start"), tuple(spv_from_json(o) for o in ops))


# --- verification ---------------------------------------------------------------------------


def _verify_op(proof: SpvProof, *, name: bytes, network: Network,
               header_chain: Callable[[int], BlockHash | None] | None) -> tuple[VerifiedOp, set[tuple[bytes, int]]]:
    tx, header, auxpow = parse_spv(proof)
    try:
        found = find_name_output(tx)
    except WaypostError as exc:
        raise VerificationError(ErrorCode.OPCHAIN_NOT_NAME_OP, f"bad name transaction: {exc.message}") from exc
    if found is None or found[1].kind is NameOpKind.NEW or found[1].name is None or found[1].value is None:
        raise VerificationError(ErrorCode.OPCHAIN_NOT_NAME_OP, "no name_firstupdate/name_update output",
                                height=proof.height)
    vout, op = found
    assert op.name is not None and op.value is not None
    if op.name != name:
        raise VerificationError(ErrorCode.OPCHAIN_WRONG_NAME, "an operation of another name", height=proof.height)
    # the same SPV check as a bundle's: branch to the merkle root, target within the limit, PoW/AuxPoW
    block_hash = verify_spv_link(proof, tx, header, auxpow, network=network)
    check_header_chain(proof.height, block_hash, header_chain)
    spent = {(bytes(i.prevout.txid), i.prevout.vout) for i in tx.inputs}
    verified = VerifiedOp(height=proof.height, tx_index=proof.tx_index, block_hash=block_hash, txid=tx.txid,
                          vout=vout, kind=op.kind, name=op.name, value=op.value, address_script=op.address_script)
    return verified, spent


def verify_operation_chain(
    proofs: Sequence[SpvProof],
    *,
    name: bytes,
    network: Network | str,
    header_chain: Callable[[int], BlockHash | None] | None = None,
    latest_txid: Txid | None = None,
) -> tuple[VerifiedOp, ...]:
    """Check, offline, that ``proofs`` are the name's operations from its registration on.

    Each proof passes the bundle's SPV check (the tx links by its merkle branch to a header
    whose target is within the network's PoW limit and whose PoW or AuxPoW meets it; with
    ``header_chain``, the header is the client's at that height). Heights strictly increase
    (ties ordered by tx index). The first operation is a ``name_firstupdate`` of ``name``,
    every later one a ``name_update`` of ``name`` that spends the previous operation's
    name output (namecoin-core ``CheckNameTransaction``: an update must spend the name's
    coin), so custody is unbroken back to the registration. With ``latest_txid`` (the
    operation a resolve bundle proved) the chain ends at that transaction.

    Args:
        proofs: SPV proofs, oldest first.
        name: the Namecoin name (``id/alice``).
        network: Namecoin network.
        header_chain: the client's header hash at a height, None when it does not hold it.
        latest_txid: the txid of the bundle's verified latest operation.

    Returns:
        The verified operations, oldest first.

    Raises:
        VerificationError: ``OPCHAIN_*``, ``BUNDLE_BAD_SPV``, ``BUNDLE_WEAK_HEADER``,
            ``BUNDLE_HEADER_MISMATCH``.
    """
    net = Network(network)
    if not proofs:
        raise VerificationError(ErrorCode.OPCHAIN_EMPTY, "no operations")
    if len(proofs) > MAX_OPERATIONS:
        raise VerificationError(ErrorCode.OPCHAIN_TOO_LONG, "too many operations", limit=MAX_OPERATIONS)
    for i in range(1, len(proofs)):
        # chain order first (a reordered chain is reported as such, not as the custody gap it also makes)
        if (proofs[i].height, proofs[i].tx_index) <= (proofs[i - 1].height, proofs[i - 1].tx_index):
            raise VerificationError(ErrorCode.OPCHAIN_ORDER, "operations are not in chain order", index=i)
    out: list[VerifiedOp] = []
    prev: VerifiedOp | None = None
    for i, proof in enumerate(proofs):
        op, spent = _verify_op(proof, name=name, network=net, header_chain=header_chain)
        if prev is None:
            if op.kind is not NameOpKind.FIRSTUPDATE:
                raise VerificationError(ErrorCode.OPCHAIN_NO_REGISTRATION, "the chain does not start at a name_firstupdate")
        else:
            if op.kind is not NameOpKind.UPDATE:
                raise VerificationError(ErrorCode.OPCHAIN_NOT_UPDATE, "a later operation is not a name_update", index=i)
            if (bytes(prev.txid), prev.vout) not in spent:
                raise VerificationError(ErrorCode.OPCHAIN_CUSTODY_GAP,
                                        "an update does not spend the previous operation's name output", index=i)
        out.append(op)
        prev = op
    if latest_txid is not None and out[-1].txid != latest_txid:
        raise VerificationError(ErrorCode.OPCHAIN_NOT_LATEST, "the chain does not end at the bundle's operation")
    return tuple(out)


def records_of(ops: Sequence[VerifiedOp], *, network: Network | str) -> list[NameRecord]:
    """The verified operations as one epoch's ``NameRecord``s (owner address as the indexer derives it)."""
    net = Network(network)
    return [
        NameRecord(
            name=op.name, value=op.value, txid=op.txid, vout=op.vout, height=op.height, block_hash=op.block_hash,
            tx_index=op.tx_index, op=op.kind.value, address=script_address(op.address_script, net),
            expires_at_height=name_expires_at(net, op.height),
        )
        for op in ops
    ]


def timeline_of(leaf_address: str, ops: Sequence[VerifiedOp], *, network: Network | str) -> tuple[KeySpan, ...]:
    """The address's key timeline from verified operations (the registry's history rules).

    Raises:
        VerificationError: ``OPCHAIN_EMPTY`` without operations.
    """
    if not ops:
        raise VerificationError(ErrorCode.OPCHAIN_EMPTY, "no operations")
    replayed = pipeline.replay(leaf_address, records_of(ops, network=network))
    return replayed[-1][0].timeline
