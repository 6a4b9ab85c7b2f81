"""Rules -> alert state (pending, firing, resolved) -> events for receivers."""
