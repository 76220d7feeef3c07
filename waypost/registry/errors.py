"""The one exception tree of Waypost (core layer; stdlib only).

    WaypostError
     ├── ParseError          malformed input (bytes, JSON, CBOR, addresses)
     ├── ValidationError     input well-formed but breaks a rule
     ├── VerificationError   signature, proof or proof-of-work mismatch
     ├── ChainError          the chain does not connect, or an undo is missing
     ├── NotFoundError       no such name / address / entry
     ├── UpstreamError       namecoind down, RPC error, garbage answer
     └── StoreError          database problems (wrong network, newer schema, corrupt)

Every error carries a stable ``code`` (an ``ErrorCode``) and structured ``fields``;
code and tests branch on ``code``, the message is for humans.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "ErrorCode",
    "WaypostError",
    "ParseError",
    "ValidationError",
    "VerificationError",
    "ChainError",
    "NotFoundError",
    "UpstreamError",
    "StoreError",
]


class ErrorCode(StrEnum):
    """Stable error identifiers (``area.what``). Listed in docs/problems.md.

    Add new codes inside your area's section; never rename a published code.
    """

    # --- generic -------------------------------------------------------------
    INTERNAL = "internal"
    BAD_REQUEST = "request.bad"
    NOT_FOUND = "not-found"
    INDEX_STALE = "index.stale"  # api: the client asked for fresh data, the index is not

    # --- api (api/) -------------------------------------------------------------
    API_BAD_HEX = "api.bad-hex"
    API_BAD_UTF8 = "api.bad-utf8"
    API_BAD_PARAM = "api.bad-param"
    API_METHOD_NOT_ALLOWED = "api.method-not-allowed"
    API_HTTP_ERROR = "api.http-error"

    # --- wire (indexer/wire.py) ---------------------------------------------
    WIRE_TRUNCATED = "wire.truncated"
    WIRE_TRAILING = "wire.trailing-bytes"
    WIRE_VARINT = "wire.bad-varint"
    WIRE_OVERSIZE = "wire.oversize"
    WIRE_BAD_TX = "wire.bad-tx"
    WIRE_MERKLE_MISMATCH = "wire.merkle-mismatch"
    WIRE_BAD_POW = "wire.bad-pow"
    WIRE_BAD_BITS = "wire.bad-bits"
    WIRE_PREV_MISMATCH = "wire.prev-mismatch"
    AUXPOW_MISSING = "auxpow.missing"
    AUXPOW_UNEXPECTED = "auxpow.unexpected"
    AUXPOW_BAD_COMMITMENT = "auxpow.bad-commitment"
    AUXPOW_BAD_BRANCH = "auxpow.bad-branch"
    AUXPOW_BAD_CHAIN_ID = "auxpow.bad-chain-id"
    AUXPOW_BAD_INDEX = "auxpow.bad-index"

    # --- name scripts (indexer/names.py) --------------------------------------
    NAME_BAD_SCRIPT = "name.bad-script"
    NAME_TOO_LONG = "name.too-long"
    VALUE_TOO_LONG = "name.value-too-long"
    NAME_BAD_RAND = "name.bad-rand"
    NAME_BAD_COMMITMENT = "name.bad-commitment"

    # --- rpc / upstream (indexer/rpc.py, zmq_feed.py) -------------------------
    RPC_CONNECT = "rpc.connect"
    RPC_TIMEOUT = "rpc.timeout"
    RPC_AUTH = "rpc.auth"
    RPC_ERROR = "rpc.error"
    RPC_WARMUP = "rpc.warming-up"
    RPC_BAD_ANSWER = "rpc.bad-answer"
    RPC_COOKIE = "rpc.cookie"
    RPC_BUSY = "rpc.busy"  # HTTP 503 "Work queue depth exceeded": retried
    ZMQ_BAD_MESSAGE = "zmq.bad-message"

    # --- chain state (indexer/state.py, follow.py) ----------------------------
    CHAIN_NO_UNDO = "chain.no-undo"
    CHAIN_DISCONNECTED = "chain.disconnected"
    CHAIN_NETWORK_MISMATCH = "chain.network-mismatch"
    CHAIN_BAD_NAME_OP = "chain.bad-name-op"
    CHAIN_BAD_UNDO = "chain.bad-undo"

    # --- store (indexer/store.py) -----------------------------------------------
    STORE_NEWER_SCHEMA = "store.newer-schema"
    STORE_NETWORK_MISMATCH = "store.network-mismatch"
    STORE_CORRUPT = "store.corrupt"
    STORE_IO = "store.io"

    # --- bech32 (registry/bech32.py) ------------------------------------------
    BECH32_BAD = "bech32.bad"

    # --- addresses (registry/address.py) -------------------------------------
    ADDRESS_EMPTY = "address.empty"
    ADDRESS_BAD_SYNTAX = "address.bad-syntax"
    ADDRESS_BAD_LABEL = "address.bad-label"
    ADDRESS_BAD_LOCAL = "address.bad-local"
    ADDRESS_TOO_LONG = "address.too-long"
    ADDRESS_LOOKALIKE = "address.lookalike"
    ADDRESS_MIXED_SCRIPT = "address.mixed-script"
    ADDRESS_BAD_KEY = "address.bad-key"
    ADDRESS_BAD_CHECKSUM = "address.bad-checksum"
    ADDRESS_BAD_ONION = "address.bad-onion"

    # --- profiles (registry/profile.py) ---------------------------------------
    PROFILE_BAD_JSON = "profile.bad-json"
    PROFILE_DUPLICATE_KEY = "profile.duplicate-key"
    PROFILE_TOO_LARGE = "profile.too-large"
    PROFILE_TOO_DEEP = "profile.too-deep"
    PROFILE_BAD_FIELD = "profile.bad-field"
    PROFILE_BAD_UTF8 = "profile.bad-utf8"
    PROFILE_DOC_MISMATCH = "profile.doc-mismatch"

    # --- keys, rotation, redirects (registry/keys.py) --------------------------
    KEY_BAD = "key.bad"
    KEY_BAD_SIGNATURE = "key.bad-signature"
    KEY_UNCOMMITTED = "key.uncommitted-rotation"
    KEY_REPLAY = "key.replayed-rotation"
    KEY_REVOKED = "key.revoked"
    REDIRECT_LOOP = "redirect.loop"
    REDIRECT_TOO_DEEP = "redirect.too-deep"
    REDIRECT_UNCONFIRMED = "redirect.unconfirmed"
    REDIRECT_BAD_SIGNATURE = "redirect.bad-signature"
    POLICY_DOWNGRADE = "policy.downgrade"
    KEY_UNSIGNED_CHANGE = "key.unsigned-change"
    KEY_COMMITMENT_CHANGED = "key.commitment-changed"
    KEY_UNAUTHORISED = "key.unauthorised"
    KEY_NOT_AT_TIME = "key.not-at-time"
    KEY_RECOVERY_PENDING = "key.recovery-pending"
    KEY_RECOVERY_CONTESTED = "key.recovery-contested"
    CONTINUITY_BREAK = "key.continuity-break"
    REDIRECT_BAD = "redirect.bad"
    PROOF_BAD = "proof.bad"
    PROOF_BAD_SIGNATURE = "proof.bad-signature"
    PROOF_MISMATCH = "proof.mismatch"
    PROOF_NOT_FOUND = "proof.not-found"

    # --- private chains (registry/chain.py) -----------------------------------
    CBOR_BAD = "cbor.bad"
    CBOR_NON_CANONICAL = "cbor.non-canonical"
    CHAIN_BAD_LINK = "pchain.bad-link"
    CHAIN_BAD_SIGNATURE = "pchain.bad-signature"
    CHAIN_DUPLICITY = "pchain.duplicity"
    CHAIN_BAD_GENESIS = "pchain.bad-genesis"
    CBOR_UNSUPPORTED = "cbor.unsupported-type"
    CHAIN_BAD_ENTRY = "pchain.bad-entry"
    CHAIN_BAD_SEQ = "pchain.bad-seq"
    CHAIN_WRONG_KEY = "pchain.wrong-key"
    CHAIN_NOT_DUPLICITY = "pchain.not-duplicity"

    # --- merkle / log (registry/merkle.py, tlog/) -------------------------------
    MERKLE_BAD_PROOF = "merkle.bad-proof"
    MERKLE_ROOT_MISMATCH = "merkle.root-mismatch"
    MERKLE_BAD_SIZE = "merkle.bad-size"
    NOTE_BAD = "note.bad"
    NOTE_BAD_SIGNATURE = "note.bad-signature"
    NOTE_UNKNOWN_KEY = "note.unknown-key"
    CHECKPOINT_BAD = "checkpoint.bad"
    CHECKPOINT_INCONSISTENT = "checkpoint.inconsistent"
    CHECKPOINT_ROLLBACK = "checkpoint.rollback"
    CHECKPOINT_SPLIT_VIEW = "checkpoint.split-view"
    WITNESS_QUORUM = "witness.quorum"
    WITNESS_CONFLICT = "witness.conflict"
    WITNESS_UNKNOWN_LOG = "witness.unknown-log"
    MAP_BAD_PROOF = "map.bad-proof"

    # --- resolve, proof bundles (resolve/) ---------------------------------------
    BUNDLE_BAD = "bundle.bad"  # malformed bundle encoding
    BUNDLE_WRONG_ADDRESS = "bundle.wrong-address"  # the leaf is another address's
    BUNDLE_BAD_SPV = "bundle.bad-spv"  # tx, name output, value hash or merkle branch do not match
    BUNDLE_WEAK_HEADER = "bundle.weak-header"  # header target easier than the network's PoW limit
    BUNDLE_HEADER_MISMATCH = "bundle.header-mismatch"  # not the header the client holds at that height
    BUNDLE_MISSING_SPV = "bundle.missing-spv"  # a Namecoin leaf without its SPV proof
    BUNDLE_MISSING_CHAIN = "bundle.missing-chain"  # a private-chain leaf without its chain entries
    BUNDLE_BAD_CHAIN = "bundle.bad-chain"  # the chain entries do not validate or do not match the leaf
    OPCHAIN_EMPTY = "opchain.empty"  # an operation chain without operations
    OPCHAIN_TOO_LONG = "opchain.too-long"  # more operations than the verifier accepts
    OPCHAIN_ORDER = "opchain.order"  # heights (then tx indexes) do not strictly increase
    OPCHAIN_NOT_NAME_OP = "opchain.not-name-op"  # a transaction without a name_firstupdate/name_update output
    OPCHAIN_WRONG_NAME = "opchain.wrong-name"  # an operation of another name
    OPCHAIN_NO_REGISTRATION = "opchain.no-registration"  # the first operation is not a name_firstupdate
    OPCHAIN_NOT_UPDATE = "opchain.not-update"  # a later operation is not a name_update
    OPCHAIN_CUSTODY_GAP = "opchain.custody-gap"  # an update does not spend the previous operation's name output
    OPCHAIN_NOT_LATEST = "opchain.not-latest"  # the chain does not end at the operation the bundle proves
    CHAINS_NOT_EXTENSION = "chains.not-extension"  # a submission rewrites the stored chain
    CHAINS_TOO_LARGE = "chains.too-large"  # a submission over the entry count or byte cap
    CHAINS_NOT_KEY_ADDRESS = "chains.not-key-address"  # /v1/chains takes only *.key addresses
    CHAINS_READ_ONLY = "chains.read-only"  # the server accepts no chain submissions (no log key)

    # --- light client (client/) --------------------------------------------------
    CLIENT_STALE = "client.stale"  # the answer is older than --max-age (or freshness cannot be shown)
    CLIENT_STATE_CORRUPT = "client.state-corrupt"  # the client's state file is unreadable
    CLIENT_HTTP = "client.http"  # a server could not be reached or answered an HTTP error
    CLIENT_BAD_ANSWER = "client.bad-answer"  # a server's answer is malformed or incomplete
    CLIENT_NO_LOG_KEY = "client.no-log-key"  # no trusted log key for a server (pass --log-key)
    CLIENT_LOG_KEY_CHANGED = "client.log-key-changed"  # the server's log key differs from the trusted one
    CLIENT_HEADER_LINK = "client.header-link"  # a header does not link to the client's header chain
    CLIENT_HEADER_WORK = "client.header-work"  # a header's proof of work (or AuxPoW) does not meet its bits
    CLIENT_HEADER_BITS = "client.header-bits"  # a header's bits do not follow the difficulty rule
    CLIENT_HEADER_ANCHOR = "client.header-anchor"  # the anchor header is not the trusted one
    CLIENT_HEADER_REORG = "client.header-reorg"  # the server's chain forked deeper than the client walks back

    # --- notifications (notify/) ------------------------------------------------
    WEBHOOK_SSRF = "webhook.ssrf"
    WEBHOOK_BAD_URL = "webhook.bad-url"
    WEBHOOK_BAD_SIGNATURE = "webhook.bad-signature"
    WEBHOOK_REPLAY = "webhook.replay"
    WEBHOOK_BAD_SECRET = "webhook.bad-secret"
    WEBHOOK_UNREACHABLE = "webhook.unreachable"  # delivery attempt failed (recorded, never raised to a client)
    EVENT_BAD_ID = "event.bad-id"
    EVENT_BAD_CHANGE = "event.bad-change"
    SUBSCRIPTION_BAD = "subscription.bad"
    SUBSCRIPTION_NOT_FOUND = "subscription.not-found"  # also for a wrong token (RFC 9110 §15.5.5)


class WaypostError(Exception):
    """Root of every error Waypost raises on purpose.

    Args:
        code: the stable identifier.
        message: human text.
        **fields: structured context (``height``, ``expected``, ``got``...).
    """

    def __init__(self, code: ErrorCode, message: str = "", **fields: Any) -> None:
        self.code = code
        self.message = message or str(code)
        self.fields: dict[str, Any] = fields
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep pickling (multiprocessing, hypothesis) working with kw-only fields.
        return (_rebuild, (type(self), self.code, self.message, self.fields))


def _rebuild(cls: type[WaypostError], code: ErrorCode, message: str, fields: dict[str, Any]) -> WaypostError:
    return cls(code, message, **fields)


class ParseError(WaypostError):
    """Malformed input: bytes, JSON, CBOR or text that does not parse."""


class ValidationError(WaypostError):
    """Well-formed input that breaks a rule."""


class VerificationError(WaypostError):
    """A signature, proof or proof-of-work does not verify."""


class ChainError(WaypostError):
    """The chain does not connect, or undo data is missing."""


class NotFoundError(WaypostError):
    """No such name, address, block or entry."""


class UpstreamError(WaypostError):
    """namecoind (or another upstream) is down, answered an error, or answered garbage."""


class StoreError(WaypostError):
    """The database cannot be used: other network, newer schema, corruption, I/O."""
