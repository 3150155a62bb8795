"""Tests of mlci.pipelines.retrain."""
