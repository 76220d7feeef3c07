"""regtest package."""
