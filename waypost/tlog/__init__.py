"""tlog package."""
