"""Fixtures of the model tests."""

from __future__ import annotations

from tests.model.models import models

__all__ = ["models"]
