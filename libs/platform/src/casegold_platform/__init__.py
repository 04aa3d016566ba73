"""Casegold platform package."""
