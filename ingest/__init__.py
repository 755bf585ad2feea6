"""Turns corpus files into chunks with metadata (title, section path, date, region, offsets)."""
