"""Pipelines: compose the parts into the steps and loops a workflow runs."""
