"""Embeds, stores and retrieves chunks."""
