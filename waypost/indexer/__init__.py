"""Indexer: chain reading (wire, names: pure), name state (pure), store and follow loop (shells)."""
