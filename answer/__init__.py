"""Composes cited extractive answers from retrieved passages."""
