"""Notification events and their planning (core layer): address changes in, events and notices out.

Pure: no SQLite, clock or randomness; the outbox passes the next sequence number and the time in.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from waypost.registry.errors import ErrorCode, ParseError, ValidationError
from waypost.registry.keys import EXPIRING_WINDOW_BLOCKS, KeyClass
from waypost.registry.model import BlockHash
from waypost.registry.profile import RedirectReason

__all__ = [
    "EVENT_ID_PREFIX",
    "EventType",
    "ChangeKind",
    "AddressChange",
    "Subscription",
    "Event",
    "Notice",
    "event_id",
    "parse_event_id",
    "plan_notices",
    "plan_retractions",
    "encode_event_json",
    "encode_webhook_payload",
]

EVENT_ID_PREFIX = "evt_"
_SEQ_DIGITS = 16  # zero-padded so ids sort like their sequence numbers


class EventType(StrEnum):
    """The event types of DESIGN §3 "Events"."""

    ADDRESS_MOVED = "address.moved"
    KEY_ROTATED = "key.rotated"
    CONTINUITY_BROKEN = "continuity.broken"
    NAME_EXPIRING = "name.expiring"
    EVENT_RETRACTED = "event.retracted"


class ChangeKind(StrEnum):
    """What happened to an address (produced by the resolver pipeline from registry verdicts)."""

    MOVED = "moved"
    ROTATED = "rotated"
    CONTINUITY_BROKEN = "continuity-broken"
    EXPIRING = "expiring"


_TYPE_OF_KIND: Mapping[ChangeKind, EventType] = {
    ChangeKind.MOVED: EventType.ADDRESS_MOVED,
    ChangeKind.ROTATED: EventType.KEY_ROTATED,
    ChangeKind.CONTINUITY_BROKEN: EventType.CONTINUITY_BROKEN,
    ChangeKind.EXPIRING: EventType.NAME_EXPIRING,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressChange:
    """One accepted change of an address, at a log position and a block.

    Attributes:
        address: canonical address text (``format_address``).
        epoch: the name's epoch (DESIGN §3 "Epoch").
        leaf_index: the log leaf that records the change (``None`` for ``EXPIRING``: no leaf).
        height: block height of the change (for ``EXPIRING``: the tip height it was seen at).
        block_hash: the block behind the change (wire order); a reorg of it retracts the event.
        kind: what happened.
        key_class: who authorised a ``ROTATED`` change (``KeyClass``).
        redirect_to: the new address of a ``MOVED`` change.
        redirect_reason: why it moved.
        recovery_deadline_height: for a recovery-key rotation, the last height at which the
            owner key can contest it (did:plc-style recovery window).
        expires_at_height: for ``EXPIRING``, the height at which the name expires.
    """

    address: str
    epoch: int
    leaf_index: int | None
    height: int
    block_hash: BlockHash
    kind: ChangeKind
    key_class: KeyClass | None = None
    redirect_to: str | None = None
    redirect_reason: RedirectReason | None = None
    recovery_deadline_height: int | None = None
    expires_at_height: int | None = None

    def __post_init__(self) -> None:
        if not self.address or self.epoch < 0 or self.height < 0 or len(self.block_hash) != 32:
            raise ValueError("AddressChange needs an address, epoch >= 0, height >= 0 and a 32-byte block hash")
        if self.leaf_index is not None and self.leaf_index < 0:
            raise ValueError("leaf_index must be >= 0")
        if self.kind is ChangeKind.MOVED and (self.redirect_to is None or self.redirect_reason is None):
            raise ValueError("a MOVED change needs redirect_to and redirect_reason")
        if self.kind is ChangeKind.ROTATED:
            if self.key_class is None:
                raise ValueError("a ROTATED change needs key_class")
            if self.key_class is KeyClass.RECOVERY and self.recovery_deadline_height is None:
                raise ValueError("a recovery rotation needs recovery_deadline_height")
        if self.kind is ChangeKind.EXPIRING and self.expires_at_height is None:
            raise ValueError("an EXPIRING change needs expires_at_height")
        if self.kind is not ChangeKind.EXPIRING and self.leaf_index is None:
            raise ValueError("only EXPIRING changes may lack a log leaf")


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """A webhook subscription: events of ``address`` go to ``url``."""

    id: str
    address: str
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A notification: a best-effort hint carrying its log position (re-check it with a proof).

    ``id`` is ``evt_`` + the zero-padded outbox sequence number: unique, stable across
    redeliveries (the stored event is sent again) and ordered like the stream.
    """

    id: str
    seq: int
    type: EventType
    address: str
    epoch: int
    leaf_index: int | None
    height: int
    block_hash: BlockHash
    created_s: int
    key_class: KeyClass | None = None
    redirect_to: str | None = None
    redirect_reason: RedirectReason | None = None
    recovery_deadline_height: int | None = None
    expires_at_height: int | None = None
    blocks_left: int | None = None
    retracts: str | None = None  # for event.retracted: the id of the retracted event

    def to_json(self) -> dict[str, object]:
        """The JSON object of the event (DESIGN §3 fields first, then the type's own).

        Returns:
            A dict of JSON scalars; ``block_hash`` in display order hex.
        """
        out: dict[str, object] = {
            "id": self.id,
            "type": str(self.type),
            "address": self.address,
            "epoch": self.epoch,
            "leaf_index": self.leaf_index,
            "height": self.height,
            "block_hash": self.block_hash[::-1].hex(),
            "created_s": self.created_s,
        }
        if self.type is EventType.ADDRESS_MOVED:
            out["redirect_to"] = self.redirect_to
            out["reason"] = None if self.redirect_reason is None else str(self.redirect_reason)
        elif self.type is EventType.KEY_ROTATED:
            out["key_class"] = None if self.key_class is None else str(self.key_class)
            out["contestable"] = self.key_class is KeyClass.RECOVERY
            out["recovery_deadline_height"] = self.recovery_deadline_height
        elif self.type is EventType.NAME_EXPIRING:
            out["expires_at_height"] = self.expires_at_height
            out["blocks_left"] = self.blocks_left
        elif self.type is EventType.EVENT_RETRACTED:
            out["retracts"] = self.retracts
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """An event and the subscriptions it goes to (possibly none: the SSE stream still carries it)."""

    event: Event
    subscription_ids: tuple[str, ...]


