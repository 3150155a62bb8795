"""Test support: the fake GitHub, builders and vendored contract data."""
