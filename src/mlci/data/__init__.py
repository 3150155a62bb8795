"""Data validation: schema inference and checks, mergeable profiles, drift (imports stay light)."""

from __future__ import annotations
