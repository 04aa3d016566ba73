"""Casegold sla package."""
