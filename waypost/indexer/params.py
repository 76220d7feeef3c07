"""Namecoin network parameters (core layer, pure constants; no I/O).

Values from namecoin-core ``src/kernel/chainparams.cpp`` and ``src/consensus/params.h``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from waypost.registry.model import BlockHash

__all__ = ["Network", "NetworkParams", "params_for", "name_expiration_depth"]


class Network(StrEnum):
    """The three chains namecoind knows."""

    MAINNET = "mainnet"
    TESTNET = "testnet"
    REGTEST = "regtest"


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkParams:
    """Consensus and encoding constants of one network.

    ``genesis_hash`` is in wire order (use ``wire.hash_to_hex`` to print it).
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


def _h(display_hex: str) -> BlockHash:
    return BlockHash(bytes.fromhex(display_hex)[::-1])


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
        default_rpc_port=8336,
        coinbase_maturity=100,
        greedy_name_height=212500,  # MinNameCoinAmount: 0.01 NMC from 212500
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
    return _PARAMS[Network(network)]


def name_expiration_depth(network: Network, height: int) -> int:
    """Blocks after its last update at which a name expires (namecoin-core ``NameExpirationDepth``).

    Mainnet: 12000 below height 24000, then ``height - 12000`` up to 48000, then 36000
    (the schedule keeps ``height - depth`` non-decreasing). Testnet: 36000. Regtest: 30.

    Args:
        network: the chain.
        height: the height at which expiry is evaluated.
    """
    if network == Network.REGTEST:
        return 30
    if network == Network.TESTNET:
        return 36_000
    if height < 24_000:
        return 12_000
    if height < 48_000:
        return height - 12_000
    return 36_000
