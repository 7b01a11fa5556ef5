"""Tocsin: a self-hosted status page and incident communication system."""

__version__ = "0.1.0"
