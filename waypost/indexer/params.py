"""Namecoin network parameters (core layer, pure constants; no I/O).

Values from namecoin-core ``src/kernel/chainparams.cpp`` and ``src/consensus/params.h``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from waypost.registry.model import BlockHash

__all__ = [
    "Network",
    "NetworkParams",
    "params_for",
    "name_expiration_depth",
    "name_expires_at",
    "name_is_expired",
    "historic_bug",
    "historic_bugs_at",
    "BUG_FULLY_IGNORE",
    "BUG_FULLY_APPLY",
    "BUG_IN_UTXO",
]


class Network(StrEnum):
    """The three chains namecoind knows."""

    MAINNET = "mainnet"
    TESTNET = "testnet"
    REGTEST = "regtest"


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkParams:
    """Consensus and encoding constants of one network.

    ``genesis_hash`` is in wire order (use ``wire.hash_to_hex`` to print it).
    ``legacy_blocks_before``: plain (non-AuxPoW, version 1) blocks are allowed below this
    height (``nLegacyBlocksBefore``). ``historic_bugs``: ``(height, txid display hex, kind)``
    of namecoin-core ``mapHistoricBugs``; kind is ``fully_ignore`` (name outputs not
    interpreted), ``fully_apply`` or ``in_utxo``.
    """

    network: Network
    genesis_hash: BlockHash
    auxpow_chain_id: int
    auxpow_start_height: int
    pow_limit_bits: int
    pubkey_prefix: int
    script_prefix: int
    bech32_hrp: str
    strict_chain_id: bool
    default_rpc_port: int
    coinbase_maturity: int
    greedy_name_height: int
    legacy_blocks_before: int = 0
    historic_bugs: tuple[tuple[int, str, str], ...] = ()


def _h(display_hex: str) -> BlockHash:
    return BlockHash(bytes.fromhex(display_hex)[::-1])


# namecoin-core kernel/chainparams.cpp CMainParams: addBug(height, txid, type)
_MAINNET_BUGS: tuple[tuple[int, str, str], ...] = (
    # name outputs in non-Namecoin-version txs (NAME_NEW, NAME_FIRSTUPDATE): not interpreted
    (98423, "bff3ed6873e5698b97bf0c28c29302b59588590b747787c7d1ef32decdabe0d1", "fully_ignore"),
    (98424, "e9b211007e5cac471769212ca0f47bb066b81966a8e541d44acf0f8a1bd24976", "fully_ignore"),
    (98425, "8aa2b0fc7d1033de28e0192526765a72e9df0c635f7305bdc57cb451ed01a4ca", "fully_ignore"),
    # non-Namecoin txs with just NAME_NEWs
    (98318, "0ae5e958ff05ad8e273222656d98d076097def6d36f781a627c584b859f4727b", "fully_ignore"),
    (98321, "aca8ce46da1bbb9bb8e563880efcd9d6dd18342c446d6f0e3d4b964a990d1c27", "fully_ignore"),
    (98424, "c29b0d9d478411462a8ac29946bf6fdeca358a77b4be15cd921567eb66852180", "fully_ignore"),
    (98425, "221719b360f0c83fa5b1c26fb6b67c5e74e4e7c6aa3dce55025da6759f5f7060", "fully_ignore"),
    (193518, "597370b632efb35d5ed554c634c7af44affa6066f2a87a88046532d4057b46f8", "fully_ignore"),
    (195605, "0bb8c7807a9756aefe62c271770b313b31dee73151f515b1ac2066c50eaeeb91", "fully_ignore"),
    (195639, "3181930765b970fc43cd31d53fc6fc1da9439a28257d9067c3b5912d23eab01c", "fully_ignore"),
    (195639, "e815e7d774937d96a4b265ed4866b7e3dc8d9f2acb8563402e216aba6edd1e9e", "fully_ignore"),
    (195639, "cdfe6eda068e09fe760a70bec201feb041b8c660d0e98cbc05c8aa4106eae6ab", "fully_ignore"),
    (195641, "1e29e937b2a9e1f18af500371b8714157cf5ac7c95461913e08ce402de64ae75", "fully_ignore"),
    (195648, "d44ed6c0fac251931465f9123ada8459ec954cc6c7b648a56c9326ff7b13f552", "fully_ignore"),
    (197711, "dd77aea50a189935d0ef36a04856805cd74600a53193c539eb90c1e1c0f9ecac", "fully_ignore"),
    (204151, "f31875dfaf94bd3a93cfbed0e22d405d1f2e49b4d0750cb13812adc5e57f1e47", "fully_ignore"),
    # NAME_NEW and NAME_FIRSTUPDATE as inputs ("argument concatenation" bug): apply the update
    (99381, "774d4c446cecfc40b1c02fdc5a13be6d2007233f9d91daefab6b3c2e70042f05", "fully_apply"),
    # libcoin's name stealing bugs
    (139872, "2f034f2499c136a2c5a922ca4be65c1292815c753bbb100a2a26d5ad532c3919", "in_utxo"),
    (139936, "c3e76d5384139228221cce60250397d1b87adf7366086bc8d6b5e6eee03c55c7", "fully_ignore"),
)


_PARAMS = {
    Network.MAINNET: NetworkParams(
        network=Network.MAINNET,
        genesis_hash=_h("000000000062b72c5e2ceb45fbc8587e807c155b0da735e6483dfba2f0a9c770"),
        auxpow_chain_id=0x0001,  # namecoin-core: consensus.nAuxpowChainId = 0x0001
        auxpow_start_height=19200,  # namecoin-core: consensus.nAuxpowStartHeight = 19200
        pow_limit_bits=0x1D00FFFF,  # powLimit = 00000000ffff...
        pubkey_prefix=52,  # base58Prefixes[PUBKEY_ADDRESS] = 52 ('N'/'M')
        script_prefix=13,  # base58Prefixes[SCRIPT_ADDRESS] = 13 ('6')
        bech32_hrp="nc",
        strict_chain_id=True,  # fStrictChainId = true
        default_rpc_port=8336,  # p2p 8334
        coinbase_maturity=100,
        greedy_name_height=212500,  # MinNameCoinAmount: 0.01 NMC from 212500
        legacy_blocks_before=19200,  # consensus.nLegacyBlocksBefore = 19200
        historic_bugs=_MAINNET_BUGS,
    ),
    Network.TESTNET: NetworkParams(
        network=Network.TESTNET,
        genesis_hash=_h("00000007199508e34a9ff81e6ec0c477a4cccff2a4767a8eee39c11db367b008"),
        auxpow_chain_id=0x0001,
        auxpow_start_height=0,
        pow_limit_bits=0x1D0FFFFF,  # powLimit = ~uint256(0) >> 28
        pubkey_prefix=111,
        script_prefix=196,
        bech32_hrp="tn",
        strict_chain_id=False,  # namecoin-core: testnet fStrictChainId = false
        default_rpc_port=18336,
        coinbase_maturity=100,
        greedy_name_height=0,
    ),
    Network.REGTEST: NetworkParams(
        network=Network.REGTEST,
        genesis_hash=_h("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"),
        auxpow_chain_id=0x0001,
        auxpow_start_height=0,
        pow_limit_bits=0x207FFFFF,  # powLimit = ~uint256(0) >> 1
        pubkey_prefix=111,
        script_prefix=196,
        bech32_hrp="ncrt",
        strict_chain_id=True,
        default_rpc_port=18443,
        coinbase_maturity=100,
        greedy_name_height=0,
    ),
}


def params_for(network: Network) -> NetworkParams:
    """The parameters of ``network``."""
    # a Network (or its value: StrEnum members hash and compare as their strings) is found
    # directly; only other input goes through Network(), which raises for unknown names
    found = _PARAMS.get(network)
    return found if found is not None else _PARAMS[Network(network)]


def name_expiration_depth(network: Network, height: int) -> int:
    """Blocks after its last update at which a name expires (namecoin-core ``NameExpirationDepth``).

    namecoin-core (``CMainParams::NameExpirationDepth``, now ``MainNetConsensus`` in
    ``consensus/params.h``): 12000 below height 24000, ``height - 12000`` below 48000, then
    36000 (``height - depth`` never decreases, which ``ExpireNames`` relies on). Testnet
    inherits that schedule (``CTestNetParams`` overrides only ``MinNameCoinAmount`` and
    ``LenientVersionCheck``); regtest overrides it with 30.

    The height is the one at which expiry is *evaluated* (the spending block in
    ``CheckNameTransaction``, the active tip in ``name_show``), not the name's update height.

    Args:
        network: the chain.
        height: the height at which expiry is evaluated.
    """
    if network == Network.REGTEST:
        return 30
    if height < 24_000:
        return 12_000
    if height < 48_000:
        return height - 12_000
    return 36_000


def name_is_expired(network: Network, update_height: int, at_height: int) -> bool:
    """namecoin-core ``isExpired(nPrevHeight, nHeight)``: ``prev + depth(nHeight) <= nHeight``.

    Args:
        network: the chain.
        update_height: height of the name's last operation.
        at_height: the height at which expiry is evaluated.
    """
    return update_height + name_expiration_depth(network, at_height) <= at_height


def name_expires_at(network: Network, update_height: int) -> int:
    """The first height at which a name last updated at ``update_height`` reads expired.

    The smallest ``T >= update_height`` with ``name_is_expired(network, update_height, T)``.
    Because ``T - depth(T)`` never decreases, every later height is expired too. On mainnet
    and testnet this is ``update_height + 12000`` for updates up to height 12000 (they
    expire before the ramp) and ``update_height + 36000`` after (during the ramp from 24000
    to 48000 only updates up to 12000 expire), not ``update_height + depth(update_height)``.

    Args:
        network: the chain.
        update_height: height of the name's last operation.
    """
    if network == Network.REGTEST:
        return update_height + 30
    if update_height <= 12_000:
        return update_height + 12_000
    return update_height + 36_000


BUG_FULLY_IGNORE = "fully_ignore"  # namecoin-core BUG_FULLY_IGNORE: name effects not applied
BUG_FULLY_APPLY = "fully_apply"  # BUG_FULLY_APPLY: checks skipped, the name update applied
BUG_IN_UTXO = "in_utxo"  # BUG_IN_UTXO: checks skipped, name database untouched, coin kept


def historic_bugs_at(network: Network, height: int) -> bool:
    """Whether ``mapHistoricBugs`` lists any transaction at ``height`` (a cheap pre-check)."""
    return height in _BUG_HEIGHTS.get(network, ())


def historic_bug(network: Network, height: int, txid_hex: str) -> str | None:
    """namecoin-core ``CChainParams::IsHistoricBug``: the bug kind of ``(height, txid)`` or None.

    Keyed by height *and* txid (as ``mapHistoricBugs``): the same txid at another height is
    not a bug.

    Args:
        network: the chain.
        height: the block height of the transaction.
        txid_hex: the txid in display hex.
    """
    return _BUG_INDEX.get(network, {}).get((height, txid_hex))


_BUG_INDEX: dict[Network, dict[tuple[int, str], str]] = {
    net: {(h, txid): kind for h, txid, kind in p.historic_bugs} for net, p in _PARAMS.items()
}
_BUG_HEIGHTS: dict[Network, frozenset[int]] = {net: frozenset(h for h, _ in bugs) for net, bugs in _BUG_INDEX.items()}
