"""Tocsin: a self-hosted status page and incident communication system."""
