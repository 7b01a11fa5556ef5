"""Subscribers (and, later, the deliveries that reach them)."""
