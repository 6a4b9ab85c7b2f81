"""driftwarden's service: everything with I/O, time or state."""

__version__ = "0.1.0"
