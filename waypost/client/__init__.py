"""Light client: verifies proof bundles offline, keeps checkpoints and pins (shell + pure verify)."""