def event_id(seq: int) -> str:
    """The id of the event with outbox sequence number ``seq`` (>= 1)."""
    if seq < 1 or seq >= 10**_SEQ_DIGITS:
        raise ValueError(f"event sequence {seq} out of range")
    return f"{EVENT_ID_PREFIX}{seq:0{_SEQ_DIGITS}d}"


def parse_event_id(text: str) -> int:
    """The sequence number of an event id (e.g. an SSE ``Last-Event-ID``).

    Args:
        text: ``evt_`` followed by 16 digits.

    Returns:
        The sequence number (>= 1).

    Raises:
        ParseError: ``event.bad-id``.
    """
    digits = text[len(EVENT_ID_PREFIX) :]
    if not text.startswith(EVENT_ID_PREFIX) or len(digits) != _SEQ_DIGITS or not (digits.isascii() and digits.isdigit()):
        raise ParseError(ErrorCode.EVENT_BAD_ID, f"not an event id: {text[:40]!r}", got=text[:40])
    seq = int(digits)
    if seq < 1:
        raise ParseError(ErrorCode.EVENT_BAD_ID, "event ids start at evt_...0001", got=text[:40])
    return seq


def _targets(address: str, subscriptions: Sequence[Subscription]) -> tuple[str, ...]:
    return tuple(sorted(s.id for s in subscriptions if s.address == address))


