"""Shared frozen values and hash NewTypes (core layer; imports only ``errors``).

Module-specific values live beside the code that builds them; only look-alike byte
types shared across packages are declared here.
"""

from __future__ import annotations

from typing import NewType

__all__ = [
    "BlockHash",
    "Txid",
    "Wtxid",
    "LeafHash",
    "PublicKey",
    "Hash160",
    "Sha256",
]

BlockHash = NewType("BlockHash", bytes)  # 32 bytes, wire (little-endian) order
Txid = NewType("Txid", bytes)  # 32 bytes, wire order
Wtxid = NewType("Wtxid", bytes)  # 32 bytes, wire order
LeafHash = NewType("LeafHash", bytes)  # RFC 9162 leaf hash, 32 bytes
PublicKey = NewType("PublicKey", bytes)  # raw ed25519 public key, 32 bytes
Hash160 = NewType("Hash160", bytes)  # RIPEMD160(SHA256(x)), 20 bytes
Sha256 = NewType("Sha256", bytes)  # 32 bytes
