"""Casegold escalation service."""
