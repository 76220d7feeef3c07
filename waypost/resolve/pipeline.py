"""Resolve pipeline (core layer): a name's operations -> verdicts -> log leaves and address changes.

Pure: the hook passes the name's full history (after the batch), the operations the batch
added, and the address's earlier leaves; nothing here reads a database or a clock.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from waypost.indexer.view import NameRecord
from waypost.notify.event import AddressChange, ChangeKind
from waypost.registry.address import AddressKind, parse_address
from waypost.registry.errors import ErrorCode, ParseError
from waypost.registry.keys import (
    HistoryItem,
    IdentityState,
    KeyClass,
    RecordFacts,
    Verdict,
    apply_record,
    facts_from_profile,
    validate_history,
)
from waypost.registry.model import Sha256
from waypost.registry.profile import parse_profile
from waypost.tlog.leaf import VERDICT_REORG_RESTORED, LogLeaf, NamecoinSource

__all__ = [
    "VERDICT_REORG_REMOVED",
    "AddressPlan",
    "address_of_name",
    "name_of_address",
    "record_hash",
    "history_items",
    "replay",
    "plan_address",
    "identity_of",
    "domain_names",
]

# A reorg removed the address's only operation(s): the map points at this leaf, which
# says "absent since"; its source is the disconnected operation (no SPV proof exists).
VERDICT_REORG_REMOVED = "reorg-removed"
_ZERO = Sha256(bytes(32))


def address_of_name(name: bytes) -> str | None:
    """The log address of a Namecoin name, or None when the name is not an address.

    ``id/alice`` -> ``alice@id.bit``; ``d/example`` -> the domain address ``example.bit``
    (``local@example.bit`` is answered from that value's ``waypost.names``, spec §1.4);
    other namespaces and names that are not valid addresses have no leaf.
    """
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        if text.startswith("id/"):
            addr = parse_address(text[3:] + "@id.bit")
            if addr.kind is AddressKind.NAMECOIN_ID and addr.local == text[3:] and not addr.flags:
                return f"{addr.local}@id.bit"
        elif text.startswith("d/") and "." not in text[2:]:
            addr = parse_address("x@" + text[2:] + ".bit")
            if addr.kind is AddressKind.NAMECOIN_D and addr.domain == text[2:] + ".bit":
                return addr.domain
    except ParseError:
        return None
    return None


def name_of_address(leaf_address: str) -> bytes | None:
    """Inverse of ``address_of_name`` for Namecoin-backed log addresses."""
    if "@" not in leaf_address:
        return b"d/" + leaf_address.removesuffix(".bit").encode("ascii") if leaf_address.endswith(".bit") else None
    local, _, domain = leaf_address.partition("@")
    return b"id/" + local.encode("utf-8") if domain == "id.bit" else None


def record_hash(value: bytes) -> Sha256:
    """SHA-256 of the raw name value (the leaf's ``record_hash``)."""
    return Sha256(hashlib.sha256(value).digest())


# Pure and called for every operation of every touched address on each batch (twice: plan
# and snapshot): memoised by (value, address), both immutable like the RecordFacts returned.
@functools.lru_cache(maxsize=8192)
def _facts(value: bytes, address: str) -> RecordFacts | None:
    try:
        return facts_from_profile(parse_profile(value), address=address)
    except ParseError:
        return None


def history_items(address: str, history: Sequence[NameRecord]) -> list[HistoryItem]:
    """``HistoryItem``s of a name's operations (a new indexer epoch is a new registration)."""
    items = []
    prev_epoch: int | None = None
    for rec in history:
        items.append(
            HistoryItem(
                height=rec.height,
                txid=rec.txid,
                vout=rec.vout,
                owner_script=(rec.address or "").encode("utf-8"),
                facts=_facts(rec.value, address),
                new_registration=prev_epoch is not None and rec.epoch != prev_epoch,
            )
        )
        prev_epoch = rec.epoch
    return items


def replay(address: str, history: Sequence[NameRecord]) -> list[tuple[IdentityState, Verdict]]:
    """Apply every operation in order; the state and verdict after each."""
    state = IdentityState(address=address)
    out = []
    for item in history_items(address, history):
        state, verdict = apply_record(state, item)
        out.append((state, verdict))
    return out


def identity_of(address: str, history: Sequence[NameRecord], *, tip_height: int, expiration_depth: int,
                expiring_window: int) -> tuple[IdentityState, tuple[Verdict, ...]]:
    """The address's identity state at ``tip_height`` (status: active/expiring/expired...)."""
    res = validate_history(
        history_items(address, history),
        address=address,
        tip_height=tip_height,
        expiration_depth=expiration_depth,
        expiring_window=expiring_window,
    )
    return res.state, res.verdicts


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressPlan:
    """What one batch appends for one address: leaves (in order) and notification changes."""

    address: str
    leaves: tuple[LogLeaf, ...]
    changes: tuple[AddressChange, ...]


def _op_id(rec: NameRecord) -> tuple[int, bytes, int]:
    return (rec.height, bytes(rec.txid), rec.vout)


def _leaf_op(leaf: LogLeaf) -> tuple[int, bytes, int] | None:
    s = leaf.source
    return (s.height, bytes(s.txid), s.vout) if isinstance(s, NamecoinSource) else None


def _leaf(address: str, rec: NameRecord, verdict: Verdict, seq: int, *, word: str | None = None) -> LogLeaf:
    return LogLeaf(
        address=address,
        epoch=verdict.epoch,
        seq=seq,
        record_hash=record_hash(rec.value),
        source=NamecoinSource(height=rec.height, txid=rec.txid, vout=rec.vout),
        verdict=word or verdict.status.value,
        codes=tuple(str(c) for c in verdict.codes),
    )


def _changes(address: str, rec: NameRecord, before: IdentityState | None, after: IdentityState, verdict: Verdict,
             leaf_index: int) -> list[AddressChange]:
    out: list[AddressChange] = []
    base = {"address": address, "epoch": verdict.epoch, "leaf_index": leaf_index, "height": rec.height,
            "block_hash": rec.block_hash}
    if ErrorCode.CONTINUITY_BREAK in verdict.codes:
        out.append(AddressChange(kind=ChangeKind.CONTINUITY_BROKEN, **base))  # type: ignore[arg-type]
    if not verdict.applied or before is None:
        return out
    if before.key is not None and after.key is not None and after.key != before.key and before.epoch == after.epoch:
        deadline = after.pending_recovery.deadline_height if after.pending_recovery is not None else None
        kc = verdict.key_class
        if kc is KeyClass.RECOVERY and deadline is None:
            deadline = rec.height
        out.append(AddressChange(kind=ChangeKind.ROTATED, key_class=kc, recovery_deadline_height=deadline,
                                 **base))  # type: ignore[arg-type]
    if after.redirect is not None and after.redirect != before.redirect:
        out.append(AddressChange(kind=ChangeKind.MOVED, redirect_to=after.redirect.to,
                                 redirect_reason=after.redirect.reason, **base))  # type: ignore[arg-type]
    return out


def plan_address(
    *,
    address: str,
    history: Sequence[NameRecord],
    new_ops: Sequence[NameRecord],
    prior_leaves: Sequence[LogLeaf],
    first_leaf_index: int,
) -> AddressPlan:
    """Leaves and changes one batch makes for one Namecoin-backed address.

    The log is append-only (docs/log.md): when the operation behind the address's latest
    leaf was disconnected, a ``reorg-restored`` leaf re-states the operation that is
    current again (or a ``reorg-removed`` leaf when none is left) before the leaves of the
    operations the batch connected.

    Args:
        address: the log address (``address_of_name``).
        history: every operation of the name on the chain after the batch, in order.
        new_ops: the operations the batch connected (a suffix of ``history``).
        prior_leaves: the address's earlier leaves, oldest first.
        first_leaf_index: the log size before this plan's leaves (to number the changes).

    Returns:
        The plan (possibly empty).
    """
    steps = replay(address, history)
    new_ids = {_op_id(r) for r in new_ops}
    seqs: dict[int, int] = {}
    for lf in prior_leaves:
        seqs[lf.epoch] = max(seqs.get(lf.epoch, 0), lf.seq + 1)

    def next_seq(epoch: int) -> int:
        s = seqs.get(epoch, 0)
        seqs[epoch] = s + 1
        return s

    leaves: list[LogLeaf] = []
    changes: list[AddressChange] = []
    on_chain = {_op_id(r) for r in history}
    last = prior_leaves[-1] if prior_leaves else None
    last_op = _leaf_op(last) if last is not None else None
    if last is not None and last_op is not None and last_op not in on_chain and last.verdict != VERDICT_REORG_REMOVED:
        old = [(r, sv) for r, sv in zip(history, steps, strict=True) if _op_id(r) not in new_ids]
        if old:
            rec, (_, verdict) = old[-1]
            leaves.append(_leaf(address, rec, verdict, next_seq(verdict.epoch), word=VERDICT_REORG_RESTORED))
        else:
            leaves.append(
                replace(last, seq=next_seq(last.epoch), record_hash=_ZERO, verdict=VERDICT_REORG_REMOVED, codes=())
            )
    before: IdentityState | None = None
    for rec, (state, verdict) in zip(history, steps, strict=True):
        if _op_id(rec) in new_ids:
            idx = first_leaf_index + len(leaves)
            leaves.append(_leaf(address, rec, verdict, next_seq(verdict.epoch)))
            changes.extend(_changes(address, rec, before, state, verdict, idx))
        before = state
    return AddressPlan(address=address, leaves=tuple(leaves), changes=tuple(changes))


def domain_names(value: bytes) -> dict[str, str]:
    """The ``waypost.names`` map of a ``d/`` value (spec §1.4): local part -> target address.

    Lenient: anything that is not a JSON object with that member gives ``{}``.
    """
    try:
        obj = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    wp = obj.get("waypost") if isinstance(obj, dict) else None
    names = wp.get("names") if isinstance(wp, dict) else None
    if not isinstance(names, dict):
        return {}
    return {k: v for k, v in names.items() if isinstance(k, str) and isinstance(v, str)}
