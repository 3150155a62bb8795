"""`python -m mlci` runs the command line."""

from __future__ import annotations

from mlci.cli import main

raise SystemExit(main())
