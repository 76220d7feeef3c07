"""``/v1/status`` (shell): what the index holds and how it stands against the node.

It always answers (it is how a client learns that the index is stale), so it ignores
``max_age`` and ``Waypost-Require-Fresh``.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from waypost.api.app import current_context

__all__ = ["blueprint"]

blueprint = Blueprint("waypost_status", __name__)


@blueprint.get("/v1/status")
def status() -> Response:
    """Network, indexed tip, sync state, distance to the node and state root."""
    ctx = current_context()
    st = ctx.status()
    fresh = ctx.freshness(enforce=False)
    body: dict[str, object] = {
        "network": ctx.network,
        "tip_height": st.tip_height,
        "tip_hash": fresh.tip_hash_hex,
        "tip_time": st.tip_time_s,
        "sync_state": str(fresh.state),
        "stale": fresh.stale,
        "stale_reasons": [str(r) for r in fresh.reasons],
        "behind_blocks": fresh.behind_blocks,
        "node_height": st.node_height,
        "node_headers": st.node_headers,
        "node_initial_download": st.node_initial_download,
        "state_root": st.state_root.hex() if st.state_root is not None else None,
        "checked_at": st.checked_at_s,
        "schema_version": st.schema_version,
        "freshness": fresh.to_json(),
    }
    return jsonify(body)
