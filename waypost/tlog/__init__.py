"""Transparency log: RFC 9162 tree of address-state leaves, state map, signed checkpoints.

Core: ``leaf``, ``smt``, ``note``, ``tiles`` and the rule in ``witness``. Shells: ``store``
(SQLite), ``http`` (Flask blueprint), ``cli`` (``waypost witness``). See docs/log.md.
"""
