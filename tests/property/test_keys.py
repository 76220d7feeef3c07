"""Property tests for the key-history state machine against a tiny reference model (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.registry.keyhelpers import ALICE, item, pk, profile, signed
from waypost.registry.errors import ErrorCode
from waypost.registry.keys import KeyClass, key_valid_at, validate_history

ACTIONS = st.lists(st.sampled_from(["update", "rotate", "uncommitted", "replay", "forged", "unsigned"]), max_size=10)


@settings(max_examples=40)
@given(ACTIONS)
def test_history_matches_reference_model(actions: list[str]) -> None:
    cur = 1
    rotations: list[int] = [1]  # heights at which each key took over
    items = [item(1, signed(profile(1, next_key=2), 1))]
    expected: list[tuple[bool, ErrorCode | None]] = [(True, None)]
    for i, act in enumerate(actions):
        h = 2 + i
        if act == "update":
            rec = signed(profile(cur, next_key=cur + 1, endpoints=None), cur)
            expected.append((True, None))
        elif act == "rotate":
            rec = signed(profile(cur + 1, next_key=cur + 2), cur + 1)
            cur += 1
            rotations.append(h)
            expected.append((True, None))
        elif act == "uncommitted":
            rec = signed(profile(200 + i, next_key=cur + 1), 200 + i)
            expected.append((False, ErrorCode.KEY_UNCOMMITTED))
        elif act == "replay" and cur > 1:
            rec = signed(profile(cur - 1, next_key=cur), cur - 1)
            expected.append((False, ErrorCode.KEY_REPLAY))
        elif act == "unsigned":
            rec = signed(profile(cur, next_key=cur + 1), None)
            expected.append((False, ErrorCode.KEY_UNSIGNED_CHANGE))
        else:  # forged (or replay with nothing to replay)
            rec = signed(profile(cur, next_key=cur + 1), 250)
            expected.append((False, ErrorCode.KEY_BAD_SIGNATURE))
        items.append(item(h, rec))
    result = validate_history(items, address=ALICE, tip_height=items[-1].height, expiration_depth=30)
    got = [(v.applied, v.codes[0] if v.codes else None) for v in result.verdicts]
    assert got == expected
    for v in result.verdicts[1:]:
        assert v.key_class is (KeyClass.OWNER if v.applied else v.key_class)
    state = result.state
    assert state.key == pk(cur) and state.epoch == 0
    # the timeline says exactly which key was in force at each height
    assert [s.key for s in state.timeline] == [pk(n) for n in range(1, cur + 1)]
    for n, start in enumerate(rotations, start=1):
        assert key_valid_at(state.timeline, pk(n), start)
        if n > 1:
            assert not key_valid_at(state.timeline, pk(n - 1), start)
