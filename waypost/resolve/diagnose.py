"""Diagnose an address (core layer): in plain words, why it does or does not verify.

Pure: the HTTP shell passes what the index and log hold; the owner reads the findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from waypost.registry.errors import ErrorCode, ParseError
from waypost.registry.keys import IdentityState, IdentityStatus, Verdict, VerdictStatus
from waypost.registry.profile import parse_profile

__all__ = ["Finding", "diagnose", "UI_VALUE_LIMIT"]

UI_VALUE_LIMIT = 520  # Namecoin wallets refuse to update names with larger values

_PLAIN: dict[str, str] = {
    ErrorCode.CONTINUITY_BREAK.value: "the name expired or changed hands without a handoff; this is a new identity that inherits no keys",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One observation: ``level`` is ``ok``, ``info``, ``warning`` or ``error``."""

    level: str
    code: str
    message: str


def _verdict_text(v: Verdict) -> str:
    words = ", ".join(_PLAIN.get(str(c), str(c)) for c in v.codes)
    return f"the update at height {v.height} was {v.status.value}" + (f": {words}" if words else "")


def diagnose(
    *,
    address: str,
    present: bool,
    value: bytes | None,
    state: IdentityState | None,
    verdicts: Sequence[Verdict],
    tip_height: int,
    expires_at_height: int | None,
    expiring_window: int,
    has_spv: bool,
) -> tuple[Finding, ...]:
    """Findings for ``address``, most important first.

    Args:
        address: the address asked about.
        present: the log has a leaf for it.
        value: the current raw name value (Namecoin-backed addresses).
        state: the validated identity state.
        verdicts: one verdict per name operation.
        tip_height: the indexed tip.
        expires_at_height: when the current operation expires.
        expiring_window: blocks before expiry reported as a warning.
        has_spv: the server holds SPV data for the latest leaf.
    """
    out: list[Finding] = []
    if not present:
        out.append(Finding(level="error", code="not-found",
                           message=f"{address} is not registered on the indexed chain (or not a Waypost address)"))
        return tuple(out)
    if value is not None:
        if len(value) > UI_VALUE_LIMIT:
            out.append(Finding(level="warning", code=str(ErrorCode.PROFILE_TOO_LARGE),
                               message=f"the record is {len(value)} bytes; wallets refuse updates above {UI_VALUE_LIMIT} bytes: move the profile into a signed document"))
        try:
            profile = parse_profile(value)
        except ParseError as exc:
            out.append(Finding(level="error", code=str(exc.code), message=f"the record is not a profile: {exc.message}"))
            profile = None
        if profile is not None and profile.version is None:
            out.append(Finding(level="info", code="profile.no-waypost",
                               message="the record has no Waypost part: no signing key, so changes cannot be checked beyond the chain"))
        elif profile is not None and profile.key is None:
            out.append(Finding(level="warning", code=str(ErrorCode.KEY_REVOKED), message="the record names no signing key"))
        elif profile is not None and profile.next_commitment is None:
            out.append(Finding(level="warning", code="key.no-commitment",
                               message="the record commits to no next key: a future rotation cannot be verified (pre-rotation)"))
    flagged = [v for v in verdicts if v.status is VerdictStatus.FLAGGED]
    if verdicts and verdicts[-1].status is VerdictStatus.FLAGGED:
        out.append(Finding(level="error", code=str(verdicts[-1].codes[0]) if verdicts[-1].codes else "flagged",
                           message=_verdict_text(verdicts[-1]) + "; clients keep the last accepted state"))
    elif flagged:
        out.append(Finding(level="info", code="history.flagged", message=_verdict_text(flagged[-1])))
    if state is not None:
        if state.redirect is not None:
            out.append(Finding(level="info", code="redirect",
                               message=f"the address moved to {state.redirect.to}; the move holds only when {state.redirect.to} lists this address in moved_from (redirect not confirmed otherwise)"))
        if state.status is IdentityStatus.EXPIRED:
            out.append(Finding(level="error", code="name.expired", message="the name has expired: renew or re-register it (a re-registration starts a new identity)"))
        if state.pending_recovery is not None:
            out.append(Finding(level="warning", code=str(ErrorCode.KEY_RECOVERY_PENDING),
                               message=f"a recovery rotation can be contested by the old key until height {state.pending_recovery.deadline_height}"))
    if expires_at_height is not None and tip_height >= 0:
        left = expires_at_height - tip_height
        if 0 < left <= expiring_window:
            out.append(Finding(level="warning", code="name.expiring", message=f"the name expires in {left} blocks: update it to renew"))
    if not has_spv:
        out.append(Finding(level="warning", code=str(ErrorCode.BUNDLE_MISSING_SPV),
                           message="this server holds no SPV proof for the latest record; clients cannot check it against proof of work"))
    if not any(f.level in ("error", "warning") for f in out):
        out.insert(0, Finding(level="ok", code="ok", message=f"{address} verifies: the latest record is logged, proven and accepted"))
    return tuple(out)
