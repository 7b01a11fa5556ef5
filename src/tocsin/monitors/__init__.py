"""Monitors: checks that watch a service from the outside and move components by rule."""
