"""Casegold reporting: projections of both topics, case views and pages, business metrics."""
