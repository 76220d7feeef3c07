"""Resolve: name operations -> verified address states, log leaves, proof bundles, HTTP answers."""