def plan_notices(
    changes: Sequence[AddressChange],
    subscriptions: Sequence[Subscription],
    *,
    first_seq: int,
    created_s: int,
    expiring_window_blocks: int = EXPIRING_WINDOW_BLOCKS,
) -> tuple[Notice, ...]:
    """Turn address changes into events and pick who is told.

    Args:
        changes: in block order (the order events are numbered and streamed).
        subscriptions: the active subscriptions.
        first_seq: the outbox sequence number of the first new event.
        created_s: the time the events are created (outbox clock).
        expiring_window_blocks: ``EXPIRING`` changes further than this from expiry are dropped.

    Returns:
        One notice per event, in order, with consecutive sequence numbers. A recovery-key
        rotation is announced in the block that carries it (not after the window), so the
        owner can contest it before ``recovery_deadline_height``.

    Raises:
        ValidationError: ``event.bad-change`` when an expiring change is past its expiry.
    """
    notices: list[Notice] = []
    seq = first_seq
    for ch in changes:
        blocks_left: int | None = None
        if ch.kind is ChangeKind.EXPIRING:
            assert ch.expires_at_height is not None  # AddressChange invariant
            blocks_left = ch.expires_at_height - ch.height
            if blocks_left < 0:
                raise ValidationError(
                    ErrorCode.EVENT_BAD_CHANGE,
                    f"{ch.address} expired {-blocks_left} blocks ago; not 'expiring'",
                    height=ch.height,
                )
            if blocks_left > expiring_window_blocks:
                continue
        event = Event(
            id=event_id(seq),
            seq=seq,
            type=_TYPE_OF_KIND[ch.kind],
            address=ch.address,
            epoch=ch.epoch,
            leaf_index=ch.leaf_index,
            height=ch.height,
            block_hash=ch.block_hash,
            created_s=created_s,
            key_class=ch.key_class if ch.kind is ChangeKind.ROTATED else None,
            redirect_to=ch.redirect_to if ch.kind is ChangeKind.MOVED else None,
            redirect_reason=ch.redirect_reason if ch.kind is ChangeKind.MOVED else None,
            recovery_deadline_height=ch.recovery_deadline_height if ch.kind is ChangeKind.ROTATED else None,
            expires_at_height=ch.expires_at_height if ch.kind is ChangeKind.EXPIRING else None,
            blocks_left=blocks_left,
        )
        notices.append(Notice(event=event, subscription_ids=_targets(ch.address, subscriptions)))
        seq += 1
    return tuple(notices)


def plan_retractions(
    issued: Sequence[Event],
    disconnected: Sequence[tuple[BlockHash, int]],
    subscriptions: Sequence[Subscription],
    *,
    first_seq: int,
    created_s: int,
) -> tuple[Notice, ...]:
    """Retract the events whose block was reorged away.

    Args:
        issued: events already in the outbox (any order); retractions and events already
            retracted (named by a retraction in ``issued``) are skipped.
        disconnected: ``(block_hash, height)`` of each block removed by the reorg.
        subscriptions: the active subscriptions (a retraction goes to the address's subscribers).
        first_seq: the outbox sequence number of the first retraction.
        created_s: creation time.

    Returns:
        One ``event.retracted`` notice per retracted event, in the retracted events' order.
    """
    gone = {bytes(h): height for h, height in disconnected}
    already = {e.retracts for e in issued if e.type is EventType.EVENT_RETRACTED}
    notices: list[Notice] = []
    seq = first_seq
    for ev in sorted(issued, key=lambda e: e.seq):
        if ev.type is EventType.EVENT_RETRACTED or ev.id in already or bytes(ev.block_hash) not in gone:
            continue
        retraction = Event(
            id=event_id(seq),
            seq=seq,
            type=EventType.EVENT_RETRACTED,
            address=ev.address,
            epoch=ev.epoch,
            leaf_index=ev.leaf_index,
            height=ev.height,
            block_hash=ev.block_hash,
            created_s=created_s,
            retracts=ev.id,
        )
        notices.append(Notice(event=retraction, subscription_ids=_targets(ev.address, subscriptions)))
        seq += 1
    return tuple(notices)


def encode_event_json(event: Event) -> bytes:
    """The event as compact JSON bytes (UTF-8, the SSE ``data:`` line)."""
    return json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_webhook_payload(event: Event) -> bytes:
    """The webhook body: Standard Webhooks payload structure ``{type, timestamp, data}``.

    The bytes are computed once when the event is stored and sent unchanged on every
    attempt, so a redelivery is byte-identical (same ``webhook-id``, same body).
    """
    ts = _iso_utc(event.created_s)
    body = {"type": str(event.type), "timestamp": ts, "data": event.to_json()}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _iso_utc(time_s: int) -> str:
    # Standard Webhooks: "timestamp" is an ISO 8601 / RFC 3339 time. Pure arithmetic, no clock.
    return _dt.datetime.fromtimestamp(time_s, tz=_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
