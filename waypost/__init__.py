"""Waypost: one email-like address per person, resolved provably to every protocol and key."""

__version__ = "0.1.0"
