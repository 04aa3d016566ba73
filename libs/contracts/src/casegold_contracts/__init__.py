"""Casegold contracts package."""
