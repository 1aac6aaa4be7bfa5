"""Blueprints of the Chalice app, one per area."""
