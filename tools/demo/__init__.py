"""`python -m tools.demo`: realistic traffic against a running local stack, then a summary."""
