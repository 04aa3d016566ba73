"""Prometheus for the local stack: its configuration aimed at where the services listen."""
