"""Tests of mlci.pipelines.deploy."""
