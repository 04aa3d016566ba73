"""Adapters of the reporting service: PostgreSQL."""
