"""Casegold follow-up: revisits and promised callbacks, served as a leased queue."""
