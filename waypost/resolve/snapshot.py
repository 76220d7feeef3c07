"""Per-address resolve snapshot (core layer): the replayed identity state at the latest leaf, as canonical CBOR.

Pure: the hook computes it once per touched name per batch; ``/v1/resolve`` decodes it and
applies only the tip-dependent status (``finish_state``) instead of replaying the history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from waypost.indexer.view import NameRecord
from waypost.registry.chain import CborValue, decode_canonical, encode_canonical
from waypost.registry.errors import ErrorCode, ParseError, ValidationError
from waypost.registry.keys import (
    IdentityState,
    IdentityStatus,
    KeyClass,
    KeySpan,
    PendingRecovery,
    Verdict,
    VerdictStatus,
    apply_record,
    status_at,
)
from waypost.registry.model import PublicKey, Sha256, Txid
from waypost.registry.profile import Policy, PolicyMode, Protocol, Redirect, RedirectReason
from waypost.resolve.pipeline import history_items

__all__ = [
    "SNAPSHOT_VERSION",
    "AddressSnapshot",
    "snapshot_of",
    "finish_state",
    "encode_state",
    "decode_state",
    "encode_snapshot",
    "decode_snapshot",
]

SNAPSHOT_VERSION = 1
_MAX_NESTING = 8  # pending_recovery.prior nests states; a real history nests one or two


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressSnapshot:
    """What ``/v1/resolve`` needs of a Namecoin-backed address at its latest leaf.

    ``state`` is the identity state after the last operation, before the tip-dependent
    status (``finish_state``); it omits ``profile`` (never compared, not in answers).
    ``expiration_depth`` is the depth the replay used: a reader whose tip gives another
    depth (a mainnet fork height) replays from scratch instead.
    """

    state: IdentityState
    last_verdict: Verdict
    value: bytes
    expires_at_height: int | None
    expiration_depth: int


def snapshot_of(address: str, history: Sequence[NameRecord], *, expiration_depth: int) -> AddressSnapshot | None:
    """Replay ``history`` as ``registry.keys.validate_history`` does, without the tip status.

    Returns None for an empty history.

    Raises:
        ValidationError: ``request.bad`` when heights go backwards.
    """
    if not history:
        return None
    state = IdentityState(address=address)
    verdict: Verdict | None = None
    last_height = -1
    for item in history_items(address, history):
        if item.height < last_height:
            raise ValidationError(ErrorCode.BAD_REQUEST, "history not in height order", height=item.height)
        last_height = item.height
        state, verdict = apply_record(state, item, expiration_depth=expiration_depth)
    assert verdict is not None  # history is non-empty
    return AddressSnapshot(
        state=replace(state, profile=None),
        last_verdict=verdict,
        value=history[-1].value,
        expires_at_height=history[-1].expires_at_height,
        expiration_depth=expiration_depth,
    )


def finish_state(state: IdentityState, tip_height: int, expiration_depth: int, expiring_window: int) -> IdentityState:
    """The status at ``tip_height``: the last step of ``registry.keys.validate_history``.

    Must stay equal to ``keys._finish`` (tests compare the cached path with a full replay
    for every address of the recorded regtest chain and the simulator's reorgs).
    """
    if state.last_update_height is None:
        return state
    expiry = status_at(tip_height, state.last_update_height, expiration_depth, expiring_window)
    if expiry is IdentityStatus.EXPIRED:
        end = state.last_update_height + expiration_depth
        timeline = state.timeline
        if timeline and timeline[-1].to_height is None:
            last = timeline[-1]
            timeline = (*timeline[:-1], replace(last, to_height=max(end, last.from_height)))
        return replace(state, status=expiry, timeline=timeline)
    if state.revoked:
        return replace(state, status=IdentityStatus.REVOKED)
    if state.redirect is not None:
        return replace(state, status=IdentityStatus.REDIRECTED)
    return replace(state, status=expiry)


# --- codec ----------------------------------------------------------------------------------
#
# state: {a: address, e: epoch, k: key|null, n: next|null, r: recovery|null, c: custodian|null,
#         p: [mode, [protocol...]]|null, d: [to, reason, sig]|null, m: [moved_from...],
#         s: status, x: revoked, h: last_update_height|null, o: owner_script|null,
#         u: [used keys, sorted], t: [[from, to|null, key, epoch]...],
#         q: [height, deadline, superseded_key, prior state]|null}


def _opt_bytes(v: bytes | None) -> CborValue:
    return None if v is None else bytes(v)


def encode_state(state: IdentityState) -> dict[str, CborValue]:
    """``state`` as a CBOR map (without ``profile``)."""
    pr = state.pending_recovery
    return {
        "a": state.address,
        "e": state.epoch,
        "k": _opt_bytes(state.key),
        "n": _opt_bytes(state.next_commitment),
        "r": _opt_bytes(state.recovery_commitment),
        "c": _opt_bytes(state.custodian_key),
        "p": None if state.policy is None else [state.policy.mode.value, [p.value for p in state.policy.require]],
        "d": None if state.redirect is None else [state.redirect.to, state.redirect.reason.value, state.redirect.sig],
        "m": list(state.moved_from),
        "s": state.status.value,
        "x": state.revoked,
        "h": state.last_update_height,
        "o": _opt_bytes(state.owner_script),
        "u": sorted(bytes(k) for k in state.used_keys),
        "t": [[s.from_height, s.to_height, bytes(s.key), s.epoch] for s in state.timeline],
        "q": None if pr is None else [pr.height, pr.deadline_height, bytes(pr.superseded_key), encode_state(pr.prior)],
    }


def _bad(what: str) -> ParseError:
    return ParseError(ErrorCode.CBOR_BAD, f"bad resolve snapshot: {what}")


def _int(v: object, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise _bad(what)
    return v


def _opt_int(v: object, what: str) -> int | None:
    return None if v is None else _int(v, what)


def _b(v: object, what: str, size: int | None = None) -> bytes:
    if not isinstance(v, bytes) or (size is not None and len(v) != size):
        raise _bad(what)
    return v


def _opt_b(v: object, what: str, size: int | None = None) -> bytes | None:
    return None if v is None else _b(v, what, size)


def _list(v: object, what: str) -> list[object]:
    if not isinstance(v, list):
        raise _bad(what)
    return v


def _str(v: object, what: str) -> str:
    if not isinstance(v, str):
        raise _bad(what)
    return v


def decode_state(obj: object, _depth: int = 0) -> IdentityState:
    """Inverse of ``encode_state``.

    Raises:
        ParseError: ``cbor.bad`` for anything ``encode_state`` does not write.
    """
    if not isinstance(obj, Mapping) or _depth > _MAX_NESTING:
        raise _bad("state")
    try:
        p, d, q = obj["p"], obj["d"], obj["q"]
        policy = None
        if p is not None:
            mode, req = _list(p, "policy")
            policy = Policy(mode=PolicyMode(_str(mode, "policy")), require=tuple(Protocol(_str(x, "policy")) for x in _list(req, "policy")))
        redirect = None
        if d is not None:
            to, reason, sig = _list(d, "redirect")
            redirect = Redirect(to=_str(to, "redirect"), reason=RedirectReason(_str(reason, "redirect")), sig=_b(sig, "redirect"))
        pending = None
        if q is not None:
            h, dl, sk, prior = _list(q, "pending")
            pending = PendingRecovery(height=_int(h, "pending"), deadline_height=_int(dl, "pending"),
                                      superseded_key=PublicKey(_b(sk, "pending", 32)), prior=decode_state(prior, _depth + 1))
        timeline = []
        for span in _list(obj["t"], "timeline"):
            fh, th, k, ep = _list(span, "span")
            timeline.append(KeySpan(from_height=_int(fh, "span"), to_height=_opt_int(th, "span"),
                                    key=PublicKey(_b(k, "span", 32)), epoch=_int(ep, "span")))
        key, nxt, rec, cust, own = obj["k"], obj["n"], obj["r"], obj["c"], obj["o"]
        revoked = obj["x"]
        if not isinstance(revoked, bool) or set(obj) != set("aeknrcpdmsxhoutq"):
            raise _bad("state fields")
        return IdentityState(
            address=_str(obj["a"], "address"),
            epoch=_int(obj["e"], "epoch"),
            key=None if key is None else PublicKey(_b(key, "key", 32)),
            next_commitment=None if nxt is None else Sha256(_b(nxt, "next", 32)),
            recovery_commitment=None if rec is None else Sha256(_b(rec, "recovery", 32)),
            custodian_key=None if cust is None else PublicKey(_b(cust, "custodian", 32)),
            policy=policy,
            redirect=redirect,
            moved_from=tuple(_str(x, "moved_from") for x in _list(obj["m"], "moved_from")),
            status=IdentityStatus(_str(obj["s"], "status")),
            revoked=revoked,
            last_update_height=_opt_int(obj["h"], "height"),
            owner_script=_opt_b(own, "owner_script"),
            used_keys=frozenset(PublicKey(_b(k, "used key", 32)) for k in _list(obj["u"], "used keys")),
            timeline=tuple(timeline),
            pending_recovery=pending,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise _bad(str(exc)) from exc


def encode_snapshot(s: AddressSnapshot) -> bytes:
    """Canonical CBOR ``{v, st, vd: [height, txid, vout, epoch, status, [codes], key_class, applied], val, exp, dep}``."""
    v = s.last_verdict
    return encode_canonical({
        "v": SNAPSHOT_VERSION,
        "st": encode_state(s.state),
        "vd": [v.height, bytes(v.txid), v.vout, v.epoch, v.status.value, [str(c) for c in v.codes], v.key_class.value,
               v.applied],
        "val": s.value,
        "exp": s.expires_at_height,
        "dep": s.expiration_depth,
    })


def decode_snapshot(data: bytes) -> AddressSnapshot:
    """Inverse of ``encode_snapshot``.

    Raises:
        ParseError: ``cbor.*``.
    """
    obj = decode_canonical(data)
    if not isinstance(obj, dict) or obj.get("v") != SNAPSHOT_VERSION or set(obj) != {"v", "st", "vd", "val", "exp", "dep"}:
        raise _bad("snapshot")
    try:
        h, txid, vout, epoch, status, codes, kc, applied = _list(obj["vd"], "verdict")
        if not isinstance(applied, bool):
            raise _bad("verdict")
        verdict = Verdict(height=_int(h, "verdict"), txid=Txid(_b(txid, "verdict", 32)), vout=_int(vout, "verdict"),
                          epoch=_int(epoch, "verdict"), status=VerdictStatus(_str(status, "verdict")),
                          codes=tuple(ErrorCode(_str(c, "verdict")) for c in _list(codes, "verdict")), key_class=KeyClass(_str(kc, "verdict")),
                          applied=applied)
    except (ValueError, TypeError) as exc:
        raise _bad(str(exc)) from exc
    return AddressSnapshot(
        state=decode_state(obj["st"]),
        last_verdict=verdict,
        value=_b(obj["val"], "value"),
        expires_at_height=_opt_int(obj["exp"], "expiry"),
        expiration_depth=_int(obj["dep"], "depth"),
    )
