"""Measures retrieval and answer quality."""
