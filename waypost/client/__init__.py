"""Light client: verifies proof bundles offline, keeps checkpoints and pins (shell + pure verify)."""

from __future__ import annotations

from waypost.client.core import Resolution
from waypost.client.lookup import Client
from waypost.client.state import ClientState

__all__ = ["Client", "ClientState", "Resolution"]
