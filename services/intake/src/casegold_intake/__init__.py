"""Casegold intake service."""
