"""Pure planning: address changes to events, targets, expiring window, recovery rotations, retractions."""

from __future__ import annotations

import json

import pytest

from waypost.notify.event import (
    AddressChange,
    ChangeKind,
    EventType,
    Subscription,
    encode_event_json,
    encode_webhook_payload,
    event_id,
    parse_event_id,
    plan_notices,
    plan_retractions,
)
from waypost.registry.errors import ErrorCode, ParseError, ValidationError
from waypost.registry.keys import KeyClass
from waypost.registry.model import BlockHash
from waypost.registry.profile import RedirectReason

B1 = BlockHash(bytes([1]) * 32)
B2 = BlockHash(bytes([2]) * 32)
SUBS = (
    Subscription(id="sub_b", address="alice@example.bit", url="https://a.example/"),
    Subscription(id="sub_a", address="alice@example.bit", url="https://b.example/"),
    Subscription(id="sub_c", address="bob@example.bit", url="https://c.example/"),
)


def _moved(address: str = "alice@example.bit", block: BlockHash = B1, leaf: int = 7) -> AddressChange:
    return AddressChange(
        address=address, epoch=0, leaf_index=leaf, height=100, block_hash=block, kind=ChangeKind.MOVED,
        redirect_to="alice@new.bit", redirect_reason=RedirectReason.VOLUNTARY,
    )


def test_moved_event_carries_log_position_and_reason() -> None:
    (notice,) = plan_notices([_moved()], SUBS, first_seq=5, created_s=1_700_000_000)
    ev = notice.event
    assert (ev.id, ev.seq, ev.type) == ("evt_0000000000000005", 5, EventType.ADDRESS_MOVED)
    assert notice.subscription_ids == ("sub_a", "sub_b")
    body = json.loads(encode_event_json(ev))
    assert body == {
        "id": "evt_0000000000000005", "type": "address.moved", "address": "alice@example.bit", "epoch": 0,
        "leaf_index": 7, "height": 100, "block_hash": "01" * 32, "created_s": 1_700_000_000,
        "redirect_to": "alice@new.bit", "reason": "voluntary",
    }
    payload = json.loads(encode_webhook_payload(ev))
    assert payload == {"type": "address.moved", "timestamp": "2023-11-14T22:13:20Z", "data": body}


@pytest.mark.parametrize(("key_class", "contestable"), [(KeyClass.OWNER, False), (KeyClass.RECOVERY, True), (KeyClass.CUSTODIAN, False)])
def test_rotation_says_which_key_class_and_recovery_is_contestable(key_class: KeyClass, contestable: bool) -> None:
    change = AddressChange(
        address="bob@example.bit", epoch=2, leaf_index=9, height=200, block_hash=B2, kind=ChangeKind.ROTATED,
        key_class=key_class, recovery_deadline_height=632 if key_class is KeyClass.RECOVERY else None,
    )
    (notice,) = plan_notices([change], SUBS, first_seq=1, created_s=0)
    body = notice.event.to_json()
    assert body["type"] == "key.rotated" and body["key_class"] == str(key_class)
    assert body["contestable"] is contestable
    assert body["recovery_deadline_height"] == (632 if contestable else None)
    assert notice.event.height == 200  # announced in the block that carries it, not after the window
    assert notice.subscription_ids == ("sub_c",)


def test_expiring_window_and_order_and_consecutive_ids() -> None:
    def expiring(left: int) -> AddressChange:
        return AddressChange(
            address="bob@example.bit", epoch=0, leaf_index=None, height=1000, block_hash=B1,
            kind=ChangeKind.EXPIRING, expires_at_height=1000 + left,
        )

    cont = AddressChange(address="carol@example.bit", epoch=1, leaf_index=3, height=1000, block_hash=B1, kind=ChangeKind.CONTINUITY_BROKEN)
    notices = plan_notices([expiring(50), expiring(51), cont, expiring(0)], SUBS, first_seq=10, created_s=0, expiring_window_blocks=50)
    assert [(n.event.id, n.event.type) for n in notices] == [
        ("evt_0000000000000010", EventType.NAME_EXPIRING),
        ("evt_0000000000000011", EventType.CONTINUITY_BROKEN),
        ("evt_0000000000000012", EventType.NAME_EXPIRING),
    ]
    assert notices[0].event.to_json()["blocks_left"] == 50
    assert notices[1].subscription_ids == ()  # no subscriber: still an event for the stream
    with pytest.raises(ValidationError) as exc:
        plan_notices([expiring(-1)], SUBS, first_seq=1, created_s=0)
    assert exc.value.code == ErrorCode.EVENT_BAD_CHANGE


def test_retractions_refer_to_the_event_and_skip_already_retracted() -> None:
    notices = plan_notices([_moved(block=B1), _moved(block=B2, leaf=8), _moved("bob@example.bit", block=B1, leaf=9)], SUBS, first_seq=1, created_s=0)
    issued = [n.event for n in notices]
    retractions = plan_retractions(issued, [(B1, 100)], SUBS, first_seq=4, created_s=5)
    assert [(r.event.id, r.event.type, r.event.retracts) for r in retractions] == [
        ("evt_0000000000000004", EventType.EVENT_RETRACTED, "evt_0000000000000001"),
        ("evt_0000000000000005", EventType.EVENT_RETRACTED, "evt_0000000000000003"),
    ]
    assert retractions[0].subscription_ids == ("sub_a", "sub_b")
    assert retractions[1].subscription_ids == ("sub_c",)
    assert retractions[0].event.to_json()["retracts"] == "evt_0000000000000001"
    again = plan_retractions(issued + [r.event for r in retractions], [(B1, 100)], SUBS, first_seq=6, created_s=5)
    assert again == ()


def test_event_ids_round_trip_and_bad_ids() -> None:
    assert parse_event_id(event_id(42)) == 42
    for bad in ["", "evt_", "evt_42", "evt_000000000000004x", "evt_0000000000000000", "xyz_0000000000000001", "evt_٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠١"]:
        with pytest.raises(ParseError) as exc:
            parse_event_id(bad)
        assert exc.value.code == ErrorCode.EVENT_BAD_ID, bad


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": ChangeKind.MOVED},
        {"kind": ChangeKind.ROTATED},
        {"kind": ChangeKind.ROTATED, "key_class": KeyClass.RECOVERY},
        {"kind": ChangeKind.EXPIRING},
        {"kind": ChangeKind.CONTINUITY_BROKEN, "leaf_index": None},
        {"kind": ChangeKind.CONTINUITY_BROKEN, "block_hash": BlockHash(b"short")},
    ],
)
def test_change_invariants(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"address": "a@b.bit", "epoch": 0, "leaf_index": 1, "height": 1, "block_hash": B1}
    with pytest.raises(ValueError):
        AddressChange(**{**base, **kwargs})  # type: ignore[arg-type]
